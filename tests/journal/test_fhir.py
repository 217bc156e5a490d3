"""FHIR export: valid resources, both codings kept, stable ids, and no confidential address."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pandas as pd
from sqlalchemy import update

from journal import loader
from journal.database import open_journal
from journal.fhir import RESOURCE_TYPES, export, resource_id
from journal.schema import Person

NOW = dt.datetime(2026, 11, 23, 12, 0)


def build_journal(url: str) -> None:
    engine = open_journal(url)
    golden = pd.DataFrame(
        {
            "journal_person_id": [1, 2],
            "given_name": ["Kari Anne", "Ola"],
            "family_name": ["Berg", "Dahl"],
            "birth_date": pd.to_datetime(["1950-01-01", "1960-02-02"]),
            "sex": ["female", "male"],
            "deceased_date": pd.to_datetime(["2024-03-01", None]),
            "confidential_address": [False, True],
            "address_line": ["Storgata 1", "Hemmelig vei 2"],
            "postcode": ["7010", "7020"],
            "record_hash": ["g1", "g2"],
        }
    )
    identifiers = pd.DataFrame(
        {
            "journal_person_id": [1, 1, 2],
            "system": [
                "urn:oid:2.16.578.1.12.4.1.4.1",
                "urn:enjournal:national-id:invalid",
                "urn:enjournal:local-id:gp",
            ],
            "value": ["15108695088", "15108695077", "LK-2"],
            "kind": ["fnr", "invalid", "local"],
            "valid": [True, False, True],
        }
    )
    sources = pd.DataFrame(
        {
            "source_system": ["gp", "gp"],
            "source_person_id": ["LK-1", "LK-2"],
            "source_record_id": ["LK-1", "LK-2"],
            "source_kind": ["kith-xml"] * 2,
            "source_locator": ["a", "b"],
            "record_hash": ["h1", "h2"],
        }
    )
    links = sources[["source_system", "source_person_id", "record_hash"]].assign(
        journal_person_id=[1, 2], link_kind="single", match_weight=None
    )
    loader.load_persons(engine, golden, identifiers, links, sources, "r1")
    base = {
        "source_system": "gp",
        "source_kind": "kith-xml",
        "source_locator": "x",
        "journal_person_id": pd.array([1], dtype="Int64"),
    }
    loader.load_clinical(
        engine,
        "encounter",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["K1"],
                "record_hash": ["e1"],
                "class_code": ["AMB"],
                "start": pd.to_datetime(["2020-01-02 10:00"]),
            }
        ),
        "r1",
    )
    loader.load_clinical(
        engine,
        "condition",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["K1/1"],
                "record_hash": ["c1"],
                "code_system": ["urn:oid:2.16.578.1.12.4.1.1.7170"],
                "code": ["T90"],
                "display": ["Diabetes"],
                "mapped_code_system": ["urn:oid:2.16.578.1.12.4.1.1.7110"],
                "mapped_code": ["E119"],
                "mapped_display": ["Diabetes type 2"],
                "map_source": ["icpc2_icd10"],
                "encounter_source_record_id": ["K1"],
                "recorded_at": pd.to_datetime(["2020-01-02 10:00"]),
            }
        ),
        "r1",
    )
    loader.load_clinical(
        engine,
        "observation",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["L1"],
                "record_hash": ["o1"],
                "code_system": ["urn:oid:2.16.578.1.12.4.1.1.7280"],
                "code": ["NPU19748"],
                "value_num": [12.5],
                "unit": ["mg/L"],
                "ref_high": [5.0],
                "ref_text": ["< 5"],
                "effective_at": pd.to_datetime(["2020-01-02 08:00"]),
            }
        ),
        "r1",
    )
    loader.load_clinical(
        engine,
        "allergy",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["A1"],
                "record_hash": ["a1"],
                "code_system": ["urn:oid:2.16.578.1.12.4.1.1.7180"],
                "code": ["J01CE02"],
                "reaction": ["Utslett"],
            }
        ),
        "r1",
    )
    loader.load_clinical(
        engine,
        "medication",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["R1"],
                "record_hash": ["m1"],
                "code_system": ["urn:oid:2.16.578.1.12.4.1.1.7180"],
                "code": ["A10BA02"],
                "dosage_text": ["1x2"],
                "start": pd.to_datetime(["2020-01-02"]),
            }
        ),
        "r1",
    )
    loader.load_clinical(
        engine,
        "document",
        pd.DataFrame(
            {
                **base,
                "source_record_id": ["K1/note"],
                "record_hash": ["d1"],
                "title": ["Notat"],
                "content_type": ["text/plain"],
                "content": ["Kontroll, æøå."],
                "encounter_source_record_id": ["K1"],
            }
        ),
        "r1",
    )


def read(out: Path, kind: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"{kind}.ndjson").read_text().splitlines()]


def test_export_projects_the_journal_onto_valid_fhir(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    build_journal(url)
    counts = export(open_journal(url), tmp_path / "out", exported_at=NOW)
    assert counts == {
        "Patient": 2,
        "Encounter": 1,
        "Condition": 1,
        "Observation": 1,
        "MedicationStatement": 1,
        "AllergyIntolerance": 1,
        "DocumentReference": 1,
        "Provenance": 6,
    }
    out = tmp_path / "out"
    patients = {p["id"]: p for p in read(out, "Patient")}
    kari, ola = patients["1"], patients["2"]
    assert kari["identifier"] == [
        {"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "15108695088"}
    ]
    assert (
        kari["name"] == [{"family": "Berg", "given": ["Kari", "Anne"]}]
        and kari["deceasedDateTime"] == "2024-03-01"
    )
    assert kari["address"][0]["line"] == ["Storgata 1"]
    assert "address" not in ola and ola["meta"]["security"][0]["code"] == "R"
    assert "Hemmelig" not in (out / "Patient.ndjson").read_text()
    [condition] = read(out, "Condition")
    assert [c["code"] for c in condition["code"]["coding"]] == ["T90", "E119"]
    assert condition["encounter"]["reference"] == f"Encounter/{resource_id('Encounter', 'gp', 'K1')}"
    assert condition["subject"] == {"reference": "Patient/1"}
    [observation] = read(out, "Observation")
    assert observation["valueQuantity"] == {"value": 12.5, "unit": "mg/L"}
    assert observation["effectiveDateTime"] == "2020-01-02T08:00:00+01:00"
    [document] = read(out, "DocumentReference")
    attachment = document["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]).decode() == "Kontroll, æøå."
    targets = {p["target"][0]["reference"] for p in read(out, "Provenance")}
    assert f"Condition/{condition['id']}" in targets and len(targets) == 6


def test_ids_are_stable_across_journals_and_runs(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        build_journal(url)
        export(open_journal(url), tmp_path / name, exported_at=NOW)
        ids.append({kind: [r["id"] for r in read(tmp_path / name, kind)] for kind in RESOURCE_TYPES})
    assert ids[0] == ids[1]


def test_a_merged_person_is_an_inactive_patient_replaced_by_the_survivor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    build_journal(url)
    engine = open_journal(url)
    with engine.begin() as connection:
        connection.execute(update(Person).where(Person.journal_person_id == 2).values(merged_into=1))
    export(engine, tmp_path / "out", exported_at=NOW)
    patients = {p["id"]: p for p in read(tmp_path / "out", "Patient")}
    assert patients["2"]["active"] is False
    assert patients["2"]["link"] == [{"other": {"reference": "Patient/1"}, "type": "replaced-by"}]
    assert "active" not in patients["1"] and "link" not in patients["1"]
