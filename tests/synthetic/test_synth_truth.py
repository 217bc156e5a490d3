"""truth.csv lists exactly the person records found in the source files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from synthetic import Manifest
from tests.synthetic import synth_readers as read

SOURCES = ("hospital-epr", "hospital-hl7", "municipal-care", "gp-journal", "gp-messages")


def test_truth_matches_source_records_both_ways(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    truth = read.read_csv(out / "truth.csv")
    listed = {(r["source_system"], r["source_person_id"]) for r in truth}
    assert len(listed) == len(truth), "duplicate truth rows"
    found = set(read.all_persons(out))
    assert found == listed
    assert {s for s, _ in listed} == set(SOURCES)
    assert Counter(s for s, _ in listed) == manifest.source_person_records


def test_truth_points_to_known_people(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    people = {r["person_id"] for r in read.read_csv(out / "persons.csv")}
    assert len(people) == manifest.persons
    assert {r["person_id"] for r in read.read_csv(out / "truth.csv")} <= people


def test_hospital_sources_share_the_patient_index(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    person_of = {
        (r["source_system"], r["source_person_id"]): r["person_id"] for r in read.read_csv(out / "truth.csv")
    }
    epr = {k for s, k in person_of if s == "hospital-epr"}
    hl7 = {k for s, k in person_of if s == "hospital-hl7"}
    shared = epr & hl7
    assert len(shared) > 0.5 * len(hl7)
    assert all(person_of[("hospital-epr", k)] == person_of[("hospital-hl7", k)] for k in shared)


def test_lab_messages_are_one_record_each(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    files = list((out / "gp" / "messages").glob("*.xml"))
    assert {f.stem for f in files} == set(read.lab_messages(out))
    assert len(files) == manifest.source_person_records["gp-messages"]
