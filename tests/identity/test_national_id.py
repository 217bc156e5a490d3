"""National ID rules: the design's vectors, and properties over generated numbers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.no import fodselsnummer

from identity.national_id import IdKind, classify, mask, redact_ids

VECTORS = [
    ("15108695088", IdKind.FNR, dt.date(1986, 10, 15), "female"),
    ("26111593816", IdKind.FNR, dt.date(2015, 11, 26), "female"),
    ("13049958441", IdKind.FNR, dt.date(1899, 4, 13), "female"),
    ("29020075838", IdKind.FNR, dt.date(2000, 2, 29), "female"),
    ("15021951940", IdKind.FNR, dt.date(2019, 2, 15), "male"),
    ("53097248016", IdKind.DNR, dt.date(1972, 9, 13), "female"),
    ("68126952442", IdKind.DNR, dt.date(1869, 12, 28), "female"),
    ("13527248013", IdKind.HNR, dt.date(1972, 12, 13), "female"),
    ("10915596784", IdKind.SYNTHETIC, dt.date(1955, 11, 10), "male"),
]


@pytest.mark.parametrize(("value", "kind", "birth", "sex"), VECTORS)
def test_design_vectors_classify_with_birth_date_and_sex(
    value: str, kind: IdKind, birth: dt.date, sex: str
) -> None:
    result = classify(value)
    assert (result.kind, result.valid, result.birth_date, result.sex) == (kind, True, birth, sex)


@pytest.mark.parametrize(
    "value", ["15108695077", "26111593817", "14057012345", "01017012345", "1510869508", "1510869508X"]
)
def test_invalid_numbers_are_invalid_not_errors(value: str) -> None:
    result = classify(value)
    assert result.kind is IdKind.INVALID and not result.valid and not result.strong
    assert result.problem


def test_fh_number_is_valid_and_strong_but_has_no_birth_date() -> None:
    result = classify("81212121223")
    assert (result.kind, result.valid, result.strong, result.birth_date) == (IdKind.FH, True, True, None)


def test_2032_rule_number_is_valid_without_sex() -> None:
    result = classify("30108299939")
    assert result.valid and result.rule_2032 and result.sex is None
    assert not fodselsnummer.is_valid("30108299939"), "stdnum's classic rule must reject it"


def test_h_number_is_not_strong_because_it_is_local() -> None:
    assert not classify("13527248013").strong


def test_separators_are_ignored() -> None:
    assert classify("151086 95088").value == "15108695088" and classify("151086-95088").valid


def test_mask_shows_only_the_birth_date_part() -> None:
    assert mask("15108695088") == "151086*****"
    assert mask(None) == "" and mask("123") == "***"
    assert mask(float("nan")) == "" and mask(pd.NA) == "", (
        "a missing ID (NaN from a float column) shows as empty"
    )


def _valid_fnr(birth: dt.date, individual: int) -> str | None:
    base = birth.strftime("%d%m%y") + f"{individual:03d}"
    k1 = fodselsnummer.calc_check_digit1(base)
    k2 = fodselsnummer.calc_check_digit2(base + k1)
    return base + k1 + k2 if len(k1) == 1 and len(k2) == 1 else None


dates_1900s = st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31))


@given(dates_1900s, st.integers(0, 499))
def test_any_generated_fnr_round_trips_birth_date_and_sex(birth: dt.date, individual: int) -> None:
    value = _valid_fnr(birth, individual)
    if value is None:
        return
    result = classify(value)
    assert result.kind is IdKind.FNR and result.valid
    assert result.birth_date == birth
    assert result.sex == ("male" if individual % 2 else "female")


@given(dates_1900s, st.integers(0, 499))
def test_d_number_of_a_valid_date_is_a_d_number(birth: dt.date, individual: int) -> None:
    base = f"{birth.day + 40:02d}{birth:%m%y}{individual:03d}"
    k1 = fodselsnummer.calc_check_digit1(base)
    k2 = fodselsnummer.calc_check_digit2(base + k1)
    if len(k1) + len(k2) != 2:
        return
    result = classify(base + k1 + k2)
    assert result.kind is IdKind.DNR and result.birth_date == birth and result.strong


@given(dates_1900s, st.integers(0, 499), st.integers(0, 10), st.integers(1, 9))
def test_any_single_digit_error_makes_the_number_invalid(
    birth: dt.date, individual: int, position: int, delta: int
) -> None:
    value = _valid_fnr(birth, individual)
    if value is None:
        return
    digit = (int(value[position]) + delta) % 10
    typo = value[:position] + str(digit) + value[position + 1 :]
    assert not classify(typo).valid, "mod-11 with two check digits catches every single-digit error"


@given(st.text(alphabet="0123456789 -", max_size=20))
def test_classify_never_raises(text: str) -> None:
    result = classify(text)
    assert result.valid in (True, False)
    assert len(mask(text).replace("*", "")) <= 6


def _with_checks(base: str) -> str | None:
    k1 = fodselsnummer.calc_check_digit1(base)
    k2 = fodselsnummer.calc_check_digit2(base + k1)
    return base + k1 + k2 if len(k1) + len(k2) == 2 else None


@given(
    dates_1900s,
    st.integers(0, 499),
    st.sampled_from([(40, IdKind.HNR), (80, IdKind.SYNTHETIC), (65, IdKind.SYNTHETIC)]),
)
def test_month_offsets_mark_help_and_test_numbers_with_the_true_birth_date(
    birth: dt.date, individual: int, offset: tuple[int, IdKind]
) -> None:
    plus, kind = offset
    value = _with_checks(f"{birth:%d}{birth.month + plus:02d}{birth:%y}{individual:03d}")
    if value is None:
        return
    result = classify(value)
    assert (result.kind, result.birth_date, result.strong) == (kind, birth, False)


@given(dates_1900s, st.integers(0, 999), st.integers(1, 3))
def test_2032_rule_numbers_are_valid_and_carry_no_sex(
    birth: dt.date, individual: int, remainder: int
) -> None:
    base = f"{birth:%d%m%y}{individual:03d}"
    weighted = sum(w * int(d) for w, d in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), base, strict=True))
    k1 = (remainder - weighted) % 11
    if k1 == 10:
        return
    k2 = fodselsnummer.calc_check_digit2(base + str(k1))
    if len(k2) != 1:
        return
    result = classify(base + str(k1) + k2)
    assert result.valid and result.rule_2032 and result.sex is None


@given(st.text(alphabet=" -abcæ:", max_size=40), st.from_regex(r"\A[0-9]{11}\Z"))
def test_redacted_text_never_holds_a_whole_national_id(text: str, number: str) -> None:
    redacted = redact_ids(f"{text} {number} {text}")
    assert number not in redacted and f"{number[:6]}*****" in redacted
    assert redact_ids(f"{number[:6]} {number[6:]}") == f"{number[:6]}*****"
