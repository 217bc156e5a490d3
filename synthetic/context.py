"""Shared state of one generator run: the seed, the error rate, the true people, who is
registered where, and the log of planted errors.

Random streams are derived from the seed and a name, so each part of the generator has
its own stream and changing one part does not reshuffle the others.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

import numpy as np

from .coverage import Coverage
from .manifest import InjectionLog
from .population import Population


@dataclass
class Context:
    """Everything a source generator needs from the run."""

    seed: int
    error_rate: float
    people: Population
    coverage: Coverage
    log: InjectionLog

    def rng(self, *names: str) -> np.random.Generator:
        """A numpy stream for the named part of the run."""
        return stream(self.seed, *names)

    def rnd(self, *names: str) -> random.Random:
        """A stdlib stream for per-record decisions (same names, same draws)."""
        return random.Random("|".join([str(self.seed), *names]))


def stream(seed: int, *names: str) -> np.random.Generator:
    """numpy Generator seeded by the run seed and a stable hash of the names."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode()) for name in names)])


@dataclass
class SourceResult:
    """What a source generator reports back: its person records for truth.csv as
    (source_person_id, person_id) and row counts per written table/file."""

    source: str
    truth: list[tuple[str, str]]
    counts: dict[str, int]
