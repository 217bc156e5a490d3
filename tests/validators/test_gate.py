"""The quality gate: critical failures quarantine their rows with a reason; warnings only report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from validators.gate import SUITES_DIR, Check, SuiteError, load_suite, validate

NOW = dt.datetime(2026, 11, 23, 12, 0)
ENTITIES = ("person", "encounter", "condition", "observation", "medication", "allergy", "document")


def mapped(**columns: list[object]) -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    base = {
        "source_system": ["epr"] * size,
        "source_kind": ["sql"] * size,
        "source_locator": [f"T:{i}" for i in range(size)],
        "source_record_id": [str(i) for i in range(size)],
        "source_person_id": ["1"] * size,
        "source_timestamp": [None] * size,
        "record_hash": [f"{i:064x}" for i in range(size)],
        "journal_person_id": pd.array([1] * size, dtype="Int64"),
    }
    return pd.DataFrame({**base, **columns})


def reasons(outcome) -> dict[str, str]:  # noqa: ANN001
    return dict(zip(outcome.quarantine["source_record_id"], outcome.quarantine["reason"], strict=True))


def check(outcome, column: str, expectation: str | None = None) -> Check:  # noqa: ANN001
    return next(c for c in outcome.checks if c.column == column and expectation in (None, c.expectation))


PERSONS = pd.DataFrame(
    {
        "journal_person_id": [1, 2],
        "birth_date": pd.to_datetime(["1950-06-15", "1900-06-15"]),
        "deceased_date": pd.to_datetime(["2020-03-10", None]),
    }
)


def test_planted_bad_rows_are_quarantined_exactly_with_readable_reasons() -> None:
    rows = mapped(
        code_system=["urn:oid:2.16.578.1.12.4.1.1.7110"] * 5,
        code=["E119", "I10", "X999", None, "J449"],
        code_valid=pd.array([True, True, False, pd.NA, True], dtype="boolean"),
        recorded_at=pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01", "2020-01-01", "2031-01-01"]),
    ).assign(journal_person_id=pd.array([1, None, 1, 1, 1], dtype="Int64"))
    outcome = validate("condition", "epr", rows, now=NOW)
    assert outcome.passed["source_record_id"].tolist() == ["0"]
    assert reasons(outcome) == {
        "1": "condition.source_person_id '1' is not tied to a person: the source has no person record with this id",
        "2": "condition.code 'X999' is not a valid code in its code system",
        "3": "condition.code '(empty)' has no code",
        "4": "condition.recorded_at '2031-01-01' is in the future",
    }
    quarantine = outcome.quarantine.set_index("source_record_id")
    assert set(quarantine["stage"]) == {"validate"}
    assert quarantine.loc["2", "rule"] == "gx.expect_column_values_to_be_in_set.code"
    assert (quarantine.loc["2", "field"], quarantine.loc["2", "value"]) == ("code", "X999")
    validity = check(outcome, "code_valid")
    assert (validity.failed, validity.rows, validity.threshold, validity.within_threshold) == (
        1,
        5,
        0.99,
        False,
    )


def test_warnings_are_reported_not_quarantined() -> None:
    rows = mapped(
        start=pd.to_datetime(["2020-01-02", "2020-01-01"]),
        end=pd.to_datetime(["2020-01-01", "2020-01-03"]),
        class_code=["AMB", "IMP"],
    )
    outcome = validate("encounter", "epr", rows, now=NOW)
    assert len(outcome.passed) == 2 and outcome.quarantine.empty
    warning = check(outcome, "end")
    assert (warning.severity, warning.failed, warning.within_threshold) == ("warning", 1, False)
    assert all(c.within_threshold for c in outcome.checks if c.severity == "critical")


def test_lifetime_checks_use_the_persons_golden_dates_by_calendar_day() -> None:
    rows = mapped(
        start=pd.to_datetime(
            [
                "2020-03-10 14:00",  # on the day of death: fine
                "2020-03-11 08:00",  # the day after death
                "1950-06-14 23:00",  # the day before birth
                "2025-06-14 10:00",  # person 2 aged 124
                "2026-06-15 10:00",  # person 2 aged 126
                "1950-06-15 00:00",  # at birth
            ]
        ),
        class_code=["AMB"] * 6,
    ).assign(journal_person_id=pd.array([1, 1, 1, 2, 2, 1], dtype="Int64"))
    outcome = validate("encounter", "epr", rows, now=NOW, persons=PERSONS)
    assert reasons(outcome) == {
        "1": "encounter.start '2020-03-11 08:00:00' is after the person's death",
        "2": "encounter.start '1950-06-14 23:00:00' is before the person's birth",
        "4": "encounter.start '2026-06-15 10:00:00' puts the person's age outside 0 to 125 years",
    }
    assert list(outcome.passed.columns) == list(rows.columns), "the persons' dates are not loaded"
    assert "person_birth_date" not in outcome.quarantine["raw_payload"].iloc[0]
    assert validate("encounter", "epr", rows, now=NOW).quarantine.empty, "no persons, nothing to compare"


def test_documents_may_follow_a_death_by_sixty_days() -> None:
    rows = mapped(
        content=["epikrise", "obduksjon", "sen"],
        authored_at=pd.to_datetime(["2020-03-20", "2020-05-09", "2020-05-10"]),
    )
    outcome = validate("document", "epr", rows, now=NOW, persons=PERSONS)
    assert list(reasons(outcome)) == ["2"]
    assert "more than 60 days after the person's death" in reasons(outcome)["2"]


def test_lab_values_outside_physical_ranges_are_quarantined() -> None:
    rows = mapped(
        code_system=["urn:oid:2.16.578.1.12.4.1.1.7280"] * 5,
        code=["NPU19748", "NPU01370", "NPU12345", "NPU99998", "VEKT"],
        code_valid=[True] * 5,
        effective_at=pd.to_datetime(["2020-01-01"] * 5),
        value_num=[-3.0, 150.0, -2.5, 101.0, 12.0],
        unit=["mg/L", "µmol/L", "mmol/L", "%", "kg"],
    )
    outcome = validate("observation", "epr", rows, now=NOW)
    impossible = "is physically impossible in its unit (below zero or above the unit's limit)"
    assert reasons(outcome) == {
        "0": f"observation.value_num '-3.0' {impossible}",
        "3": f"observation.value_num '101.0' {impossible}",
    }, "a negative base excess (mmol/L) is possible; a negative CRP is not; nor 101 %"


def test_a_key_twice_in_one_source_quarantines_both_rows() -> None:
    rows = mapped(start=pd.to_datetime(["2020-01-01"] * 3), class_code=["AMB"] * 3).assign(
        source_record_id=["7", "7", "8"]
    )
    outcome = validate("encounter", "epr", rows, now=NOW)
    assert outcome.quarantine["source_record_id"].tolist() == ["7", "7"]
    assert outcome.passed["source_record_id"].tolist() == ["8"]


def test_a_column_the_source_does_not_map_is_empty() -> None:
    rows = mapped(class_code=["AMB"])  # no start at all: a required field is missing
    outcome = validate("encounter", "epr", rows, now=NOW)
    assert reasons(outcome) == {"0": "encounter.start '(empty)' has no start time"}
    assert not any(c.error for c in outcome.checks), "an optional column (end) just has nothing to check"


def test_reasons_never_show_a_full_national_id() -> None:
    rows = mapped(
        code_system=["urn:oid:2.16.578.1.12.4.1.1.7110"],
        code=["15108695088"],
        code_valid=[False],
        recorded_at=pd.to_datetime(["2020-01-01"]),
    )
    outcome = validate("condition", "epr", rows, now=NOW)
    assert reasons(outcome)["0"] == "condition.code '151086*****' is not a valid code in its code system"
    assert "15108695088" not in json.dumps(outcome.result)


def test_an_invalid_national_id_is_a_warning_and_the_person_loads() -> None:
    persons = mapped(
        national_id=["15108695088", "15108695077", None],
        birth_date=pd.to_datetime(["1986-10-15"] * 3),
        family_name=["Berg"] * 3,
        given_name=["Kari"] * 3,
        sex=["female"] * 3,
    )
    outcome = validate("person", "epr", persons, now=NOW)
    assert len(outcome.passed) == 3
    national = check(outcome, "national_id")
    assert (national.severity, national.failed, national.rows) == ("warning", 1, 3)
    samples = json.dumps(outcome.result)
    assert "151086*****" in samples and "15108695077" not in samples


def test_a_broken_expectation_fails_its_check_and_quarantines_nothing(tmp_path: Path) -> None:
    suite = load_suite("allergy")
    suite["expectations"].append(
        {
            "type": "expect_column_pair_values_a_to_be_at_most_days_after_b",
            "kwargs": {"column_A": "recorded_at", "column_B": "reaction", "max_days": 0},
            "severity": "critical",
            "meta": {"reason": "compares a date with text", "category": "plausibility"},
        }
    )
    (tmp_path / "allergy.json").write_text(json.dumps(suite))
    rows = mapped(
        code_system=["urn:oid:2.16.578.1.12.4.1.1.7180"],
        code=["N02BE01"],
        code_valid=[True],
        recorded_at=pd.to_datetime(["2020-01-01"]),
        reaction=["utslett"],
    )
    outcome = validate("allergy", "epr", rows, now=NOW, suites_dir=tmp_path)
    broken = next(c for c in outcome.checks if c.reason == "compares a date with text")
    assert broken.error and not broken.within_threshold
    assert outcome.quarantine.empty


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_packaged_suite_loads_with_gx(entity: str) -> None:
    suite = load_suite(entity)
    assert suite["name"] == f"journal.{entity}" and (SUITES_DIR / f"{entity}.json").exists()
    assert {e["meta"]["category"] for e in suite["expectations"]} <= {
        "conformance",
        "completeness",
        "plausibility",
    }


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"type": "expect_column_values_to_be_nice"}, "expect_column_values_to_be_nice not found"),
        ({"kwargs": {"colum": "code"}}, "colum"),
        ({"severity": "fatal"}, "severity must be one of critical, warning"),
        ({"meta": {"reason": "has no code"}}, "meta needs a reason and a category"),
    ],
)
def test_a_broken_suite_is_refused_naming_its_file_and_expectation(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    """GX itself would drop an expectation of an unknown type with only a log line."""
    suite = load_suite("condition")
    suite["expectations"][2] |= change
    (tmp_path / "condition.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteError, match=problem) as error:
        load_suite("condition", tmp_path)
    assert "condition.json: expectation 3" in str(error.value)
