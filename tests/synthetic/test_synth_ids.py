"""National ID generation against python-stdnum and the vectors of design §5."""

from __future__ import annotations

import datetime
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.no import fodselsnummer

from synthetic import ids

VALID = [
    "15108695088",
    "26111593816",
    "13049958441",
    "29020075838",
    "15021951940",
    "53097248016",
    "68126952442",
    "13527248013",
]
INVALID = ["15108695077", "26111593817"]


def _check(number: str) -> tuple[int, int]:
    k1, k2 = ids.check_digits(np.array([[int(c) for c in number[:9]]]))
    return int(k1[0]), int(k2[0])


@pytest.mark.parametrize("number", VALID)
def test_check_digits_match_design_vectors(number: str) -> None:
    assert _check(number) == (int(number[9]), int(number[10]))


@pytest.mark.parametrize("number", INVALID)
def test_check_digits_reject_broken_vectors(number: str) -> None:
    assert _check(number) != (int(number[9]), int(number[10]))


def test_body_without_valid_number_is_marked() -> None:
    # 010120631: k1 = 1, then k2 would be 10, so no number can end this body
    assert _check("01012063100") == (1, 10)


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(
        st.integers(min_value=0, max_value=(datetime.date(2039, 12, 31) - datetime.date(1854, 1, 1)).days),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from([ids.FNR, ids.DNR, ids.HNR]),
)
def test_drawn_numbers_encode_birth_date_sex_and_checks(days: list[int], seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    birth = np.datetime64("1854-01-01") + np.array(days) * np.timedelta64(1, "D")
    male = rng.random(len(days)) < 0.5
    taken: set[str] = set()
    numbers = ids.draw(rng, birth, male, kind, taken)
    assert len(set(numbers)) == len(numbers) == len(taken)
    for number, day, is_male in zip(numbers, birth, male, strict=True):
        assert number[9] == fodselsnummer.calc_check_digit1(number[:9])
        assert number[10] == fodselsnummer.calc_check_digit2(number[:10])
        assert fodselsnummer.get_birth_date(number) == day.astype(datetime.date)
        assert fodselsnummer.get_gender(number) == ("M" if is_male else "F")
        assert (int(number[0:2]) > 40) == (kind == ids.DNR)
        assert (int(number[2:4]) > 40) == (kind == ids.HNR)


def test_drawn_numbers_avoid_taken_ones() -> None:
    rng = np.random.default_rng(1)
    birth = np.full(160, np.datetime64("1990-05-17"))
    first = ids.draw(rng, birth[:80], np.ones(80, bool), ids.FNR, taken := set())
    second = ids.draw(rng, birth[80:], np.ones(80, bool), ids.FNR, taken)
    assert not set(first) & set(second)
    assert all(fodselsnummer.is_valid(n) for n in [*first, *second])


def test_exhausted_birth_date_raises_instead_of_looping() -> None:
    rng = np.random.default_rng(2)
    birth = np.full(400, np.datetime64("2010-05-17"))
    with pytest.raises(ValueError, match="no free"):
        ids.draw(rng, birth, np.ones(400, bool), ids.FNR, set())


def test_mistyped_numbers_differ_and_mostly_fail_mod11() -> None:
    rnd = random.Random(5)
    rng = np.random.default_rng(5)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 20000, 500) * np.timedelta64(1, "D")
    numbers = ids.draw(rng, birth, rng.random(500) < 0.5, ids.FNR, set())
    typed = [ids.mistype(n, rnd) for n in numbers]
    assert all(t != n and len(t) == 11 and t.isdigit() for t, n in zip(typed, numbers, strict=True))
    assert sum(1 for t in typed if not fodselsnummer.is_valid(t)) >= 0.9 * len(typed)
    single_changes = [
        t for t, n in zip(typed, numbers, strict=True) if sum(a != b for a, b in zip(t, n, strict=True)) == 1
    ]
    assert single_changes and not any(fodselsnummer.is_valid(t) for t in single_changes)
