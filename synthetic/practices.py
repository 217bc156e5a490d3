"""GP practices of the region and which practice each GP patient is listed with
(shared by the GP journal exports and the lab messages the GPs received).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .catalogue import load
from .context import Context
from .spelling import ascii_fold

MIN_PRACTICES, MAX_PRACTICES, PERSONS_PER_EXTRA_PRACTICE = 10, 30, 5000


@dataclass
class Practices:
    """The practices in use (parallel lists) and each person's practice (-1: no GP)."""

    name: list[str]
    herid: list[str]
    kommunenr: list[str]
    code: list[str]
    slug: list[str]
    of_person: np.ndarray


def slugify(name: str) -> str:
    """File-name form of a practice name: 'Byåsen legesenter' -> 'byaasen-legesenter'."""
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(name).lower()).strip("-")


def practice_count(persons: int) -> int:
    """10 practices for small regions, one more per 5,000 people, at most 30."""
    return int(np.clip(MIN_PRACTICES + persons // PERSONS_PER_EXTRA_PRACTICE, MIN_PRACTICES, MAX_PRACTICES))


def assign_practices(ctx: Context) -> Practices:
    """List every GP patient with a practice in their municipality, else in their
    region, else anywhere; twins share their practice."""
    people = ctx.people
    cat = load("gp_practices")
    k = practice_count(len(people))
    names, herids, munis = cat.col("name")[:k], cat.col("herid")[:k], cat.col("kommunenr")[:k]
    municipalities = load("municipalities")
    region_of = dict(zip(municipalities.col("kommunenr"), municipalities.col("region"), strict=True))
    practice_muni = np.array(munis, dtype=object)
    practice_region = np.array([region_of[m] for m in munis], dtype=object)
    rng = ctx.rng("practices")
    of_person = np.full(len(people), -1, dtype=np.int64)
    listed = np.flatnonzero(ctx.coverage.in_gp)
    for muni in np.unique(people.kommunenr[listed]):
        who = listed[people.kommunenr[listed] == muni]
        candidates = np.flatnonzero(practice_muni == muni)
        if not len(candidates):
            candidates = np.flatnonzero(practice_region == region_of[muni])
        if not len(candidates):
            candidates = np.arange(k)
        of_person[who] = candidates[rng.integers(0, len(candidates), len(who))]
    index_of = {pid: i for i, pid in enumerate(people.person_id.tolist())}
    for i in np.flatnonzero(people.twin_of != "").tolist():
        twin = index_of[people.twin_of[i]]
        if twin < i and of_person[i] >= 0 and of_person[twin] >= 0:
            of_person[i] = of_person[twin]
    return Practices(
        name=names,
        herid=herids,
        kommunenr=munis,
        code=[f"LK{i + 1:02d}" for i in range(k)],
        slug=[slugify(n) for n in names],
        of_person=of_person,
    )
