"""Fixed calendar of the synthetic region: its "today", each source's data window,
random instants inside windows, and the date formats the legacy systems write.

Everything is derived from REFERENCE_DATE, never from the wall clock, so that the
same seed always gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

REFERENCE_DATE = np.datetime64("2025-06-30", "D")
"""The legacy systems' "today": the day of the export."""

DAY = np.timedelta64(1, "D")
MINUTE = np.timedelta64(1, "m")
YEAR_DAYS = 365.25

WINDOWS: dict[str, tuple[np.datetime64, np.datetime64]] = {
    "hospital-epr": (np.datetime64("2015-01-01", "D"), REFERENCE_DATE),
    "hospital-hl7": (np.datetime64("2006-01-01", "D"), np.datetime64("2014-12-31", "D")),
    "municipal-care": (np.datetime64("2010-01-01", "D"), REFERENCE_DATE),
    "gp-journal": (np.datetime64("2010-01-01", "D"), REFERENCE_DATE),
    "gp-messages": (np.datetime64("2010-01-01", "D"), REFERENCE_DATE),
}
"""First and last day of clinical data per source (both inclusive)."""


def person_window(source: str, birth: np.ndarray, death: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days on which a person can have records in a source: the source window cut to
    the person's life (death NaT = alive). Empty where start > end."""
    first, last = WINDOWS[source]
    start = np.maximum(birth.astype("datetime64[D]"), first)
    end = np.where(np.isnat(death), last, np.minimum(death.astype("datetime64[D]"), last))
    return start, end.astype("datetime64[D]")


def uniform_days(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """One random day per element in [start, end] (inclusive; end >= start)."""
    span = (end - start).astype(np.int64) + 1
    return start + (rng.random(len(span)) * span).astype(np.int64) * DAY


def at_time_of_day(
    rng: np.random.Generator, days: np.ndarray, first_hour: int, last_hour: int, step: int
) -> np.ndarray:
    """Put each day at a random time between first_hour:00 and last_hour:00 in steps of
    `step` minutes (clinics book in slots; admissions arrive around the clock)."""
    slots = (last_hour - first_hour) * 60 // step
    minutes = first_hour * 60 + rng.integers(0, slots, len(days)) * step
    return days.astype("datetime64[m]") + minutes * MINUTE


def age_years(birth: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Whole years between birth and when (good enough for age bands)."""
    return (
        (when.astype("datetime64[D]") - birth.astype("datetime64[D]")).astype(np.int64) // YEAR_DAYS
    ).astype(np.int64)


def _parts(values: np.ndarray) -> list[str | None]:
    """ISO 'YYYY-MM-DDTHH:MM' strings, None for NaT."""
    text = np.datetime_as_string(np.asarray(values).astype("datetime64[m]"), unit="m")
    return [None if s == "NaT" else s for s in text.tolist()]


_STYLES: dict[str, Callable[[str], str]] = {
    "yyyymmdd": lambda s: s[0:4] + s[5:7] + s[8:10],
    "iso": lambda s: s[0:10],
    "iso_time": lambda s: s[0:10] + " " + s[11:16],
    "iso_seconds": lambda s: s + ":00",
    "no": lambda s: s[8:10] + "." + s[5:7] + "." + s[0:4],
    "no_time": lambda s: s[8:10] + "." + s[5:7] + "." + s[0:4] + " " + s[11:16],
    "hl7_minutes": lambda s: s[0:4] + s[5:7] + s[8:10] + s[11:13] + s[14:16],
    "hl7_seconds": lambda s: s[0:4] + s[5:7] + s[8:10] + s[11:13] + s[14:16] + "00",
}
"""Date formats of the legacy systems, keyed by a short name:
yyyymmdd 20190314 | iso 2019-03-14 | iso_time 2019-03-14 08:15 | iso_seconds
2019-03-14T08:15:00 | no 14.03.2019 | no_time 14.03.2019 08:15 | hl7_minutes
201903140815 | hl7_seconds 20190314081500."""


def fmt(values: np.ndarray, style: str) -> list[str | None]:
    """Format datetime64 values in one of the legacy styles; NaT becomes None."""
    convert = _STYLES[style]
    return [None if s is None else convert(s) for s in _parts(values)]
