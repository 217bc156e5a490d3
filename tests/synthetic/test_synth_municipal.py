"""The municipal care export: Windows-1252 CSV with Norwegian conventions."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from synthetic import Manifest
from tests.synthetic import synth_readers as read

HEADERS = {
    "brukere": "bruker_id;fodselsnummer;fornavn;etternavn;fodselsdato;kjonn;adresse;postnr;"
    "poststed;kommunenr;dodsdato;sperret_adresse",
    "tjenester": "vedtak_id;bruker_id;tjenestekode;tjeneste;fra_dato;til_dato;timer_per_uke",
    "vurderinger": "vurdering_id;bruker_id;dato;variabel;variabelnavn;verdi;enhet",
    "notater": "notat_id;bruker_id;dato;forfatter;tittel;tekst",
}
DATE = re.compile(r"^\d\d\.\d\d\.\d{4}$")


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_cp1252_crlf_and_header(region: tuple[Path, Manifest], name: str) -> None:
    out, manifest = region
    raw = (out / "municipal" / f"{name}.csv").read_bytes()
    text = raw.decode("cp1252")
    if any(c in text for c in "æøåÆØÅ"):
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    assert text.startswith(HEADERS[name] + "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(rows) - 1 == manifest.counts[f"municipal/{name}.csv"]
    assert raw.count(b"\r\n") == len(rows)
    assert all(len(r) == len(rows[0]) for r in rows)


def test_users_use_norwegian_codes(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    users = read.municipal(out, "brukere")
    assert {u["kjonn"] for u in users} == {"1", "2"}
    assert {u["sperret_adresse"] for u in users} <= {"J", "N"}
    assert all(DATE.match(u["fodselsdato"]) for u in users)
    assert all(re.match(r"^50\d\d$", u["kommunenr"]) for u in users)
    assert any(u["dodsdato"] for u in users)


def test_values_are_valid_except_planted(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    planted = {
        (e.location.split(":")[0], e.record_id)
        for e in manifest.injected
        if e.source_system == "municipal-care" and e.entity != "person"
    }
    services = read.municipal(out, "tjenester")
    for s in services:
        ok = DATE.match(s["fra_dato"]) and (not s["til_dato"] or DATE.match(s["til_dato"]))
        ok = ok and re.match(r"^(\d+,\d)?$", s["timer_per_uke"])
        assert ok or ("tjenester.csv", s["vedtak_id"]) in planted
    observations = read.municipal(out, "vurderinger")
    bad = {
        o["vurdering_id"]
        for o in observations
        if not (DATE.match(o["dato"]) and re.match(r"^\d+(,\d)?$", o["verdi"]))
    }
    assert bad and {("vurderinger.csv", b) for b in bad} <= planted
    weights = [o["verdi"] for o in observations if o["variabel"] == "VEKT"]
    assert weights and any("," in w for w in weights)
    assert all(o["enhet"] == "" for o in observations if o["variabel"].startswith("IPLOS0"))


def test_notes_round_trip_delimiters_quotes_and_line_breaks(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    notes = read.municipal(out, "notater")
    texts = [n["tekst"] for n in notes]
    assert any(";" in t for t in texts)
    assert any('"' in t for t in texts)
    assert any("\n" in t for t in texts)
    assert all(re.match(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$", n["dato"]) for n in notes)
