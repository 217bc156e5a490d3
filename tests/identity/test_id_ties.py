"""Two valid numbers of different kinds: how a pair compares, and when the numbers count
as one person's (a D-number replaced by a fødselsnummer)."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum.no import fodselsnummer

from identity.compare import compare
from identity.id_ties import IdTies, change_level, evidenced_changes
from identity.model import Model
from identity.prepare import prepare
from identity.spec import LinkageSpec, load_spec

SPEC = load_spec()
ID_FIELD = [c.name for c in SPEC.comparisons].index("national_id")
LABELS = SPEC.comparison("national_id").labels


def number(birth: dt.date, individual: int, kind: str) -> str | None:
    """A valid fødselsnummer or D-number (day + 40), None where the check digits cannot exist."""
    day = birth.day + (40 if kind == "dnr" else 0)
    base = f"{day:02d}{birth:%m%y}{individual:03d}"
    k1 = fodselsnummer.calc_check_digit1(base)
    k2 = fodselsnummer.calc_check_digit2(base + k1)
    return base + k1 + k2 if len(k1) + len(k2) == 2 else None


births = st.dates(dt.date(1920, 1, 1), dt.date(1999, 12, 31))
kinds = st.sampled_from(["fnr", "dnr"])


@given(births, st.integers(0, 499), kinds, st.integers(0, 499), kinds)
def test_two_valid_numbers_compare_by_kind(
    birth: dt.date, first: int, first_kind: str, second: int, second_kind: str
) -> None:
    """Equal: exact; of one kind: two people (always contradicts); of two kinds: a possible
    change of number, which contradicts unless the numbers are tied."""
    one, two = number(birth, first, first_kind), number(birth, second, second_kind)
    assume(one is not None and two is not None)
    records = prepare(pd.DataFrame({"national_id": [one, two]}))
    level = compare(records, np.array([0]), np.array([1]), SPEC).levels[0, ID_FIELD]
    if one == two:
        expected = "exact"
    elif first_kind == second_kind:
        expected = "two different valid numbers"
    else:
        expected = "valid numbers of two kinds"
    assert LABELS[level] == expected
    model = Model.start(SPEC)
    levels = np.zeros((1, len(SPEC.comparisons)), dtype=np.int8)
    levels[0, ID_FIELD] = level
    untied = bool(model.contradiction(levels, np.array([False]))[0])
    tied = bool(model.contradiction(levels, np.array([True]))[0])
    assert (untied, tied) == {
        "exact": (False, False),
        "two different valid numbers": (True, True),
        "valid numbers of two kinds": (True, False),
    }[expected]


@given(
    st.lists(st.integers(-1, 5), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=8),
)
def test_ties_follow_chains_and_only_join_records_with_a_valid_number(
    person: list[int], ties: list[tuple[int, int]]
) -> None:
    count = len(person)
    ties = [(a % count, b % count) for a, b in ties]
    before = IdTies(None, np.array(person, dtype=np.int64))
    after = before.tied(
        np.array([a for a, _ in ties], dtype=np.int64), np.array([b for _, b in ties], dtype=np.int64)
    )
    left, right = np.array(list(itertools.product(range(count), repeat=2)), dtype=np.int64).T
    same_before, same_after = before.same(left, right), after.same(left, right)
    assert not (same_before & ~same_after).any(), "a tie never separates one number's records"
    numbered = (np.array(person)[left] >= 0) & (np.array(person)[right] >= 0)
    assert not (same_after & ~numbered).any(), "records without a valid number are never tied"
    grouped = {}
    for a, b in ties:
        if person[a] >= 0 and person[b] >= 0:
            grouped.setdefault(person[a], set()).add(person[b])
            grouped.setdefault(person[b], set()).add(person[a])
    reach: dict[int, set[int]] = {}
    for start in {p for p in person if p >= 0}:
        seen, todo = {start}, [start]
        while todo:
            for nxt in grouped.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        reach[start] = seen
    expected = np.array(
        [person[a] >= 0 and person[b] in reach[person[a]] for a, b in zip(left, right, strict=True)]
    )
    assert (same_after == expected).all()


def test_a_change_of_number_needs_the_same_birth_date_and_address() -> None:
    field, level = change_level(SPEC)
    names = [c.name for c in SPEC.comparisons]
    birth, address = names.index("birth_date"), names.index("address")
    birth_labels, address_labels = SPEC.comparisons[birth].labels, SPEC.comparisons[address].labels
    cases = [  # (birth date level, address level, ties)
        ("exact", "exact", True),
        ("exact", "jaro-winkler >= 0.90", False),  # Heimdalsveien 14 and 18 B
        ("one digit off", "exact", False),
        ("exact", "different", False),
        ("exact", "missing", False),  # a lab message carries no address
    ]
    levels = np.zeros((len(cases), len(names)), dtype=np.int8)
    levels[:, field] = level
    levels[:, birth] = [birth_labels.index(b) for b, _, _ in cases]
    levels[:, address] = [address_labels.index(a) for _, a, _ in cases]
    contradicting = np.zeros(levels.shape, dtype=bool)
    contradicting[:, field] = True
    links = np.ones(len(cases), dtype=bool)
    assert evidenced_changes(SPEC, levels, links, contradicting).tolist() == [tie for _, _, tie in cases]
    assert not evidenced_changes(SPEC, levels, ~links, contradicting).any(), "a pair that would not link"
    contradicting[0, names.index("sex")] = True
    assert not evidenced_changes(SPEC, levels, links, contradicting)[0], "another field contradicts"


def test_change_evidence_must_name_a_comparison_and_its_levels() -> None:
    data = SPEC.model_dump()
    with pytest.raises(ValidationError, match="unknown comparison"):
        LinkageSpec.model_validate(
            {**data, "id_change_evidence": [{"comparison": "nope", "levels": ["exact"]}]}
        )
    with pytest.raises(ValidationError, match="has no level"):
        LinkageSpec.model_validate(
            {**data, "id_change_evidence": [{"comparison": "address", "levels": ["nope"]}]}
        )
