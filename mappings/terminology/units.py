"""Unit conversion from `units.yaml`: each row's unit → the unit the journal wants."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

UNITS_FILE = Path(__file__).with_name("units.yaml")


@dataclass(frozen=True)
class Unit:
    """`factor × value + offset` gives the value in the base unit of `dimension`."""

    code: str
    dimension: str
    factor: float
    offset: float = 0.0


@cache
def known_units() -> dict[str, Unit]:
    """Unit codes and aliases (lower case) → their unit."""
    data = yaml.safe_load(UNITS_FILE.read_text(encoding="utf-8"))
    table: dict[str, Unit] = {}
    for dimension, members in data["dimensions"].items():
        for code, scale in members.items():
            factor, offset = (scale["factor"], scale["offset"]) if isinstance(scale, dict) else (scale, 0.0)
            table[code.lower()] = Unit(code, dimension, float(factor), float(offset))
    for alias, code in data["aliases"].items():
        table[str(alias).lower()] = table[code.lower()]
    return table


def unit(name: str) -> Unit | None:
    return known_units().get(name.strip().lower())


@dataclass(frozen=True)
class Conversion:
    """Per row: `scale × value + shift` is the value in the target unit (NA: no conversion)."""

    scale: pd.Series
    shift: pd.Series
    impossible: pd.Series
    """Rows whose unit is given but does not convert to the target."""


def conversion(source_units: pd.Series, to: str, factors: dict[str, float] | None = None) -> Conversion:
    """How to bring each row's value from its unit to `to`; rows without a unit stay as they are.

    `factors` (source unit → factor) come first: analyte-specific conversions that no
    dimension table knows, such as glucose from mg/dL to mmol/L.
    """
    target = unit(to)
    if target is None:
        raise ValueError(f"unknown unit {to!r}")
    names = source_units.astype("string").str.strip()
    overrides = {k.lower(): float(v) for k, v in (factors or {}).items()}
    table: dict[str, tuple[float, float]] = {}
    for name in names.dropna().unique():
        key = str(name).lower()
        source = unit(key)
        if key in overrides:
            table[key] = (overrides[key], 0.0)
        elif source is not None and source.dimension == target.dimension:
            table[key] = (source.factor / target.factor, (source.offset - target.offset) / target.factor)
    keys = names.str.lower()
    scale = keys.map({k: v[0] for k, v in table.items()}).astype("Float64")
    shift = keys.map({k: v[1] for k, v in table.items()}).astype("Float64")
    return Conversion(scale, shift, (names.notna() & scale.isna()).fillna(False).astype(bool))
