"""Text → typed values, a whole column at a time: dates, numbers and yes/no values.

The engine parses staged text with it, and a spec's constants, defaults and value maps
are parsed with it on load, so a value that cannot fit its field fails the spec, not
the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

TRUE_WORDS = frozenset({"1", "true", "t", "j", "ja", "y", "yes"})
FALSE_WORDS = frozenset({"0", "false", "f", "n", "nei", "no"})
HL7_OFFSET = re.compile(r"[+-]\d{4}$")
HL7_FORMATS = {4: "%Y", 6: "%Y%m", 8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}

_NORWEGIAN_MONTHS = {
    "januar": "January",
    "februar": "February",
    "mars": "March",
    "april": "April",
    "mai": "May",
    "juni": "June",
    "juli": "July",
    "august": "August",
    "september": "September",
    "oktober": "October",
    "november": "November",
    "desember": "December",
    "okt": "Oct",
    "des": "Dec",
}
LOCALES: dict[str, dict[str, str]] = {"en": {}, "nb": _NORWEGIAN_MONTHS, "nn": _NORWEGIAN_MONTHS}
"""Month names per locale, rewritten to English so that `%B` / `%b` read them."""


@dataclass(frozen=True)
class ValueFormat:
    """How a column writes its values: date formats and locale, number separators."""

    formats: tuple[str, ...] = ()
    decimal: str = "."
    thousands: str | None = None
    locale: str = "en"


@dataclass(frozen=True)
class Parsed:
    values: pd.Series
    failed: pd.Series
    problem: str
    """Why a failed value failed, e.g. "is not a valid date (%d.%m.%Y)"."""


def parse(kind: str, values: pd.Series, how: ValueFormat = ValueFormat()) -> Parsed:
    """Values of `kind` (text, date, datetime, number, boolean); failures are flagged, not raised."""
    if kind in ("date", "datetime"):
        parsed = datetimes(_localised(values.astype("string"), how.locale), how.formats)
        formats = ", ".join(how.formats) or "ISO 8601"
        problem = f"is not a valid date ({formats})"
        return Parsed(parsed.dt.normalize() if kind == "date" else parsed, _failed(values, parsed), problem)
    if kind == "number":
        parsed = numbers(values, how.decimal, how.thousands)
        return Parsed(parsed, _failed(values, parsed), "is not a number")
    if kind == "boolean":
        parsed = booleans(values)
        return Parsed(parsed, _failed(values, parsed), "is not a yes/no value")
    text = values.astype("string")
    return Parsed(text, pd.Series(False, index=values.index), "")


def numbers(values: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Numbers written with any decimal mark; a point still reads as one unless it groups thousands."""
    text = values.astype("string").str.replace(r"\s", "", regex=True)
    if thousands is not None and thousands.strip():
        text = text.str.replace(thousands, "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("Float64")


def booleans(values: pd.Series) -> pd.Series:
    """Yes/no words in Norwegian and English (and the booleans a value map may produce)."""
    words = values.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[words.isin(TRUE_WORDS).fillna(False).to_numpy()] = True
    out[words.isin(FALSE_WORDS).fillna(False).to_numpy()] = False
    return out


def datetimes(values: pd.Series, formats: tuple[str, ...] | list[str]) -> pd.Series:
    """The first format that reads a value wins; `hl7` is HL7 DTM, `iso` ISO 8601."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for fmt in formats or ["iso"]:
        todo = result.isna() & values.notna()
        if not todo.any():
            break
        pending = values[todo]
        if fmt == "hl7":
            parsed = _hl7_datetimes(pending)
        elif fmt == "iso":
            parsed = pd.to_datetime(pending, format="ISO8601", errors="coerce")
        else:
            parsed = pd.to_datetime(pending, format=fmt, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        result[todo] = parsed.astype("datetime64[us]")
    return result


def _hl7_datetimes(values: pd.Series) -> pd.Series:
    """HL7 DTM (YYYY[MM[DD[HH[MM[SS]]]]][.S][+/-ZZZZ]), as recorded: the offset is dropped."""
    bare = values.str.replace(HL7_OFFSET, "", regex=True).str.split(".").str[0]
    lengths = bare.str.len()
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for length, fmt in HL7_FORMATS.items():
        rows = (lengths == length).fillna(False)
        if rows.any():
            parsed[rows] = pd.to_datetime(bare[rows], format=fmt, errors="coerce").astype("datetime64[us]")
    return parsed


def _localised(values: pd.Series, locale: str) -> pd.Series:
    for name, english in sorted(LOCALES[locale].items(), key=lambda item: -len(item[0])):
        values = values.str.replace(rf"\b{name}\b", english, case=False, regex=True)
    return values


def _failed(values: pd.Series, parsed: pd.Series) -> pd.Series:
    return (values.notna() & parsed.isna()).fillna(False).astype(bool)
