"""Delimited municipal exports: encodings declared or detected, quoting, and rows that do not fit."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.flatfile import FlatFile, FlatFileSource
from tests.connectors.helpers import collect

HEADER = "bruker_id;fornavn;etternavn;fodselsdato;merknad\r\n"


def source(path: Path, encoding: str = "cp1252", **options: object) -> FlatFileSource:
    return FlatFileSource(
        name="muni",
        location=str(path),
        mapping="x.yaml",
        encoding=encoding,
        files=[FlatFile(pattern="brukere*.csv", entity="person", key="bruker_id", person_key="bruker_id")],
        **options,
    )


def test_cp1252_export_with_quoted_delimiters_and_line_breaks(tmp_path: Path) -> None:
    text = HEADER + '1;Åse;Sæther;01.02.1930;"Bor; alene\r\nhar hund"\r\n2;Ole;Øien;31.12.1940;\r\n'
    (tmp_path / "brukere.csv").write_bytes(text.encode("cp1252"))
    frames, quarantine = collect(source(tmp_path))
    persons = frames["person"]
    assert quarantine.empty
    assert persons["etternavn"].tolist() == ["Sæther", "Øien"]
    assert persons.loc[0, "merknad"] == "Bor; alene\r\nhar hund"
    assert persons["merknad"].isna()[1]
    assert persons["fodselsdato"].tolist() == ["01.02.1930", "31.12.1940"], "dates stay text"
    assert persons["source_locator"].tolist() == [
        f"{tmp_path / 'brukere.csv'}:2",
        f"{tmp_path / 'brukere.csv'}:4",
    ]
    assert persons["source_record_id"].tolist() == ["1", "2"]


def test_rows_with_a_wrong_field_count_are_quarantined_with_their_line(tmp_path: Path) -> None:
    text = (
        HEADER
        + "1;Åse;Sæther;01.02.1930;\r\n2;Ole;Øien\r\n3;Per;Berg;01.01.1950;;ekstra\r\n4;Liv;Dahl;02.02.1952;\r\n"
    )
    (tmp_path / "brukere.csv").write_bytes(text.encode("cp1252"))
    frames, quarantine = collect(source(tmp_path))
    assert frames["person"]["bruker_id"].tolist() == ["1", "4"]
    assert quarantine["rule"].tolist() == ["csv.field_count", "csv.field_count"]
    assert quarantine["reason"].tolist() == [
        "brukere.csv line 3: 3 fields, the header has 5",
        "brukere.csv line 4: 6 fields, the header has 5",
    ]
    assert quarantine["entity"].tolist() == ["person", "person"]


def test_rows_in_the_wrong_encoding_are_quarantined_not_garbled(tmp_path: Path) -> None:
    (tmp_path / "brukere.csv").write_bytes(
        (HEADER + "1;Åse;Sæther;01.02.1930;\r\n2;Ola;Berg;;\r\n").encode("cp1252")
    )
    frames, quarantine = collect(source(tmp_path, encoding="utf-8"))
    assert frames["person"]["bruker_id"].tolist() == ["2"]
    assert quarantine["rule"].tolist() == ["csv.encoding"]
    assert quarantine["reason"].iloc[0].startswith("brukere.csv line 2: byte b'\\xc5' is not valid utf-8")
    assert quarantine["raw_payload"].iloc[0].startswith("1;"), "the row's own bytes are kept"


def test_encoding_and_delimiter_can_be_detected(tmp_path: Path) -> None:
    text = "bruker_id,fornavn,etternavn,fodselsdato,merknad\r\n1,Åse,Sæther,01.02.1930,\r\n2,Bjørn,Høie,,\r\n"
    (tmp_path / "brukere.csv").write_bytes(text.encode("cp1252"))
    frames, quarantine = collect(source(tmp_path, encoding="auto", delimiter="auto"))
    assert quarantine.empty
    assert frames["person"]["etternavn"].tolist() == ["Sæther", "Høie"]
    (tmp_path / "brukere.csv").write_bytes(("\ufeff" + text).encode("utf-8"))
    frames, _ = collect(source(tmp_path, encoding="auto", delimiter="auto"))
    assert frames["person"]["fornavn"].tolist() == ["Åse", "Bjørn"], "BOM and UTF-8 recognised"


def test_iso_646_no_exports_read_their_norwegian_letters(tmp_path: Path) -> None:
    (tmp_path / "brukere.csv").write_bytes((HEADER + "1;]se;S{ther;01.02.1930;\\ien |st\r\n").encode("ascii"))
    frames, quarantine = collect(source(tmp_path, encoding="iso646-no"))
    assert quarantine.empty
    row = frames["person"].iloc[0]
    assert (row["fornavn"], row["etternavn"], row["merknad"]) == ("Åse", "Sæther", "Øien øst")


def test_latin1_and_declared_per_file_encodings(tmp_path: Path) -> None:
    (tmp_path / "brukere.csv").write_bytes((HEADER + "1;Åse;Sæther;;\r\n").encode("latin-1"))
    spec = FlatFile(
        pattern="brukere*.csv", entity="person", key="bruker_id", person_key="bruker_id", encoding="latin-1"
    )
    config = FlatFileSource(name="m", location=str(tmp_path), mapping="x", encoding="utf-8", files=[spec])
    frames, _ = collect(config)
    assert frames["person"]["etternavn"].tolist() == ["Sæther"]


def test_empty_file_missing_key_column_repeated_header_and_empty_keys(tmp_path: Path) -> None:
    (tmp_path / "brukere_a.csv").write_bytes(b"")
    (tmp_path / "brukere_b.csv").write_bytes(b"id;navn\r\n1;x\r\n")
    (tmp_path / "brukere_c.csv").write_bytes(b"bruker_id;navn;navn\r\n1;x;y\r\n")
    (tmp_path / "brukere_d.csv").write_bytes(b"bruker_id;navn\r\n;x\r\n2;y\r\n")
    frames, quarantine = collect(source(tmp_path))
    assert quarantine["rule"].tolist() == ["csv.empty", "file.unreadable", "file.unreadable", "csv.no_key"]
    assert "bruker_id" in quarantine["reason"].iloc[1]
    assert "repeats column(s) ['navn']" in quarantine["reason"].iloc[2]
    assert quarantine["reason"].iloc[3] == "brukere_d.csv line 2: the key column 'bruker_id' is empty"
    assert frames["person"]["bruker_id"].tolist() == ["2"]


def test_a_quote_never_closed_stops_the_file_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "brukere.csv").write_bytes(
        (HEADER + '1;Åse;Sæther;;ok\r\n2;Ola;"Berg;;\r\n3;Per;Dal;;\r\n').encode("cp1252")
    )
    frames, quarantine = collect(source(tmp_path))
    assert frames["person"]["bruker_id"].tolist() == ["1"]
    assert quarantine["rule"].tolist() == ["file.unreadable"]
    assert "line 3" in quarantine["reason"].iloc[0] and "quote" in quarantine["reason"].iloc[0]


def test_banner_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "brukere.csv").write_bytes(
        ("Eksport fra Gerica\r\n2025-06-30\r\n" + HEADER + "1;Åse;;;\r\n").encode("cp1252")
    )
    frames, _ = collect(source(tmp_path, skip_lines=2))
    assert frames["person"]["source_locator"].iloc[0].endswith("brukere.csv:4")


FIELD = st.text(alphabet=st.characters(codec="cp1252", exclude_characters="\x00\r"), max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=8),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
)
def test_property_any_quoted_export_reads_back_field_for_field(
    tmp_path: Path, rows: list[list[str]], delimiter: str
) -> None:
    """Whatever the values (delimiters, quotes, line breaks), what csv wrote is what we stage."""
    rows = [[str(i), *row[1:]] for i, row in enumerate(rows, 1)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["bruker_id", "a", "b"])
    writer.writerows(rows)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "brukere.csv").write_bytes(buffer.getvalue().encode("cp1252"))
    frames, quarantine = collect(source(folder, delimiter=delimiter))
    kept = [row for row in rows if any(v.strip() for v in row)]
    assert quarantine.empty
    staged = frames["person"][["bruker_id", "a", "b"]].astype(object)
    staged = staged.where(staged.notna(), "")
    assert staged.values.tolist() == kept


@pytest.mark.parametrize("encoding", ["no-such-codec"])
def test_an_unknown_encoding_name_fails_the_file_clearly(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "brukere.csv").write_bytes(HEADER.encode())
    _, quarantine = collect(source(tmp_path, encoding=encoding))
    assert quarantine["rule"].tolist() == ["file.unreadable"]
    assert "no-such-codec" in quarantine["reason"].iloc[0]
