"""The gate's verdict and its machine reports: JUnit XML for CI systems, JSON for scripts.

The gate passes when every critical check is within its threshold (OHDSI
DataQualityDashboard's rule: a check fails when more rows fail than its threshold allows).
Warnings beyond their threshold are reported, never failed. In JUnit, each check is a test
case of the suite `<source>.<entity>`: a critical check beyond its threshold is a failure,
a check that could not run an error, a warning beyond its threshold a passing case that
says so in its output.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from identity.national_id import redact_ids
from validators.gate import Check


@dataclass
class Verdict:
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        """Critical checks beyond their threshold, or that could not run."""
        return [c for c in self.checks if c.severity == "critical" and not c.within_threshold]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.severity != "critical" and not c.within_threshold]

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": len(self.checks),
            "critical_failures": len(self.failures),
            "warnings": len(self.warnings),
            "results": [{**c.as_dict(), "error": c.error and redact_ids(c.error)} for c in self.checks],
        }


def describe(check: Check) -> str:
    """`3 of 438 rows (0.68%) is not a valid code …; at most 1% may`: numerator, denominator, threshold."""
    share = check.failed / check.rows if check.rows else 0.0
    allowed = 1 - check.threshold
    limit = "none may" if allowed <= 0 else f"at most {allowed * 100:.3g}% may"
    return f"{check.failed} of {check.rows} rows ({share:.2%}) {check.reason}; {limit}"


def junit_xml(verdict: Verdict) -> str:
    """JUnit XML of the verdict: one test suite per source and entity, one test case per check."""
    root = ET.Element("testsuites", name="enjournal data-quality gate")
    _count(root, verdict.checks)
    ordered = sorted(verdict.checks, key=lambda c: (c.source_system, c.entity))
    for (source, entity), group in groupby(ordered, key=lambda c: (c.source_system, c.entity)):
        checks = list(group)
        suite = ET.SubElement(root, "testsuite", name=f"{source}.{entity}")
        _count(suite, checks)
        for check in checks:
            case = ET.SubElement(
                suite, "testcase", classname=f"{source}.{entity}", name=f"{check.column} {check.reason}"
            )
            detail = (
                f"{check.severity} {check.category} check {check.expectation} on {entity}.{check.column}: "
                f"{describe(check)}"
            )
            if check.error:
                ET.SubElement(
                    case, "error", message=redact_ids(check.error), type=check.expectation
                ).text = detail
            elif check.severity == "critical" and not check.within_threshold:
                ET.SubElement(case, "failure", message=describe(check), type=check.category).text = detail
            elif not check.within_threshold:
                ET.SubElement(case, "system-out").text = f"WARNING {detail}"
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _count(element: ET.Element, checks: Iterable[Check]) -> None:
    checks = list(checks)
    errors = sum(1 for c in checks if c.error)
    failures = sum(1 for c in checks if not c.error and c.severity == "critical" and not c.within_threshold)
    element.set("tests", str(len(checks)))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", "0")
