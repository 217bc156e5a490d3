"""Comparison vectors: the level of every field for every candidate pair, vectorised.

A level's test runs over all pairs not yet given a level for that field (first level
that holds wins). Strings are factorised once per column, and similarity is computed
once per distinct pair of values with rapidfuzz, so common names cost nothing extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from identity.prepare import NO_DATE
from identity.spec import Comparison, Level, LinkageSpec

NULL = 0
DAY_OFFSET = 1_000_000
"""Birth dates are coded as day number + offset, so that every real date codes >= 0."""


@dataclass
class Vectors:
    """levels[pair, field] (0 = missing on a side) and, per field, the term frequency
    of the agreed value where the pair's level is term-frequency adjusted (else NaN)."""

    levels: np.ndarray
    tf: dict[str, np.ndarray] = field(default_factory=dict)


class Columns:
    """Per-record views of the prepared records that tests need, made once and cached."""

    def __init__(self, records: pd.DataFrame) -> None:
        self.records = records
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes per record (-1 = missing) and the distinct values."""
        if column not in self._codes:
            values = self.records[column]
            if column == "birth_date":
                days = self.records["birth_days"].to_numpy().astype(np.int64)
                self._codes[column] = (np.where(days == NO_DATE, -1, days + DAY_OFFSET), np.empty(0))
            else:
                codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
                self._codes[column] = (codes.astype(np.int64), np.asarray(uniques, dtype=object))
        return self._codes[column]

    def derived(self, column: str, name: str, make: object) -> tuple[np.ndarray, np.ndarray]:
        key = f"{column}:{name}"
        if key not in self._codes:
            values = self.records[column].astype("string")
            self.records = self.records.assign(**{key: make(values)})  # type: ignore[operator]
            self._codes[key] = self.codes(key)
        return self._codes[key]

    def term_frequency(self, column: str) -> np.ndarray:
        """Share of records (with a value) holding each distinct value, by code."""
        codes, uniques = self.codes(column)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        return counts / max(counts.sum(), 1)


def compare(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, spec: LinkageSpec) -> Vectors:
    """Levels of every comparison in `spec` for the pairs (left[i], right[i])."""
    columns = Columns(records)
    levels = np.zeros((len(left), len(spec.comparisons)), dtype=np.int8)
    tf: dict[str, np.ndarray] = {}
    for number, comparison in enumerate(spec.comparisons):
        levels[:, number], frequency = _levels(columns, comparison, left, right)
        if frequency is not None:
            tf[comparison.name] = frequency
    return Vectors(levels, tf)


def _levels(
    columns: Columns, comparison: Comparison, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    codes, _ = columns.codes(comparison.column)
    out = np.full(len(left), NULL, dtype=np.int8)
    todo = (codes[left] >= 0) & (codes[right] >= 0)
    tf = any(level.tf for level in comparison.levels)
    frequency = np.full(len(left), np.nan, dtype=np.float32) if tf else None
    similarity: dict[str, np.ndarray] = {}
    for number, level in enumerate(comparison.levels, start=1):
        rows = np.flatnonzero(todo)
        if not len(rows):
            break
        hit = _test(columns, comparison.column, level, left, right, rows, similarity)
        chosen = rows[hit]
        out[chosen] = number
        todo[chosen] = False
        if level.tf and frequency is not None:
            token = "first" if level.test == "first_token" else None
            frequency[chosen] = _frequency(columns, comparison.column, token)[left[chosen]]
    return out, frequency


def _frequency(columns: Columns, column: str, token: str | None) -> np.ndarray:
    codes, _ = _first_tokens(columns, column) if token else columns.codes(column)
    table = columns.term_frequency(f"{column}:first" if token else column)
    return np.where(codes >= 0, table[np.maximum(codes, 0)], np.nan)


def _first_tokens(columns: Columns, column: str) -> tuple[np.ndarray, np.ndarray]:
    return columns.derived(column, "first", lambda v: v.str.split(" ", n=1).str[0])


def _last_tokens(columns: Columns, column: str) -> tuple[np.ndarray, np.ndarray]:
    return columns.derived(column, "last", lambda v: v.str.rsplit(" ", n=1).str[-1])


def _test(
    columns: Columns,
    column: str,
    level: Level,
    all_left: np.ndarray,
    all_right: np.ndarray,
    rows: np.ndarray,
    cache: dict[str, np.ndarray],
) -> np.ndarray:
    """Which of the pairs `rows` pass the level's test (similarities cached across levels)."""
    codes, uniques = columns.codes(column)
    left, right = all_left[rows], all_right[rows]
    test = level.test
    if test == "else":
        return np.ones(len(left), dtype=bool)
    if test == "exact":
        return codes[left] == codes[right]
    if test == "first_token":
        first, _ = _first_tokens(columns, column)
        return (first[left] == first[right]) & (first[left] >= 0)
    if test == "prefix":
        prefix, _ = columns.derived(column, f"prefix{level.length}", lambda v: v.str[: level.length])
        return prefix[left] == prefix[right]
    if test == "token_overlap":
        first, _ = _first_tokens(columns, column)
        last, _ = _last_tokens(columns, column)
        tokens_left, tokens_right = (first[left], last[left]), (first[right], last[right])
        return np.logical_or.reduce([a == b for a in tokens_left for b in tokens_right])
    if test == "jaro_winkler":
        key = f"{column}:{level.token}"
        if key not in cache:
            words, words_uniques = _first_tokens(columns, column) if level.token else (codes, uniques)
            cache[key] = np.full(len(all_left), np.nan, dtype=np.float32)
            cache[key][rows] = _similarity(words[left], words[right], words_uniques, JaroWinkler)
        return cache[key][rows] >= level.min
    if test == "crossed":
        # First words only: a given name that also holds the middle name still crosses.
        codes, uniques = _first_tokens(columns, column)
        other, other_uniques = _first_tokens(columns, level.other or column)
        joined = np.concatenate([uniques, other_uniques])
        shifted = np.where(other >= 0, other + len(uniques), -1)
        one = _similarity(codes[left], shifted[right], joined, JaroWinkler)
        two = _similarity(shifted[left], codes[right], joined, JaroWinkler)
        return (one >= level.min) & (two >= level.min)
    if test == "one_edit":
        words, words_uniques = _first_tokens(columns, column) if level.token else (codes, uniques)
        return _similarity(words[left], words[right], words_uniques, OSA, distance=True) <= 1
    if test in ("id_conflict", "id_other_kind"):
        # Two different valid numbers: of one kind (two people), or of two kinds (a D-number
        # and a fødselsnummer: one person only if the D-number was replaced).
        strong = columns.records["id_strong"].to_numpy(dtype=bool)
        kind, _ = columns.codes("id_kind")
        same_kind = kind[left] == kind[right]
        two = strong[left] & strong[right] & (codes[left] != codes[right])
        return two & (same_kind if test == "id_conflict" else ~same_kind)
    days_left, days_right = codes[left], codes[right]
    year_l, month_l, day_l = _ymd(days_left)
    year_r, month_r, day_r = _ymd(days_right)
    if test == "same_year":
        return year_l == year_r
    if test == "date_swapped":
        return (year_l == year_r) & (month_l == day_r) & (day_l == month_r)
    if test == "date_one_digit":
        a = year_l * 10000 + month_l * 100 + day_l
        b = year_r * 10000 + month_r * 100 + day_r
        differing = sum(((a // 10**k) % 10 != (b // 10**k) % 10).astype(int) for k in range(8))
        return differing == 1
    raise ValueError(f"unknown comparison test {test}")


def _ymd(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = (codes - DAY_OFFSET).astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _similarity(
    a: np.ndarray, b: np.ndarray, uniques: np.ndarray, metric: object, distance: bool = False
) -> np.ndarray:
    """metric(uniques[a], uniques[b]) computed once per distinct (a, b); missing → 0 / inf."""
    present = (a >= 0) & (b >= 0)
    out = np.full(len(a), np.inf if distance else 0.0)
    if not present.any():
        return out
    key = a[present] * (len(uniques) + 1) + b[present]
    distinct, inverse = np.unique(key, return_inverse=True)
    first, second = uniques[distinct // (len(uniques) + 1)], uniques[distinct % (len(uniques) + 1)]
    scorer = metric.distance if distance else metric.normalized_similarity  # type: ignore[attr-defined]
    values = process.cpdist(first, second, scorer=scorer, workers=-1)
    out[present] = np.asarray(values, dtype=float)[inverse]
    return out
