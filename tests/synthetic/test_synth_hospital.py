"""The hospital EPR (SQLite) and the HL7 v2 archive."""

from __future__ import annotations

import re
from pathlib import Path

from synthetic import Manifest
from tests.synthetic import synth_readers as read

EPR_TABLES = {"PASIENT", "INNLEGGELSE", "DIAGNOSE", "LABSVAR", "LEGEMIDDEL", "ALLERGI"}


def _invalid(manifest: Manifest, source: str) -> set[str]:
    return {e.record_id for e in manifest.injected if e.source_system == source and e.entity != "person"}


def test_epr_tables_and_columns(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    with read.epr(out) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == EPR_TABLES
        columns = [r[1] for r in db.execute("PRAGMA table_info(PASIENT)")]
        assert columns == [
            "PAS_ID",
            "FNR",
            "ETTERNAVN",
            "FORNAVN",
            "FODT",
            "KJONN",
            "ADRESSE",
            "POSTNR",
            "POSTSTED",
            "DOD_DATO",
            "SPERRET",
            "REG_DATO",
        ]
        for table in EPR_TABLES:
            count = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            assert count == manifest.counts[f"hospital/epr.sqlite:{table}"] > 0
        names = [r[0] for r in db.execute("SELECT ETTERNAVN || FORNAVN FROM PASIENT")]
        assert sum(n == n.upper() for n in names) > 0.95 * len(names)
        assert {r[0] for r in db.execute("SELECT DISTINCT KJONN FROM PASIENT")} == {"M", "K"}
        assert {r[0] for r in db.execute("SELECT DISTINCT OMSORGSNIVA FROM INNLEGGELSE")} == {"D", "P", "DB"}


def test_epr_values_are_valid_except_planted(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    planted = _invalid(manifest, "hospital-epr")
    icd = read.icd10_codes()
    with read.epr(out) as db:
        codes = db.execute("SELECT DIAG_ID, ICD10 FROM DIAGNOSE").fetchall()
        labs = db.execute("SELECT LAB_ID, PROVE_TID, VERDI FROM LABSVAR").fetchall()
        admissions = db.execute("SELECT INN_DATO, UT_DATO FROM INNLEGGELSE").fetchall()
    bad_codes = {str(i) for i, code in codes if code.replace(".", "") not in icd}
    assert bad_codes <= planted
    assert any("." in c for _, c in codes) and any(len(c) > 3 and "." not in c for _, c in codes)
    number = re.compile(r"^<?\d+(\.\d+)?$")
    bad_values = {str(i) for i, _, v in labs if not number.match(v)}
    assert bad_values and bad_values <= planted
    assert any(v.startswith("<") for _, _, v in labs)
    for start, end in admissions:
        assert "2015-01-01" <= start <= "2025-06-30 23:59"
        assert end is None or end >= start


def test_hl7_files_parse_and_carry_pas_id(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    files = read.hl7_files(out)
    assert files and [f.name for f in files] == [f"archive_{i:03d}.hl7" for i in range(1, len(files) + 1)]
    epr_ids = set(read.epr_persons(out))
    truth = {
        r["source_person_id"]
        for r in read.read_csv(out / "truth.csv")
        if r["source_system"] == "hospital-hl7"
    }
    kinds = set()
    for number, path in enumerate(files, start=1):
        with open(path, encoding="utf-8", newline="") as handle:
            raw = handle.read()
        assert raw.endswith("\n") and "\r\n" not in raw
        messages = [m for m in raw.split("\n") if m]
        assert 0 < len(messages) <= 500
        assert number == len(files) or len(messages) == 500
        assert manifest.counts[f"hospital/hl7/{path.name}"] == len(messages)
    for message in read.hl7_messages(out):
        msh, pid = message.segment("MSH"), message.segment("PID")
        kinds.add(str(msh[9]))
        assert str(msh[12]) == "2.5" and str(msh[18]) == "UNICODE UTF-8"
        assert "20060101" <= str(msh[7])[:8] <= "20141231"
        local = pid[3][0]
        assert str(local[3]) == "STOLAV" and str(local[4]) == "PI"
        assert str(local[0]) in truth
        if len(pid[3]) > 1:
            assert str(pid[3][1][4]) == "NNNOR"
    assert kinds == {"ADT^A01^ADT_A01", "ADT^A08^ADT_A01", "ORU^R01^ORU_R01"}
    assert epr_ids & truth and truth - epr_ids


def test_hl7_segments_and_escapes(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    departments, obx_types = set(), set()
    for message in read.hl7_messages(out):
        if str(message.segment("MSH")[9]).startswith("ADT^A01"):
            pv1 = message.segment("PV1")
            departments.add(message.unescape(str(pv1[3])))
            assert str(pv1[2]) in {"I", "O"} and str(pv1[19]).isdigit()
            assert len(str(pv1[44])) == 12
            assert any(s[0][0] == "DG1" for s in message)
        if str(message.segment("MSH")[9]).startswith("ORU"):
            obr = message.segment("OBR")
            assert len(str(obr[7])) == 12
            for segment in message.segments("OBX"):
                obx_types.add(str(segment[2]))
                assert str(segment[3]).endswith("^NLK") and str(segment[11]) == "F"
    assert any("&" in d for d in departments)
    assert obx_types == {"NM", "SN"}
    text = "".join(p.read_text(encoding="utf-8") for p in read.hl7_files(out))
    assert "\\T\\" in text and "&" not in text.replace("^~\\&", "")


def test_hl7_demographic_updates_follow_life_events(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    people = {r["person_id"]: r for r in read.read_csv(out / "persons.csv")}
    person_of = {
        r["source_person_id"]: r["person_id"]
        for r in read.read_csv(out / "truth.csv")
        if r["source_system"] == "hospital-hl7"
    }
    deaths_seen = 0
    for key, snapshots in read.hl7_persons(out).items():
        person = people[person_of[key]]
        for snap in snapshots:
            if snap.extra["death"]:
                deaths_seen += 1
                assert snap.extra["death"] == person["death"].replace("-", "")
                assert snap.extra["time"][:8] >= snap.extra["death"]
    assert deaths_seen > 0


def test_ids_follow_the_record_date(region: tuple[Path, Manifest]) -> None:
    """The archive shows the number valid on the message day (D-number before the
    fødselsnummer was assigned); the EPR shows today's number."""
    out, manifest = region
    damaged = {
        (e.source_system, e.record_id)
        for e in manifest.injected
        if e.kind.startswith("id_") or e.kind == "duplicate_record"
    }
    people = {r["person_id"]: r for r in read.read_csv(out / "persons.csv")}
    person_of = {
        (r["source_system"], r["source_person_id"]): r["person_id"] for r in read.read_csv(out / "truth.csv")
    }
    old_dnumbers = 0
    for key, snapshots in read.hl7_persons(out).items():
        if ("hospital-hl7", key) in damaged:
            continue
        person = people[person_of[("hospital-hl7", key)]]
        assigned = person["fnr_assigned"].replace("-", "")
        for snap in snapshots:
            still_dnr = person["dnr"] and (not assigned or snap.extra["time"][:8] < assigned)
            assert snap.nid == (person["dnr"] if still_dnr else person["fnr"])
            old_dnumbers += bool(still_dnr and person["fnr"])
    for key, record in read.epr_persons(out).items():
        if ("hospital-epr", key) not in damaged:
            person = people[person_of[("hospital-epr", key)]]
            assert record.nid == (person["fnr"] or person["dnr"])
    assert old_dnumbers > 0, "no archive message shows a D-number later replaced"
