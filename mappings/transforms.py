"""The registry of Python transforms, for the rare value no declarative rule can derive.

A spec names a transform (`transform: birth_date_from_national_id`); an unknown name
fails the spec on load. A transform takes the column of text values and returns one of
the same length and index: text the rest of the rule parses, NA where it cannot derive
a value (the record then goes to quarantine, like any value that cannot be mapped).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from identity.national_id import classify_series

Transform = Callable[[pd.Series], pd.Series]

TRANSFORMS: dict[str, Transform] = {}


def register(name: str) -> Callable[[Transform], Transform]:
    """Make a transform available to specs under `name`."""

    def add(function: Transform) -> Transform:
        if name in TRANSFORMS:
            raise ValueError(f"transform {name!r} is registered twice")
        TRANSFORMS[name] = function
        return function

    return add


@register("birth_date_from_national_id")
def birth_date_from_national_id(values: pd.Series) -> pd.Series:
    """ISO birth date from a fødselsnummer or D-number, for sources that store no birth date.

    The century comes from the individual number (design §5), which no date format knows.
    """
    dates = classify_series(values)["id_birth_date"]
    return dates.dt.strftime("%Y-%m-%d").astype("string").where(dates.notna(), pd.NA)


@register("sex_from_national_id")
def sex_from_national_id(values: pd.Series) -> pd.Series:
    """male/female from the ninth digit of a pre-2032 number, for sources that store no sex."""
    return classify_series(values)["id_sex"].astype("string")
