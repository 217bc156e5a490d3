"""The mapping review: golden CSV and HTML from the golden staging rows; masking and escaping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mappings.review import Review, combine, review_source
from mappings.review_html import write_html
from mappings.spec import SPECS_DIR, load_spec
from mappings.terminology import terminology
from tests.mappings.golden import GOLDEN, assert_golden, read_staging

REPORT = GOLDEN / "report"


def golden_review() -> Review:
    """One review of every spec's golden staging rows, each spec standing for one source."""
    reviews = []
    for folder in sorted(p for p in GOLDEN.iterdir() if (SPECS_DIR / f"{p.name}.yaml").exists()):
        staged = {p.name.removesuffix(".staging.csv"): read_staging(p) for p in folder.glob("*.staging.csv")}
        spec = load_spec(SPECS_DIR / f"{folder.name}.yaml")
        reviews.append(
            review_source(folder.name, spec, staged, f"tests/cases/mappings/{folder.name}", terminology())
        )
    return combine(reviews)


def test_review_csv_and_html_match_the_golden_files(tmp_path: Path) -> None:
    review = golden_review()
    written = review.write_csv(tmp_path)
    written.append(write_html(review, tmp_path / "mappings.html", "Mapping review: golden cases"))
    for path in written:
        text = path.read_text(encoding="utf-8").replace(str(SPECS_DIR), "mappings/specs")
        assert_golden(REPORT / path.name, text)


def test_worklist_lists_every_unresolved_code_with_its_count_most_urgent_first() -> None:
    worklist = golden_review().worklist()
    assert worklist["outcome"].tolist()[:2] == ["unmapped", "unmapped"]
    local = worklist[worklist["outcome"] == "unmapped"].set_index("source_code")
    assert local.loc["99", "code_map"] == "municipal-services" and local.loc["99", "count"] == 1
    assert local.loc["IPLOS99", "code_map"] == "municipal-observations"
    invalid = worklist[worklist["outcome"] == "invalid"].set_index("source_code")
    assert {"X999", "ZZ99ZZ99", "Z99"} <= set(invalid.index)
    assert (
        invalid.loc["ZZ99ZZ99", "found_in"]
        == "gp-journal-export/medication, synthetic-hospital-epr/medication"
    )
    assert invalid.loc["ZZ99ZZ99", "count"] == 2, "counted over every source that has it"
    assert worklist[["target_system", "target_code", "status", "set_by"]].isna().all().all(), (
        "for the steward to fill"
    )


def test_summary_counts_every_record_once() -> None:
    summary = golden_review().entities.set_index(["source_system", "entity"])
    municipal = summary.loc[("synthetic-municipal-care", "observation")]
    assert municipal["records"] == 12 and municipal["quarantined"] == 4
    assert municipal[["mapped", "kept", "fell_back", "unmapped", "missing"]].sum() == municipal["records"]
    assert summary.loc[("hl7v2", "person"), "merged"] > 0, "older versions of a record merge"


def test_report_masks_national_ids_and_escapes_html(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "entities:\n  person:\n    fields:\n      sex: {column: kjonn, map: {M: male}, unmapped: keep}\n"
        "  condition:\n    coding: {code: kode, display: tekst, system: icd10}\n    fields: {}\n"
    )
    provenance = {
        "source_system": "s",
        "source_kind": "csv",
        "source_locator": "f:1",
        "source_person_id": "p",
        "source_timestamp": None,
        "record_hash": "0" * 64,
        "extracted_at": "x",
    }
    staged = {
        "person": pd.DataFrame([{**provenance, "source_record_id": "1", "kjonn": "15108695088"}]).astype(
            "string"
        ),
        "condition": pd.DataFrame(
            [
                {
                    **provenance,
                    "source_record_id": "2",
                    "kode": "<b>X</b>",
                    "tekst": "<script>alert(1)</script>",
                }
            ]
        ).astype("string"),
    }
    review = review_source("s", load_spec(spec_path), staged, "here", terminology())
    assert review.fallbacks["value"].tolist() == ["151086*****"]
    html = write_html(review, tmp_path / "r.html", "<Review & co>").read_text()
    assert "15108695088" not in html and "151086*****" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>&lt;Review &amp; co&gt;</title>" in html
    written = review.write_csv(tmp_path)
    assert not any("15108695088" in p.read_text() for p in written)
