"""The match report: golden files, privacy (masked IDs, hidden confidential addresses,
escaped names), and what headless Chromium shows of it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from identity.match import review_frame
from identity.model import Model
from identity.prepare import prepare
from identity.report import review_pairs, write_reports
from identity.spec import load_spec

GOLDEN = Path(__file__).resolve().parent.parent / "cases" / "identity"
UPDATE = os.environ.get("ENJOURNAL_UPDATE_GOLDEN") == "1"
REQUIRE_SERVICES = os.environ.get("ENJOURNAL_REQUIRE_SERVICES") == "1"
SCRIPT_NAME = "<script>document.title='pwned'</script>"


def _records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_system": ["hospital-epr", "gp-journal", "municipal-care", "gp-journal"],
            "source_person_id": ["1001", "LK01-000007", "55", "LK02-000001"],
            "given_name": ["KARI", "Kari", SCRIPT_NAME, "Ola"],
            "middle_name": [None, "Marie", None, None],
            "family_name": ["LØVÅS", "Lovaas", "Berg", "Berg"],
            "birth_date": pd.to_datetime(["1986-10-15", "1986-10-15", "1950-01-01", "1950-01-01"]),
            "sex": ["female", "female", "male", "male"],
            "national_id": ["15108695088", "15108695077", None, "01015012345"],
            "address_line": ["Storgata 1", "Hemmelig vei 9", "Lia 2", "Lia 2"],
            "postcode": ["7010", "7011", "7020", "7020"],
            "confidential_address": [False, True, False, False],
        }
    )


def _report(folder: Path) -> dict[str, Path]:
    persons = prepare(_records())
    spec = load_spec()
    model = Model.start(spec, prior=1e-4)
    pairs = pd.DataFrame(
        {
            "left": [0, 2],
            "right": [1, 3],
            "match_weight": [4.5, -1.25],
            "match_probability": [0.9578, 0.2961],
            "reason": ["uncertain match", "records disagree on given_name"],
        }
    )
    review = review_frame(persons, pairs)
    evidence = review_pairs(persons, review, spec, model, cluster=np.arange(len(persons)))
    blocking = pd.DataFrame([{"rule": "birth_date_given", "pairs": 2, "new_pairs": 2, "skipped_blocks": 0}])
    summary = {"run_id": "20250630T120000-test", "records": 4, "persons": 4, "review": 2}
    return write_reports(folder, evidence, summary, model, blocking)


@pytest.mark.parametrize("name", ["match_report.html", "review.csv", "review.json"])
def test_report_files_match_the_golden_files(tmp_path: Path, name: str) -> None:
    written = _report(tmp_path)
    produced = {path.name: path for path in written.values()}[name].read_text(encoding="utf-8")
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert produced == golden.read_text(encoding="utf-8")


def test_report_masks_ids_hides_confidential_addresses_and_escapes_names(tmp_path: Path) -> None:
    written = _report(tmp_path)
    for path in written.values():
        text = path.read_text(encoding="utf-8")
        assert "15108695088" not in text and "15108695077" not in text, path.name
        assert "Hemmelig vei 9" not in text and "Storgata 1" not in text, f"{path.name}: confidential person"
        assert "7011" not in text, path.name
    html = written["html"].read_text(encoding="utf-8")
    assert "151086*****" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Lia 2" in html, "addresses of people without the flag are shown"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    page = _report(tmp_path / "report")["html"]
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = result.stdout
    assert "<title>Match report 20250630T120000-test</title>" in dom, "the script in a name must not run"
    assert '<strong id="review-count">2</strong>' in dom
    assert "<script" not in dom, "a name is text, never an element"
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "151086*****" in dom and "(hidden: confidential address)" in dom
    assert dom.count('class="pair"') == 2 and dom.count('class="bar ') >= 2 * 8
