"""Planted errors: none at error_rate=0; every logged one is where the manifest says."""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from stdnum.no import fodselsnummer

from synthetic import InjectedError, Manifest
from synthetic.catalogue import load
from synthetic.errors import PERSON_ERRORS
from synthetic.invalid import invalid_count
from synthetic.manifest import INVALID_KINDS
from tests.synthetic import synth_readers as read

EPR_KEYS = {
    "INNLEGGELSE": "INN_ID",
    "DIAGNOSE": "DIAG_ID",
    "LABSVAR": "LAB_ID",
    "LEGEMIDDEL": "LM_ID",
    "ALLERGI": "ALLERGI_ID",
}
PLANTED_KINDS = {
    "hospital-epr": {"invalid_date", "unknown_code", "bad_number", "orphan_record"},
    "hospital-hl7": {"invalid_date", "unknown_code", "bad_number"},
    "municipal-care": {"invalid_date", "unknown_code", "bad_number", "orphan_record"},
    "gp-journal": {"invalid_date", "unknown_code"},
    "gp-messages": {"invalid_date", "unknown_code", "bad_number"},
}
G = {"g": read.GP_NS}
K = {"k": read.LAB_NS}


def _hl7_field(out: Path, entry: InjectedError) -> str:
    """OBX record ids are <OBR-3>/<OBX-3.1>/<OBX-1>, DG1 ids <MSH-10>/DG1/<DG1-1>."""
    segment_name, number = entry.location.split("-")
    owner, code, set_id = entry.record_id.split("/")
    for message in read.hl7_messages(out):
        kind = str(message.segment("MSH")[9])
        if segment_name == "OBX" and kind.startswith("ORU") and str(message.segment("OBR")[3]) == owner:
            segments = message.segments("OBX")
        elif segment_name == "DG1" and str(message.segment("MSH")[10]) == owner:
            segments = message.segments("DG1")
        else:
            continue
        for segment in segments:
            if str(segment[1]) == set_id and (code == "DG1" or str(segment[3][0][0]) == code):
                value = segment[int(number)]
                return str(value[0][0]) if segment_name == "DG1" else str(value)
    raise AssertionError(f"{entry.record_id} not found")


def _lab_key(root, item) -> str:
    """A Svarrapport result's source key, as the KITH connector writes it."""
    report = root.findtext("k:ServReport/k:ServProvId", namespaces=K)
    return f"{report}/{item.findtext('k:IdResultItem', namespaces=K)}"


def _xml_value(element, path: str, ns: dict[str, str]) -> str:
    steps, attribute = path.split("@")
    prefix = next(iter(ns))
    found = element.find("/".join(f"{prefix}:{s}" for s in steps.split("/")[1:]), ns)
    return found.get(attribute)


def _planted_value(out: Path, entry: InjectedError) -> str:
    """The value found in the source at the entry's location."""
    if entry.source_system == "hospital-epr":
        table, column = entry.location.split(".")
        with read.epr(out) as db:
            row = db.execute(
                f"SELECT {column} FROM {table} WHERE {EPR_KEYS[table]} = ?", (int(entry.record_id),)
            ).fetchone()
        return str(row[0])
    if entry.source_system == "hospital-hl7":
        return _hl7_field(out, entry)
    if entry.source_system == "municipal-care":
        name, column = entry.location.split(":")
        rows = read.municipal(out, name.removesuffix(".csv"))
        key = next(iter(rows[0]))
        return next(r[column] for r in rows if r[key] == entry.record_id)
    if entry.source_system == "gp-journal":
        element = next(e for p in read.gp_patients(out).values() for e in p if e.get("Id") == entry.record_id)
        return _xml_value(element, entry.location, G)
    for root in read.lab_messages(out).values():
        patient = root.find("k:ServReport/k:Patient", K)
        for item in patient.findall("k:ResultItem", K):
            if _lab_key(root, item) != entry.record_id:
                continue
            if entry.location.startswith("ResultItem/"):
                return _xml_value(item, entry.location, K)
            subject = item.findtext("k:RefAnalysedSubject", namespaces=K)
            for s in patient.findall("k:AnalysedSubject", K):
                if s.findtext("k:IdByServProvider", namespaces=K) == subject:
                    return s.find("k:CollectedSample/k:CollectedDate", K).get("V")
    raise AssertionError(f"{entry.record_id} not found")


def test_clean_run_plants_nothing(clean_region: tuple[Path, Manifest]) -> None:
    out, manifest = clean_region
    assert manifest.injected == []
    assert manifest.error_rate == 0


def test_clean_records_carry_true_valid_ids_and_names(clean_region: tuple[Path, Manifest]) -> None:
    out, _ = clean_region
    people = {p["person_id"]: p for p in read.read_csv(out / "persons.csv")}
    person_of = {
        (r["source_system"], r["source_person_id"]): r["person_id"] for r in read.read_csv(out / "truth.csv")
    }
    records = read.all_persons(out)
    assert set(records) == set(person_of)
    for key, record in records.items():
        person = people[person_of[key]]
        assert record.nid in {person["fnr"], person["dnr"]} and fodselsnummer.is_valid(record.nid)
        assert fodselsnummer.get_birth_date(record.nid).isoformat() == person["birth"]
        names = {person["family"].upper(), person["former_family"].upper()}
        assert record.family.upper() in names, (key, record.family, names)
        assert record.given.upper().startswith(person["given"].upper())
    per_source = Counter(
        (s, person_of[(s, k)]) for s, k in person_of if s not in ("hospital-hl7", "gp-messages")
    )
    assert max(per_source.values()) == 1, "a clean source registered someone twice"


def test_clean_values_have_no_unknown_codes(clean_region: tuple[Path, Manifest]) -> None:
    out, _ = clean_region
    icd = read.icd10_codes()
    with read.epr(out) as db:
        codes = [r[0] for r in db.execute("SELECT ICD10 FROM DIAGNOSE")]
        persons = {r[0] for r in db.execute("SELECT PAS_ID FROM PASIENT")}
        lab_owners = {r[0] for r in db.execute("SELECT PAS_ID FROM LABSVAR")}
    assert all(c.replace(".", "") in icd for c in codes)
    assert lab_owners <= persons
    icpc = read.icpc2_codes()
    for patient in read.gp_patients(out).values():
        for concept in patient.iterfind("g:Consultation/g:Diagnosis/g:Concept", G):
            assert concept.get("V") in icpc


@pytest.mark.parametrize("fixture", ["region", "noisy_region"])
def test_invalid_values_are_planted_where_the_manifest_says(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    out, manifest = request.getfixturevalue(fixture)
    planted = [e for e in manifest.injected if e.kind in INVALID_KINDS]
    counts = Counter((e.source_system, e.kind) for e in planted)
    expected = {
        (s, k): invalid_count(manifest.error_rate) for s, kinds in PLANTED_KINDS.items() for k in kinds
    }
    assert counts == expected
    for entry in planted:
        if entry.kind != "orphan_record":
            assert _planted_value(out, entry) == entry.value, entry
    assert len({(e.source_system, e.entity, e.record_id) for e in planted}) == len(planted)


def test_orphans_point_to_people_that_do_not_exist(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    orphans = [e for e in manifest.injected if e.kind == "orphan_record"]
    with read.epr(out) as db:
        patients = {str(r[0]) for r in db.execute("SELECT PAS_ID FROM PASIENT")}
        for e in (e for e in orphans if e.source_system == "hospital-epr"):
            table = e.location.split(".")[0]
            row = db.execute(
                f"SELECT PAS_ID FROM {table} WHERE {EPR_KEYS[table]} = ?", (int(e.record_id),)
            ).fetchone()
            assert str(row[0]) == e.value and e.value not in patients
    users = set(read.municipal_persons(out))
    for e in (e for e in orphans if e.source_system == "municipal-care"):
        rows = read.municipal(out, e.location.split(".")[0])
        key = next(iter(rows[0]))
        row = next(r for r in rows if r[key] == e.record_id)
        assert row["bruker_id"] == e.value and e.value not in users


def test_person_errors_show_in_the_records(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    records = read.all_persons(out)
    people = {p["person_id"]: p for p in read.read_csv(out / "persons.csv")}
    person_of = {
        (r["source_system"], r["source_person_id"]): r["person_id"] for r in read.read_csv(out / "truth.csv")
    }
    by_kind: dict[str, list[InjectedError]] = defaultdict(list)
    for e in manifest.injected:
        if e.entity == "person":
            by_kind[e.kind].append(e)
    for kind in (
        "name_typo",
        "name_swap",
        "id_missing",
        "id_mistyped",
        "name_ascii_fold",
        "name_mojibake",
        "duplicate_record",
        "address_outdated",
    ):
        assert by_kind[kind], kind
    fields = {"hospital-hl7", "gp-messages"}
    for e in by_kind["id_missing"]:
        if e.source_system not in fields:
            assert records[(e.source_system, e.record_id)].nid == ""
    for e in by_kind["id_mistyped"]:
        person = people[person_of[(e.source_system, e.record_id)]]
        assert e.value not in {person["fnr"], person["dnr"]}
    for e in by_kind["name_ascii_fold"]:
        assert not any(c in e.value for c in "æøåÆØÅ")
    for e in by_kind["name_mojibake"]:
        assert "Ã" in e.value
    for e in by_kind["id_stale_dnumber"]:
        person = people[person_of[(e.source_system, e.record_id)]]
        assert e.value == person["dnr"] and person["fnr"]
    for e in by_kind["duplicate_record"]:
        source_people = Counter(p for (s, _), p in person_of.items() if s == e.source_system)
        assert source_people[person_of[(e.source_system, e.record_id)]] >= 2
    for e in by_kind["death_missing"]:
        assert people[person_of[(e.source_system, e.record_id)]]["death"]
        assert records[(e.source_system, e.record_id)].extra["death"] == ""


def test_every_person_error_kind_occurs_at_a_high_rate(noisy_region: tuple[Path, Manifest]) -> None:
    out, manifest = noisy_region
    kinds = {e.kind for e in manifest.injected if e.entity == "person"}
    assert kinds == set(PERSON_ERRORS) | {"duplicate_record", "id_help_number"}
    records = read.all_persons(out)
    people = {p["person_id"]: p for p in read.read_csv(out / "persons.csv")}
    person_of = {
        (r["source_system"], r["source_person_id"]): r["person_id"] for r in read.read_csv(out / "truth.csv")
    }
    id_damaged = {
        (e.source_system, e.record_id) for e in manifest.injected if e.kind in ("id_missing", "id_mistyped")
    }
    for e in manifest.injected:
        if e.kind == "confidential_missing":
            assert people[person_of[(e.source_system, e.record_id)]]["confidential"] == "1"
            assert records[(e.source_system, e.record_id)].extra["confidential"] in {"0", "N"}
        if e.kind == "id_help_number" and (e.source_system, e.record_id) not in id_damaged:
            record = records[(e.source_system, e.record_id)]
            assert record.extra["id_type"] == "HNR" and int(record.nid[2:4]) > 40
            assert fodselsnummer.is_valid(record.nid)


def _is_date(text: str, pattern: str) -> bool:
    try:
        datetime.datetime.strptime(text, pattern)
    except ValueError:
        return False
    return True


def test_only_planted_values_are_invalid_in_messages(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    planted = {(e.source_system, e.record_id) for e in manifest.injected if e.kind in INVALID_KINDS}
    icd = read.icd10_codes()
    lab_codes = set(load("lab_analyses").col("code"))
    found = set()
    for message in read.hl7_messages(out):
        for obx in message.segments("OBX") if str(message.segment("MSH")[9]).startswith("ORU") else []:
            key = f"{message.segment('OBR')[3]}/{obx[3][0][0]}/{obx[1]}"
            numeric = str(obx[2]) == "SN" or re.match(r"^\d+(\.\d+)?$", str(obx[5]))
            if not (numeric and _is_date(str(obx[14]), "%Y%m%d%H%M")):
                found.add(("hospital-hl7", key))
        for dg1 in message.segments("DG1") if str(message.segment("MSH")[9]).startswith("ADT^A01") else []:
            if str(dg1[3][0][0]).replace(".", "") not in icd:
                found.add(("hospital-hl7", f"{message.segment('MSH')[10]}/DG1/{dg1[1]}"))
    for root in read.lab_messages(out).values():
        patient = root.find("k:ServReport/k:Patient", K)
        dates = {
            s.findtext("k:IdByServProvider", namespaces=K): s.find(
                "k:CollectedSample/k:CollectedDate", K
            ).get("V")
            for s in patient.findall("k:AnalysedSubject", K)
        }
        for item in patient.findall("k:ResultItem", K):
            value = item.find("k:NumResult/k:NumResultValue", K).get("V")
            ok = (
                re.match(r"^\d+(\.\d+)?$", value)
                and item.find("k:Investigation/k:Id", K).get("V") in lab_codes
                and _is_date(dates[item.findtext("k:RefAnalysedSubject", namespaces=K)], "%Y-%m-%dT%H:%M:%S")
            )
            if not ok:
                found.add(("gp-messages", _lab_key(root, item)))
    expected = {p for p in planted if p[0] in ("hospital-hl7", "gp-messages")}
    assert found == expected
