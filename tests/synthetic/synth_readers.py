"""Independent readers of the generator's output, written from the file formats (not
from the generator's internals), so that tests check what a connector would see.
The bulky readers are cached per output folder: generated folders never change."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import hl7
from lxml import etree

from tests.conftest import SHARED

GP_NS = "urn:enjournal:synthetic:gp-journal-export:1.0"
LAB_NS = "http://www.kith.no/xmlstds/labsvar/2012-02-15"


@dataclass
class PersonRecord:
    """A person record as a source shows it (names as written, dates as text)."""

    source: str
    key: str
    nid: str
    family: str
    given: str
    birth: str
    sex: str
    extra: dict[str, str] = field(default_factory=dict)


def epr(out: Path) -> sqlite3.Connection:
    """The EPR database."""
    return sqlite3.connect(out / "hospital" / "epr.sqlite")


def epr_persons(out: Path) -> dict[str, PersonRecord]:
    with epr(out) as db:
        rows = db.execute(
            "SELECT PAS_ID, FNR, ETTERNAVN, FORNAVN, FODT, KJONN, DOD_DATO, SPERRET, ADRESSE FROM PASIENT"
        ).fetchall()
    return {
        str(r[0]): PersonRecord(
            "hospital-epr",
            str(r[0]),
            r[1] or "",
            r[2],
            r[3],
            r[4],
            r[5],
            {"death": r[6] or "", "confidential": str(r[7]), "street": r[8]},
        )
        for r in rows
    }


def hl7_files(out: Path) -> list[Path]:
    return sorted((out / "hospital" / "hl7").glob("archive_*.hl7"))


@cache
def hl7_messages(out: Path) -> list[hl7.Message]:
    """Every archived message, parsed with python-hl7."""
    messages = []
    for path in hl7_files(out):
        with open(path, encoding="utf-8", newline="") as handle:
            content = handle.read()
        for text in content.split("\n"):
            if text:
                messages.append(hl7.parse(text))
    return messages


def hl7_persons(out: Path) -> dict[str, list[PersonRecord]]:
    """PID snapshots per PAS_ID (first PID-3 repetition)."""
    persons: dict[str, list[PersonRecord]] = {}
    for message in hl7_messages(out):
        pid = message.segment("PID")
        ids = pid[3]
        key = str(ids[0][0])
        nid = str(ids[1][0]) if len(ids) > 1 else ""
        name = pid[5][0]
        family, given = message.unescape(str(name[0])), message.unescape(str(name[1]))
        death = str(pid[29]) if len(pid) > 29 else ""
        persons.setdefault(key, []).append(
            PersonRecord(
                "hospital-hl7",
                key,
                nid,
                family,
                given,
                str(pid[7]),
                str(pid[8]),
                {"death": death, "type": str(ids[0][4]), "time": str(message.segment("MSH")[7])},
            )
        )
    return persons


@cache
def municipal(out: Path, name: str) -> list[dict[str, str]]:
    with open(out / "municipal" / f"{name}.csv", encoding="cp1252", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def municipal_persons(out: Path) -> dict[str, PersonRecord]:
    return {
        r["bruker_id"]: PersonRecord(
            "municipal-care",
            r["bruker_id"],
            r["fodselsnummer"],
            r["etternavn"],
            r["fornavn"],
            r["fodselsdato"],
            r["kjonn"],
            {"death": r["dodsdato"], "confidential": r["sperret_adresse"], "street": r["adresse"]},
        )
        for r in municipal(out, "brukere")
    }


@cache
def gp_patients(out: Path) -> dict[str, etree._Element]:
    """Patient elements of all practice files by LocalId."""
    patients = {}
    for path in sorted((out / "gp" / "journal").glob("*.xml")):
        root = etree.parse(str(path)).getroot()
        for patient in root.iter(f"{{{GP_NS}}}Patient"):
            patients[patient.findtext(f"{{{GP_NS}}}LocalId")] = patient
    return patients


def gp_persons(out: Path) -> dict[str, PersonRecord]:
    ns = {"g": GP_NS}
    persons = {}
    for key, p in gp_patients(out).items():
        type_id = p.find("g:Ident/g:TypeId", ns)
        death = p.find("g:DeceasedDate", ns)
        persons[key] = PersonRecord(
            "gp-journal",
            key,
            p.findtext("g:Ident/g:Id", default="", namespaces=ns),
            p.findtext("g:FamilyName", namespaces=ns),
            p.findtext("g:GivenName", namespaces=ns),
            p.find("g:DateOfBirth", ns).get("V"),
            p.find("g:Sex", ns).get("V"),
            {
                "id_type": type_id.get("V") if type_id is not None else "",
                "death": death.get("V") if death is not None else "",
                "confidential": "J" if p.find("g:ConfidentialAddress", ns) is not None else "N",
                "street": p.findtext("g:Address/g:StreetAdr", namespaces=ns),
            },
        )
    return persons


@cache
def lab_messages(out: Path) -> dict[str, etree._Element]:
    """Message roots by MsgId."""
    roots = {}
    for path in sorted((out / "gp" / "messages").glob("*.xml")):
        root = etree.parse(str(path)).getroot()
        roots[root.findtext(f"{{{LAB_NS}}}MsgId")] = root
    return roots


def lab_persons(out: Path) -> dict[str, PersonRecord]:
    ns = {"k": LAB_NS}
    persons = {}
    for key, root in lab_messages(out).items():
        patient = root.find("k:ServReport/k:Patient", ns)
        family, _, given = patient.findtext("k:Name", namespaces=ns).partition(", ")
        type_id = patient.find("k:TypeOffId", ns)
        persons[key] = PersonRecord(
            "gp-messages",
            key,
            patient.findtext("k:OffId", default="", namespaces=ns),
            family,
            given,
            "",
            "",
            {"id_type": type_id.get("V") if type_id is not None else ""},
        )
    return persons


def all_persons(out: Path) -> dict[tuple[str, str], PersonRecord]:
    """Every person record of every source by (source_system, source_person_id); for
    HL7 the latest snapshot."""
    records: dict[tuple[str, str], PersonRecord] = {}
    for reader in (epr_persons, municipal_persons, gp_persons, lab_persons):
        for key, record in reader(out).items():
            records[(record.source, key)] = record
    for key, snapshots in hl7_persons(out).items():
        records[("hospital-hl7", key)] = snapshots[-1]
    return records


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def icd10_codes() -> dict[str, str]:
    return {
        c["code"]: c["text"] for c in json.loads((SHARED / "terminology" / "icd10.json").read_text("utf-8"))
    }


def icpc2_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    text = (SHARED / "terminology" / "ICPC2_til_ICD-10_CSV_1_1_2019.txt").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("--"):
            parts = line.split(";")
            codes.setdefault(parts[0], parts[1])
    return codes
