"""The true people: plausible population, valid IDs, twins, D-numbers."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from pathlib import Path

from stdnum.no import fodselsnummer

from synthetic import Manifest
from tests.synthetic import synth_readers as read

REFERENCE = datetime.date(2025, 6, 30)


def _people(out: Path) -> list[dict[str, str]]:
    return read.read_csv(out / "persons.csv")


def _age(person: dict[str, str]) -> float:
    return (REFERENCE - datetime.date.fromisoformat(person["birth"])).days / 365.25


def test_every_number_is_valid_and_matches_birth_and_sex(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    numbers = []
    for p in _people(out):
        assert p["fnr"] or p["dnr"]
        for number in filter(None, (p["fnr"], p["dnr"])):
            assert fodselsnummer.is_valid(number), number
            assert fodselsnummer.get_birth_date(number).isoformat() == p["birth"]
            assert fodselsnummer.get_gender(number) == ("M" if p["sex"] == "M" else "F")
            numbers.append(number)
        if p["dnr"]:
            assert int(p["dnr"][:2]) > 40
    assert len(numbers) == len(set(numbers))


def test_d_numbers_and_later_fodselsnummer(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    people = _people(out)
    with_dnr = [p for p in people if p["dnr"]]
    converted = [p for p in with_dnr if p["fnr"]]
    assert 0.015 * manifest.persons < len(with_dnr) < 0.045 * manifest.persons
    assert 0.25 * len(with_dnr) < len(converted) < 0.75 * len(with_dnr)
    assert all(p["fnr_assigned"] for p in converted)
    assert all(p["origin"] != "no" for p in with_dnr)


def test_twins_share_birth_surname_address_but_not_names_or_ids(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    people = {p["person_id"]: p for p in _people(out)}
    twins = [p for p in people.values() if p["twin_of"]]
    assert len(twins) >= 0.008 * manifest.persons
    for p in twins:
        q = people[p["twin_of"]]
        assert q["twin_of"] == p["person_id"]
        assert (p["birth"], p["family"], p["street"], p["postnr"]) == (
            q["birth"],
            q["family"],
            q["street"],
            q["postnr"],
        )
        assert p["given"] != q["given"]
        assert p["fnr"] != q["fnr"] and fodselsnummer.is_valid(p["fnr"] or p["dnr"])


def test_age_and_name_distributions_look_norwegian(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    people = _people(out)
    living = [p for p in people if not p["death"]]
    ages = [_age(p) for p in living]
    assert 35 < statistics.median(ages) < 48
    assert max(ages) < 101.5 and min(ages) >= 0
    assert 0.6 < sum(a < 60 for a in ages) / len(ages) < 0.85
    surnames = Counter(p["family"] for p in people)
    top = [name for name, _ in surnames.most_common(8)]
    assert {"Hansen", "Johansen", "Olsen"} & set(top)
    assert sum(1 for n in surnames.values() if n == 1) > 0.1 * manifest.persons
    assert any(c in name for name in surnames for c in "æøå")
    assert any("-" in name for name in surnames)
    assert any(" " in p["given"] or "-" in p["given"] for p in people)


def test_life_events_and_flags(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    people = _people(out)
    n = manifest.persons
    deceased = [p for p in people if p["death"]]
    assert 0.03 * n < len(deceased) < 0.09 * n
    assert all(p["death"] > p["birth"] for p in deceased)
    assert 0 < sum(p["confidential"] == "1" for p in people) < 0.02 * n
    movers = [p for p in people if p["moved"]]
    assert 0.15 * n < len(movers) < 0.35 * n
    assert all(p["prev_street"] for p in movers)
    assert not any(p["prev_street"] for p in people if not p["moved"])
    married = [p for p in people if p["former_family"]]
    assert married and all(p["sex"] == "K" and p["name_changed"] for p in married)
