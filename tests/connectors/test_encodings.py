"""Legacy text encodings: the ISO-646-NO codec, detection, and signs of damage in values."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import encodings


@given(
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="[\\]{|}") | st.sampled_from("ÆØÅæøå"))
)
def test_property_iso646_no_round_trips_norwegian_text(text: str) -> None:
    assert codecs.decode(codecs.encode(text, "iso646-no"), "iso646-no") == text


def test_iso646_no_maps_the_six_national_letters() -> None:
    assert b"[\\]{|}".decode("iso646-no") == "ÆØÅæøå"
    with pytest.raises(UnicodeDecodeError):
        b"\xe5".decode("iso646-no")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Bjørn Håkonsen;Åse Sæther;Ørjan Ødegård\r\n".encode("cp1252") * 20, "cp1252"),
        ("Bjørn Håkonsen;Åse Sæther;Ørjan Ødegård\r\n".encode("cp865") * 20, "cp865"),
        ("Bjørn Håkonsen;Åse Sæther\r\n".encode(), "utf-8"),
        ("\ufeffBjørn".encode(), "utf-8-sig"),
        ("Bjørn".encode()[:-1] + "ø".encode()[:1], "utf-8"),
    ],
    ids=["cp1252", "dos-865", "utf-8", "bom", "cut-mid-character"],
)
def test_detection_tells_the_usual_legacy_encodings_apart(data: bytes, expected: str) -> None:
    assert encodings.detect(data) == expected


@pytest.mark.parametrize(
    ("value", "signs"),
    [
        ("Sæther", []),
        ("SÃ¦ther", ["mojibake"]),
        ("Ã˜ien", ["mojibake"]),
        ("S{ther", ["iso646"]),
        ("Berg\udce5", ["undecodable"]),
        ("Berg\ufffd", ["control"]),
        ("a{b}", ["iso646"]),
        ("{}", []),
    ],
)
def test_damage_signs(value: str, signs: list[str]) -> None:
    assert encodings.damage(value) == signs
