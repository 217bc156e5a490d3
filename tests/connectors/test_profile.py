"""The source scan report: golden files, masked ids, suppressed small counts, escaped HTML."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.profile import FieldScan, Profile, format_of, masked, scan_csv, scan_sql, scan_staged
from connectors.profile_report import write_report
from tests.conftest import CASES
from tests.connectors.helpers import _SCRATCH  # noqa: F401 - the helpers' scratch store exists
from tests.connectors.test_kith_xml import source as kith_source

GOLDEN = CASES / "connectors" / "profile"
UPDATE = os.environ.get("ENJOURNAL_UPDATE_GOLDEN") == "1"


def test_report_matches_the_golden_files(tmp_path: Path) -> None:
    tables = list(scan_csv([GOLDEN / "input" / "brukere.csv"], "municipal", "auto", "auto", 1000))
    written = write_report(Profile(tables, min_count=5, top_values=10), tmp_path)
    for path in written:
        golden = GOLDEN / "expected" / path.name
        if UPDATE:
            golden.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        assert path.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), path.name


def test_report_never_shows_a_national_id_or_raw_html(tmp_path: Path) -> None:
    tables = list(scan_csv([GOLDEN / "input" / "brukere.csv"], "municipal", "auto", "auto", 1000))
    write_report(Profile(tables, min_count=5, top_values=10), tmp_path)
    for name in ("profile.html", "profile.csv"):
        report = (tmp_path / name).read_text(encoding="utf-8")
        assert "15108695088" not in report and "151086*****" in report
        assert "2611159381" not in report, "ids seen fewer than 5 times are not shown at all"
    html = (tmp_path / "profile.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; (5)" in html
    assert "http" not in html.replace("http://", ""), "works offline: no CDN"


def test_formats_are_detected_in_spec_notation() -> None:
    assert [
        format_of(v) for v in ("15.10.1986", "1986-10-15", "19861015", "3,5", "3.5", "<5", "15108695088")
    ] == [
        "date %d.%m.%Y",
        "date %Y-%m-%d",
        "date %Y%m%d",
        "decimal comma",
        "decimal point",
        "censored number",
        "national id (11 digits)",
    ]
    assert format_of("20120301101500") == "datetime hl7" and format_of("E11.9") == "code"


def test_masking_covers_ids_inside_values_and_whole_id_columns() -> None:
    assert masked("4711^PI~15108695088^NNNOR", id_column=False) == "4711^PI~151086*****^NNNOR"
    assert masked("151086 95088", id_column=False) == "151086*****"
    assert masked("20120301101500", id_column=False) == "20120301101500", "a timestamp is no id"
    assert masked("H1234567", id_column=True) == "H12345**"


def test_distinct_values_are_bounded() -> None:
    scan = FieldScan("x", max_distinct=3)
    for value in ["a", "b", "c", "d", "a", "e"]:
        scan.add(value)
    assert (len(scan.values), scan.overflow, scan.distinct_exact) == (3, 2, False)
    assert scan.values["a"] == 2


def test_sql_tables_and_staged_entities_are_scanned(tmp_path: Path, shared_data: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text('CREATE TABLE "PASIENT" ("PAS_ID" INTEGER, "FNR" TEXT, "BILDE" BLOB)'))
        connection.execute(
            text("INSERT INTO \"PASIENT\" VALUES (1, '15108695088', x'00ff'), (2, NULL, NULL)")
        )
    engine.dispose()
    (table,) = scan_sql(url, "epr", 100)
    assert (table.name, table.rows, table.fields["FNR"].nulls) == ("PASIENT", 2, 1)
    assert table.fields["FNR"].id_like and table.fields["BILDE"].values == {"<2 bytes>": 1}
    from connectors.attachments import AttachmentStore
    from connectors.registry import connector_for

    batches = connector_for(
        kith_source(shared_data / "kith" / "Epikrise"), "p", AttachmentStore(tmp_path)
    ).batches()
    tables = {t.name: t for t in scan_staged(batches, "kith", 100)}
    assert set(tables) == {"condition", "document", "encounter", "medication", "person"}
    assert tables["person"].rows == 3 and tables["person"].fields["national_id"].id_like


@pytest.mark.parametrize("min_count", [1, 5])
def test_small_counts_are_suppressed(min_count: int) -> None:
    scan = FieldScan("etternavn", max_distinct=100)
    for name in ["Hansen"] * 5 + ["Aasen"]:
        scan.add(name)
    shown = dict(scan.top(10, min_count))
    assert ("Aasen" in shown) is (min_count == 1) and shown["Hansen"] == 5
