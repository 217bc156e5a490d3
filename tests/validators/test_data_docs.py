"""Data Docs: GX's site of the gate's results, with legacy values escaped and national IDs masked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.validators.test_gate import NOW, mapped
from validators.data_docs import build
from validators.gate import validate


def test_data_docs_escape_legacy_values_and_mask_national_ids(tmp_path: Path) -> None:
    conditions = mapped(
        code_system=["<script>alert(1)</script>", "urn:oid:2.16.578.1.12.4.1.1.7110"],
        code=["E119", "E119"],
        code_valid=[True, True],
        recorded_at=[dt.datetime(2020, 1, 1)] * 2,
    )
    persons = mapped(national_id=["15108695077", "26111593816"], birth_date=[dt.datetime(1986, 10, 15)] * 2)
    results = [
        ("hospital-epr", validate("condition", "hospital-epr", conditions, now=NOW).result),
        ("hospital-epr", validate("person", "hospital-epr", persons, now=NOW).result),
    ]
    index = build(results, tmp_path / "docs", "run-1", NOW)
    pages = {
        page.parts[-4]: page.read_text(encoding="utf-8")
        for page in (tmp_path / "docs").rglob("validations/**/*.html")
    }
    assert set(pages) == {"condition", "person"}
    assert "journal.condition" in index.read_text(encoding="utf-8")
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["condition"]
        and "<script>alert" not in pages["condition"]
    )
    assert "151086*****" in pages["person"] and "15108695077" not in pages["person"]
