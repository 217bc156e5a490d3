"""The gate's verdict and its JUnit/JSON reports, against golden files."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

from tests.conftest import CASES
from validators.gate import Check
from validators.report import Verdict, describe, junit_xml

GOLDEN = CASES / "gate"


def check(
    column: str, failed: int, *, severity: str = "critical", threshold: float = 1.0, **more: object
) -> Check:
    values = {
        "source_system": "hospital-epr",
        "entity": "condition",
        "expectation": "expect_column_values_to_be_in_set",
        "column": column,
        "severity": severity,
        "category": "conformance",
        "reason": f"breaks the {column} rule",
        "rows": 400,
        "failed": failed,
        "threshold": threshold,
        "within_threshold": failed <= round(400 * (1 - threshold)),
    }
    return Check(**{**values, **more})


CHECKS = [
    check("code_valid", 3, threshold=0.99),  # within: 3 of 400 < 1%
    check("journal_person_id", 5, threshold=0.99),  # beyond: 5 of 400 > 1%
    check("sex", 9, severity="warning", threshold=0.99, entity="person", category="conformance"),
    check(
        "recorded_at",
        0,
        within_threshold=False,
        error="unsupported operand for 15108695088 <script>",
        expectation="expect_column_pair_values_a_to_be_at_most_days_after_b",
    ),
    check("code", 0, source_system="gp-journal", entity="medication", category="completeness"),
]


def golden(name: str, text: str) -> None:
    """Compare with tests/cases/gate/<name>; ENJOURNAL_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("ENJOURNAL_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_gate_fails_on_critical_checks_beyond_threshold_only() -> None:
    verdict = Verdict(CHECKS)
    assert [c.column for c in verdict.failures] == ["journal_person_id", "recorded_at"]
    assert [c.column for c in verdict.warnings] == ["sex"]
    assert not verdict.passed
    assert Verdict([c for c in CHECKS if c.column not in ("journal_person_id", "recorded_at")]).passed


def test_describe_gives_numerator_denominator_and_threshold() -> None:
    assert describe(CHECKS[1]) == ("5 of 400 rows (1.25%) breaks the journal_person_id rule; at most 1% may")
    assert describe(CHECKS[4]).endswith("; none may")


def test_junit_xml_matches_its_golden_file_and_ci_can_read_it() -> None:
    text = junit_xml(Verdict(CHECKS))
    golden("junit.xml", text)
    root = ET.fromstring(text.encode("utf-8"))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"hospital-epr.condition", "hospital-epr.person", "gp-journal.medication"}
    assert "15108695088" not in text and "<script>" not in text


def test_verdict_json_matches_its_golden_file() -> None:
    text = json.dumps(Verdict(CHECKS).as_dict(), indent=2, ensure_ascii=False) + "\n"
    golden("gate.json", text)
    assert "15108695088" not in text
