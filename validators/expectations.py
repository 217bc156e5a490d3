"""Custom Great Expectations expectations: the checks a patient journal needs and GX lacks.

Importing this module registers them with GX, so suite JSON can name them by type like any
built-in one. Each is row-level (a map expectation), so its failing rows can be
quarantined. Dates are compared by calendar day: a record written at 14:00 on the day of
death is not after the death.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from identity.national_id import classify

PAIR_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_A",
    "column_B",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)
IgnoreRowIf = Literal["both_values_are_missing", "either_value_is_missing", "neither"]


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


class NationalIdValid(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_national_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: object) -> pd.Series:
        return column.map(lambda value: classify(str(value)).valid)


class ExpectColumnValuesToBeValidNationalId(ColumnMapExpectation):
    """A Norwegian national identity number (fødselsnummer, D-, H-, FH-number) with valid check digits."""

    map_metric: ClassVar[str] = "column_values.valid_national_id"


class PairAtMostDaysAfter(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_at_most_days_after_b"
    condition_domain_keys = PAIR_DOMAIN_KEYS
    condition_value_keys = ("max_days",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, max_days: int, **kwargs: object) -> pd.Series:
        return _days(column_A) <= _days(column_B) + pd.Timedelta(days=max_days)


class ExpectColumnPairValuesAToBeAtMostDaysAfterB(ColumnPairMapExpectation):
    """The day of A is on or before the day of B plus `max_days` (e.g. a record and the person's death)."""

    max_days: int = 0
    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.a_at_most_days_after_b"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "max_days", "mostly")


class PairYearsAfterBetween(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_years_after_b_between"
    condition_domain_keys = PAIR_DOMAIN_KEYS
    condition_value_keys = ("min_value", "max_value")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls, column_A: pd.Series, column_B: pd.Series, min_value: int, max_value: int, **kwargs: object
    ) -> pd.Series:
        later, earlier = pd.to_datetime(column_A), pd.to_datetime(column_B)
        before_anniversary = (later.dt.month * 100 + later.dt.day) < (earlier.dt.month * 100 + earlier.dt.day)
        years = later.dt.year - earlier.dt.year - before_anniversary.astype(int)
        return (years >= min_value) & (years <= max_value)


class ExpectColumnPairValuesAToBeYearsAfterBBetween(ColumnPairMapExpectation):
    """Whole years from B to A within [min_value, max_value] (e.g. age at an encounter, from birth)."""

    min_value: int = 0
    max_value: int
    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.a_years_after_b_between"
    success_keys: ClassVar[tuple[str, ...]] = (
        "column_A",
        "column_B",
        "ignore_row_if",
        "min_value",
        "max_value",
        "mostly",
    )


class PairWithinUnitLimits(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_within_limits_for_unit_b"
    condition_domain_keys = PAIR_DOMAIN_KEYS
    condition_value_keys = ("limits",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls, column_A: pd.Series, column_B: pd.Series, limits: dict[str, list[float | None]], **kwargs: object
    ) -> pd.Series:
        low = column_B.map({unit: bounds[0] for unit, bounds in limits.items()}).astype("Float64")
        high = column_B.map({unit: bounds[1] for unit, bounds in limits.items()}).astype("Float64")
        values = column_A.astype("Float64")
        return ((values >= low) | low.isna()) & ((values <= high) | high.isna())


class ExpectColumnPairValuesAToBeWithinLimitsForUnitB(ColumnPairMapExpectation):
    """A value within the physical limits of its unit ([low, high], null = open; other units pass).

    One expectation for every unit, not one per unit with a row condition: GX filters the
    whole frame once per condition and metric, which made the gate several times slower.
    """

    limits: dict[str, list[float | None]]
    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.a_within_limits_for_unit_b"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "limits", "mostly")
