"""Name folding and mojibake repair: every spelling of one name meets at one key."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.normalize import (
    clean_postcode,
    clean_sex,
    fold_address,
    fold_name,
    parse_dates,
    repair_mojibake,
    sound_key,
)


@pytest.mark.parametrize(
    ("spellings"),
    [
        ("Løvås", "Lovaas", "LØVÅS", "Lövås"),
        ("Sæther", "Saether", "SÆTHER", "Säther"),
        ("Aasen", "Åsen", "aasen"),
        ("Haaland", "Håland"),
        ("Berg-Hansen", "Berg Hansen", "berg  hansen"),
        ("René", "Rene", "Renè"),
    ],
)
def test_spellings_fold_to_one_key(spellings: tuple[str, ...]) -> None:
    assert len({fold_name(s) for s in spellings}) == 1, [fold_name(s) for s in spellings]


def test_different_names_stay_different() -> None:
    assert fold_name("Hansen") != fold_name("Jensen")
    assert fold_name("Ola") != fold_name("Ole")


def test_mojibake_is_repaired_only_when_it_is_mojibake() -> None:
    assert repair_mojibake("SÃ¦ther") == "Sæther"
    assert repair_mojibake("LÃ¸vÃ¥s") == "Løvås"
    assert repair_mojibake("Sæther") == "Sæther"
    assert fold_name("SÃ¦ther") == fold_name("Sæther")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅéè -", max_size=30))
def test_folding_is_idempotent_and_ascii(text: str) -> None:
    folded = fold_name(text)
    assert fold_name(folded) == folded
    assert folded.isascii()


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅ", min_size=1, max_size=20))
def test_utf8_read_as_cp1252_always_repairs(text: str) -> None:
    garbled = text.encode("utf-8").decode("cp1252", errors="strict") if _cp1252_safe(text) else text
    assert repair_mojibake(garbled) == text


def _cp1252_safe(text: str) -> bool:
    try:
        text.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def test_postcodes_are_four_digits_or_missing() -> None:
    cleaned = clean_postcode(pd.Series(["7010", "701", " 7030 ", "N-7040", "abc", None]))
    assert cleaned.tolist()[:4] == ["7010", "0701", "7030", "7040"]
    assert cleaned.isna().tolist()[4:] == [True, True]


@pytest.mark.parametrize(
    "text",
    [
        "1986-10-15",
        "19861015",
        "15.10.1986",
        "15/10/1986",
        "1986-10-15T08:30:00",
        "15 Oct 1986",
        "10/31/1986",
    ],
)
def test_dates_in_common_formats_parse(text: str) -> None:
    expected = pd.Timestamp("1986-10-31") if text == "10/31/1986" else pd.Timestamp("1986-10-15")
    assert parse_dates(pd.Series([text])).iloc[0] == expected


def test_unreadable_dates_are_missing_not_errors() -> None:
    assert parse_dates(pd.Series(["31.02.1986", "soon", None, ""])).isna().all()


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)))
def test_any_date_round_trips_through_the_formats_systems_write(day: dt.date) -> None:
    written = pd.Series([day.isoformat(), day.strftime("%Y%m%d"), day.strftime("%d.%m.%Y")])
    assert (parse_dates(written) == pd.Timestamp(day)).all()


@pytest.mark.parametrize(
    ("a", "b"),
    [("Grongvegen 6", "GRONGVEIEN 6"), ("Ila allé 80", "Ila alle 80"), ("Bakklandet 23B", "bakklandet 23 b")],
)
def test_address_spellings_meet(a: str, b: str) -> None:
    assert fold_address(a) == fold_address(b)


def test_house_numbers_matter() -> None:
    assert fold_address("Storgata 1") != fold_address("Storgata 11")


@pytest.mark.parametrize(
    ("a", "b"), [("Kristiansen", "Christiansen"), ("Mathiesen", "Matiesen"), ("Schmidt", "Smidt")]
)
def test_surnames_that_sound_alike_share_a_key(a: str, b: str) -> None:
    assert sound_key(a) == sound_key(b)


def test_sex_codes_of_every_system_read_the_same() -> None:
    assert clean_sex(pd.Series(["M", "K", "F", "1", "2", "mann", "x", None])).tolist()[:6] == [
        "male",
        "female",
        "female",
        "male",
        "female",
        "male",
    ]
