"""Run the Great Expectations suites on mapped rows: row-level quarantine and a gate verdict.

Suites are JSON files (one per journal entity) in GX 1.x's own format; each expectation
carries GX's `severity` (critical / warning) and its threshold (`mostly`), plus a
readable `meta.reason` and an OHDSI-style `meta.category` (conformance, completeness,
plausibility). Rows failing a critical expectation are quarantined whatever the
threshold; the threshold decides whether the gate passes. Great Expectations is imported
only when validation runs, never at CLI start.

Checks that need the person (dates before birth or after death, age at an encounter) see
the person's golden birth and death dates as `person_birth_date` / `person_deceased_date`
beside each row, joined here by journal_person_id and dropped again: the journal's
columns do not change for them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd

from connectors.base import QUARANTINE_COLUMNS, quarantine_frame
from identity.national_id import redact_ids
from validators.privacy import redact_values

SUITES_DIR = Path(__file__).parent / "suites"
SEVERITIES = ("critical", "warning")
CATEGORIES = ("conformance", "completeness", "plausibility")
"""OHDSI DataQualityDashboard's kinds of check."""
EARLIEST_BIRTH = pd.Timestamp("1870-01-01")
PERSON_CONTEXT = {"birth_date": "person_birth_date", "deceased_date": "person_deceased_date"}
"""Golden-record column → the name it has beside a clinical row during validation."""
COLUMN_KWARGS = ("column", "column_A", "column_B")
ROW_LISTS = ("unexpected_list", "unexpected_index_list", "partial_unexpected_index_list", "unexpected_rows")
"""Per-row lists of a GX result: the quarantine holds them; reports keep counts and samples."""


@dataclass
class Check:
    """One expectation's outcome on one source's rows of one entity (numerator/denominator)."""

    source_system: str
    entity: str
    expectation: str
    column: str
    severity: str
    category: str
    reason: str
    rows: int
    failed: int
    threshold: float
    within_threshold: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_unchanged(self, unchanged: int) -> Check:
        """The check over this run's rows plus `unchanged` rows that passed it in an earlier
        run: an incremental run validates only what changed, the threshold is on the source."""
        if not unchanged:
            return self
        rows = self.rows + unchanged
        within = self.error is None and self.failed <= rows * (1 - self.threshold) + 1e-9
        return replace(self, rows=rows, within_threshold=within)


@dataclass
class GateOutcome:
    passed: pd.DataFrame
    quarantine: pd.DataFrame
    checks: list[Check]
    result: dict[str, Any] | None = None
    """The GX validation result as JSON for Data Docs: counts and redacted sample values."""


class SuiteError(ValueError):
    """A suite that cannot be used, with its file and the expectation in the message."""


def load_suite(entity: str, suites_dir: Path | None = None) -> dict[str, Any]:
    """The suite JSON of an entity (packaged unless a folder is given), checked before use.

    GX drops an expectation of an unknown type with no more than a log line, so every
    expectation is built here first: a typo must not quietly remove a check. Each must
    also say its severity, reason and category.
    """
    path = (suites_dir or SUITES_DIR) / f"{entity}.json"
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SuiteError(f"{path}: not a readable suite ({error})") from error
    for position, spec in enumerate(suite.get("expectations", []), 1):
        _check_expectation(spec, f"{path}: expectation {position} ({spec.get('type')})")
    return suite


def _check_expectation(spec: dict[str, Any], where: str) -> None:
    from great_expectations.expectations.registry import get_expectation_impl

    from validators import expectations  # noqa: F401 - registers the custom expectations with GX

    meta = spec.get("meta") or {}
    if spec.get("severity") not in SEVERITIES:
        raise SuiteError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    if not meta.get("reason") or meta.get("category") not in CATEGORIES:
        raise SuiteError(f"{where}: meta needs a reason and a category ({', '.join(CATEGORIES)})")
    try:
        get_expectation_impl(spec["type"])(**spec.get("kwargs", {}))
    except Exception as error:  # noqa: BLE001 - GX raises several kinds; each means the same here
        raise SuiteError(f"{where}: {error}") from error


GX_LOCK = threading.Lock()
"""The process's one GX context and its per-entity batch definitions are shared state: two
sources validated at the same time (threads of a flow, of a Dask worker) take turns there."""


def validate(
    entity: str,
    source_system: str,
    rows: pd.DataFrame,
    *,
    now: dt.datetime,
    suites_dir: Path | None = None,
    persons: pd.DataFrame | None = None,
) -> GateOutcome:
    """Validate one source's mapped rows of one entity against its suite.

    `persons` (journal_person_id, birth_date, deceased_date) gives the lifetime checks
    their dates; without it they have nothing to compare and pass.
    """
    suite_json = load_suite(entity, suites_dir)
    if rows.empty:
        return GateOutcome(rows, pd.DataFrame(columns=list(QUARANTINE_COLUMNS)), [])
    import great_expectations as gx

    specs = suite_json["expectations"]
    frame = rows.reset_index(drop=True)
    checked = _checked_frame(frame, specs, persons)
    suite = gx.ExpectationSuite(
        name=suite_json["name"],
        expectations=[{**spec, "id": str(UUID(int=position))} for position, spec in enumerate(specs)],
        meta=suite_json.get("meta", {}),
    )
    with GX_LOCK:
        batch = _batch_definition(entity).get_batch(batch_parameters={"dataframe": checked})
        result = batch.validate(
            suite,
            result_format="COMPLETE",
            expectation_parameters={"now": pd.Timestamp(now), "earliest_birth": EARLIEST_BIRTH},
        )
    failing = pd.Series(pd.NA, index=frame.index, dtype="string")
    fields, values, rules = failing.copy(), failing.copy(), failing.copy()
    checks: list[Check] = []
    for outcome in sorted(result.results, key=_position):
        spec = specs[_position(outcome)]
        check, indices = _check(outcome, spec, source_system, entity, len(frame))
        checks.append(check)
        if check.severity != "critical" or not indices:
            continue
        index = pd.Index(indices)
        fresh = index[failing[index].isna().to_numpy()]
        column = spec.get("meta", {}).get("show", check.column)
        shown = checked.loc[fresh, column].astype("string")
        failing[fresh] = (
            f"{entity}.{column} " + shown.fillna("(empty)").map(repr).map(redact_ids) + f" {check.reason}"
        )
        fields[fresh] = column
        values[fresh] = shown
        rules[fresh] = f"gx.{check.expectation}.{column}"
    bad = failing.notna()
    quarantine = quarantine_frame(
        frame[bad],
        entity=entity,
        stage="validate",
        rule=rules[bad],
        reason=failing[bad],
        field_name=fields[bad],
        value=values[bad],
    )
    return GateOutcome(frame[~bad].reset_index(drop=True), quarantine, checks, _report(result))


def _checked_frame(
    frame: pd.DataFrame, specs: list[dict[str, Any]], persons: pd.DataFrame | None
) -> pd.DataFrame:
    """The rows with the person's dates beside them, and every column the suite names present.

    A column the source does not map is empty: an expectation on it then checks nothing,
    unless it requires values (not null), which is what a missing required field should do.
    """
    checked = frame
    if persons is not None and "journal_person_id" in frame:
        dates = persons[["journal_person_id", *PERSON_CONTEXT]].rename(columns=PERSON_CONTEXT)
        dates = dates.astype({"journal_person_id": "Int64"}).drop_duplicates("journal_person_id")
        for column in PERSON_CONTEXT.values():
            dates[column] = pd.to_datetime(dates[column])
        keys = frame[["journal_person_id"]].astype("Int64")
        joined = keys.merge(dates, on="journal_person_id", how="left")
        checked = frame.assign(**{c: joined[c].to_numpy() for c in PERSON_CONTEXT.values()})
    named = {spec["kwargs"][k] for spec in specs for k in COLUMN_KWARGS if k in spec["kwargs"]}
    missing = sorted(named - set(checked.columns))
    return checked.assign(**dict.fromkeys(missing, None)) if missing else checked


def _position(outcome: Any) -> int:
    """The expectation's place in its suite: GX may reorder results, the id (a UUID) tells."""
    return UUID(outcome.expectation_config.id).int


def _check(
    outcome: Any, spec: dict[str, Any], source: str, entity: str, total: int
) -> tuple[Check, list[int]]:
    kwargs = spec.get("kwargs", {})
    column = kwargs.get("column") or kwargs.get("column_A") or ""
    error = _error(outcome.exception_info)
    details = outcome.result or {}
    indices = [int(i) for i in details.get("unexpected_index_list") or []]
    failed = int(details.get("unexpected_count") or 0)
    return (
        Check(
            source_system=source,
            entity=entity,
            expectation=spec["type"],
            column=column,
            severity=spec.get("severity", "critical"),
            category=spec.get("meta", {}).get("category", ""),
            reason=spec.get("meta", {}).get("reason", spec["type"]),
            rows=total,
            failed=failed,
            threshold=float(kwargs.get("mostly", 1.0)),
            within_threshold=bool(outcome.success) and error is None,
            error=error,
        ),
        indices,
    )


def _error(info: dict[str, Any] | None) -> str | None:
    """GX reports an exception flat, or per metric when a metric could not be computed."""
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info["raised_exception"] else None
    messages = [str(v.get("exception_message")) for v in info.values() if v.get("raised_exception")]
    return "; ".join(messages) or None


def _report(result: Any) -> dict[str, Any]:
    """The validation result fit for Data Docs: no per-row lists, sample values redacted."""
    report = result.to_json_dict()
    for item in report["results"]:
        details = {k: v for k, v in (item.get("result") or {}).items() if k not in ROW_LISTS}
        item["result"] = redact_values(details)
    return report


@cache
def _batch_definition(entity: str) -> Any:
    """One dataframe asset per entity in the process's GX context."""
    source = _context().data_sources.add_or_update_pandas(f"journal_{entity}")
    asset = source.add_dataframe_asset(entity)
    return asset.add_batch_definition_whole_dataframe(f"{entity}_rows")


@cache
def _context() -> Any:
    """One ephemeral GX context per process, without progress bars."""
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def quiet_gx() -> None:
    """Great Expectations without analytics and without its info logging."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations  # noqa: F401 - importing it sets the level the next lines lower

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # GX sets the second to INFO itself
