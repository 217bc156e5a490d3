"""Reference catalogues (names, places, codes, templates) read from synthetic/data/*.csv,
and the weighted sampling the generators do with them.

The lists are data, not Python literals, so that people who know the domain can edit
them and tests can check the codes against the official code lists.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"

CHILD, ADULT, ELDERLY = 0, 1, 2
"""Age bands used for clinical plausibility: <18, 18-64, 65+."""


class Catalogue:
    """One CSV file as columns of strings, with numeric views on demand."""

    def __init__(self, name: str, rows: list[dict[str, str]]) -> None:
        self.name = name
        self.rows = rows
        self.columns = {key: [row[key] for row in rows] for key in (rows[0] if rows else {})}

    def __len__(self) -> int:
        return len(self.rows)

    def col(self, name: str) -> list[str]:
        """A column as a list of strings."""
        return self.columns[name]

    def num(self, name: str) -> np.ndarray:
        """A numeric column; empty cells become NaN."""
        return np.array([float(v) if v != "" else np.nan for v in self.columns[name]])

    def arr(self, name: str) -> np.ndarray:
        """A text column as a numpy object array (for fancy indexing)."""
        return np.array(self.columns[name], dtype=object)


@cache
def load(name: str) -> Catalogue:
    """Read data/<name>.csv (UTF-8, comma-separated, header row)."""
    with open(DATA_DIR / f"{name}.csv", encoding="utf-8", newline="") as handle:
        return Catalogue(name, list(csv.DictReader(handle)))


def pick(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to weights."""
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def age_band(age: np.ndarray) -> np.ndarray:
    """CHILD / ADULT / ELDERLY for ages in years."""
    return np.where(age < 18, CHILD, np.where(age < 65, ADULT, ELDERLY))


def care_group(age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Group index 0..5 = age band * 2 + sex (0 male, 1 female)."""
    return age_band(age) * 2 + female.astype(np.int64)


def group_weights(cat: Catalogue) -> np.ndarray:
    """6 x len(cat) weights from the w_child/w_adult/w_elderly and sex (M/K/blank)
    columns, indexed like care_group."""
    bands = np.vstack([cat.num("w_child"), cat.num("w_adult"), cat.num("w_elderly")])
    sex = np.array(cat.col("sex"))
    male_ok = (sex != "K").astype(float)
    female_ok = (sex != "M").astype(float)
    return np.vstack([bands[b] * ok for b in range(3) for ok in (male_ok, female_ok)])


def pick_by_group(rng: np.random.Generator, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One catalogue index per element, drawn with the weights of its group (rows of
    `weights`); a group whose weights are all zero falls back to the overall weights."""
    out = np.zeros(len(group), dtype=np.int64)
    overall = weights.sum(axis=0)
    for g in np.unique(group):
        mask = group == g
        w = weights[g] if weights[g].sum() > 0 else overall
        out[mask] = pick(rng, w, int(mask.sum()))
    return out
