"""Who appears where: shares of the population per source, like life."""

from __future__ import annotations

import datetime
import statistics
from pathlib import Path

from synthetic import Manifest
from tests.synthetic import synth_readers as read


def _members(out: Path) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for row in read.read_csv(out / "truth.csv"):
        members.setdefault(row["source_system"], set()).add(row["person_id"])
    return members


def test_source_shares_for_2000_people(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    n = manifest.persons
    members = _members(out)
    share = {source: len(people) / n for source, people in members.items()}
    assert 0.92 <= share["gp-journal"] <= 0.98
    assert 0.30 <= share["hospital-epr"] <= 0.40
    assert 0.15 <= share["hospital-hl7"] <= 0.25
    assert 0.08 <= share["municipal-care"] <= 0.16
    assert 0.2 <= share["gp-messages"] / share["gp-journal"] <= 0.4
    overlap = len(members["hospital-hl7"] & members["hospital-epr"]) / len(members["hospital-hl7"])
    assert overlap >= 0.6


def test_municipal_care_is_for_the_elderly(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    people = {p["person_id"]: p for p in read.read_csv(out / "persons.csv")}

    def age(pid: str) -> float:
        p = people[pid]
        end = datetime.date.fromisoformat(p["death"] or "2025-06-30")
        return (end - datetime.date.fromisoformat(p["birth"])).days / 365.25

    care = statistics.mean(age(p) for p in _members(out)["municipal-care"])
    everyone = statistics.mean(age(p) for p in people)
    hospital = statistics.mean(age(p) for p in _members(out)["hospital-epr"])
    assert care > everyone + 20
    assert hospital > everyone


def test_records_stay_inside_each_source_window(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    planted = {e.record_id for e in manifest.injected if e.kind == "invalid_date"}
    with read.epr(out) as db:
        for lab_id, taken in db.execute("SELECT LAB_ID, PROVE_TID FROM LABSVAR"):
            assert str(lab_id) in planted or "2015-01-01" <= taken <= "2025-06-30 23:59"
    for patient in read.gp_patients(out).values():
        for date in patient.iterfind(f"{{{read.GP_NS}}}Consultation/{{{read.GP_NS}}}Date"):
            assert date.getparent().get("Id") in planted or (
                "2010-01-01" <= date.get("V") <= "2025-06-30T23:59:59"
            )
