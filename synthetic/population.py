"""The true people of the synthetic region: who they are, where they live, and the
life events (moves, marriages, new ID numbers, death) that make the legacy systems
disagree about them.

Drawn column by column with numpy so that 100,000 people take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import ids
from .catalogue import load, pick
from .timeline import DAY, REFERENCE_DATE, YEAR_DAYS

NAT = np.datetime64("NaT", "D")
HISTORY_START = np.datetime64("2006-01-01", "D")
"""Oldest record in any source: life events before it leave no trace."""

DECEASED_SHARE = 0.06
IMMIGRANT_SHARE = 0.10
DNUMBER_SHARE = 0.03
DNUMBER_CONVERTED_SHARE = 0.5
TWIN_SHARE = 0.01
CONFIDENTIAL_SHARE = 0.005
MOVED_SHARE = 0.25
NAME_CHANGE_SHARE = 0.08
MIDDLE_NAME_SHARE = 0.12
RARE_SURNAME_SHARE = 0.3
DOUBLE_SURNAME_SHARE = 0.03
OLD_COHORT_BEFORE = 1975


@dataclass
class Population:
    """Columns of the true people (one array per attribute, index = person index).

    Text columns use "" for missing values, dates NaT. `family` is today's surname;
    `former_family` the one used before `name_changed`. `dnr` is set for people who
    came with a D-number; `fnr_assigned` is the day those of them who became residents
    got their fødselsnummer `fnr`. `prev_*` is the address before `moved`.
    """

    person_id: np.ndarray
    sex: np.ndarray
    birth: np.ndarray
    death: np.ndarray
    origin: np.ndarray
    given: np.ndarray
    middle: np.ndarray
    family: np.ndarray
    former_family: np.ndarray
    name_changed: np.ndarray
    fnr: np.ndarray
    dnr: np.ndarray
    fnr_assigned: np.ndarray
    street: np.ndarray
    postnr: np.ndarray
    poststed: np.ndarray
    kommunenr: np.ndarray
    prev_street: np.ndarray
    prev_postnr: np.ndarray
    prev_poststed: np.ndarray
    prev_kommunenr: np.ndarray
    moved: np.ndarray
    confidential: np.ndarray
    twin_of: np.ndarray

    def __len__(self) -> int:
        return len(self.person_id)

    @property
    def female(self) -> np.ndarray:
        """True for women (sex 'K')."""
        return self.sex == "K"

    @property
    def end(self) -> np.ndarray:
        """Last day each person can appear in a record: death or the reference date."""
        return np.where(np.isnat(self.death), REFERENCE_DATE, self.death)

    def column_names(self) -> list[str]:
        """Attribute names in declaration order (the persons.csv header)."""
        return [f.name for f in fields(self)]


def _years(values: np.ndarray) -> np.ndarray:
    """A number of years as a day offset."""
    return (values * YEAR_DAYS).astype(np.int64) * DAY


def _between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Random day in [lo, hi] where lo <= hi, NaT elsewhere."""
    ok = lo <= hi
    span = np.where(ok, (hi - lo).astype(np.int64) + 1, 1)
    day = lo + (rng.random(len(lo)) * span).astype(np.int64) * DAY
    return np.where(ok, day, NAT)


def _sex_and_dates(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sex, birth and death: the living follow today's age pyramid, the deceased
    the age-at-death distribution, with deaths spread over the history window."""
    ages = load("age_distribution")
    male_w, female_w, death_w = ages.num("male"), ages.num("female"), ages.num("deaths")
    female = rng.random(n) < female_w.sum() / (male_w.sum() + female_w.sum())
    deceased = rng.random(n) < DECEASED_SHARE
    age = np.where(female, pick(rng, female_w, n), pick(rng, male_w, n))
    age = np.where(deceased, pick(rng, death_w, n), age)
    death = np.where(
        deceased, _between(rng, np.full(n, HISTORY_START), np.full(n, REFERENCE_DATE - DAY)), NAT
    )
    anchor = np.where(deceased, death, REFERENCE_DATE)
    birth = anchor - _years(age.astype(float)) - rng.integers(0, 365, n) * DAY
    return female, birth.astype("datetime64[D]"), death.astype("datetime64[D]")


def _origins(rng: np.random.Generator, n: int) -> np.ndarray:
    """'no' for most; immigrants get an origin weighted by its surnames' frequency."""
    fam = load("family_names")
    origin_col = fam.arr("origin")
    weights = fam.num("weight")
    foreign = sorted(set(origin_col) - {"no"})
    foreign_w = np.array([weights[origin_col == o].sum() for o in foreign])
    chosen = np.array(foreign, dtype=object)[pick(rng, foreign_w, n)]
    return np.where(rng.random(n) < IMMIGRANT_SHARE, chosen, "no").astype(object)


def _surnames(rng: np.random.Generator, origin: np.ndarray) -> np.ndarray:
    """Surnames by origin with the real frequency skew; a share of Norwegians get rare
    farm names (compounds like Bjørnstad) and some a double name (Berg-Hansen)."""
    fam = load("family_names")
    names, origin_col, weights = fam.arr("name"), fam.arr("origin"), fam.num("weight")
    out = np.empty(len(origin), dtype=object)
    for o in np.unique(origin):
        mask = origin == o
        pool = origin_col == o
        out[mask] = names[pool][pick(rng, weights[pool], int(mask.sum()))]
    norwegian = origin == "no"
    parts = load("farm_name_parts")
    prefixes = [p for p, pos in zip(parts.col("part"), parts.col("position"), strict=True) if pos == "prefix"]
    suffixes = [p for p, pos in zip(parts.col("part"), parts.col("position"), strict=True) if pos == "suffix"]
    rare = norwegian & (rng.random(len(origin)) < RARE_SURNAME_SHARE)
    pre = rng.integers(0, len(prefixes), len(origin))
    suf = rng.integers(0, len(suffixes), len(origin))
    compound = np.array([prefixes[a] + suffixes[b] for a, b in zip(pre, suf, strict=True)], dtype=object)
    out = np.where(rare, compound, out)
    double = norwegian & (rng.random(len(origin)) < DOUBLE_SURNAME_SHARE)
    second = names[origin_col == "no"][pick(rng, weights[origin_col == "no"], len(origin))]
    joined = np.array([f"{a}-{b}" for a, b in zip(out, second, strict=True)], dtype=object)
    return np.where(double & (out != second), joined, out).astype(object)


def _given_names(
    rng: np.random.Generator, origin: np.ndarray, female: np.ndarray, birth: np.ndarray
) -> np.ndarray:
    """Given names by origin, sex and generation (Kjell and Bjørg vs Noah and Nora)."""
    cat = load("given_names")
    names, sexes, origins = cat.arr("name"), cat.arr("sex"), cat.arr("origin")
    old = birth.astype("datetime64[Y]").astype(np.int64) + 1970 < OLD_COHORT_BEFORE
    out = np.empty(len(origin), dtype=object)
    for o in np.unique(origin):
        for is_female in (False, True):
            for is_old in (False, True):
                mask = (origin == o) & (female == is_female) & (old == is_old)
                if not mask.any():
                    continue
                pool = (origins == o) & (sexes == ("K" if is_female else "M"))
                weights = cat.num("weight_old" if is_old else "weight_young")[pool] + 0.01
                out[mask] = names[pool][pick(rng, weights, int(mask.sum()))]
    return out


def _addresses(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Street address, postcode, post town and municipality, weighted by municipal
    population; house numbers with an occasional letter."""
    munis = load("municipalities")
    streets = load("streets")
    muni = np.array(munis.col("kommunenr"), dtype=object)[pick(rng, munis.num("population"), n)]
    street_muni = streets.arr("kommunenr")
    street_idx = np.zeros(n, dtype=np.int64)
    for m in np.unique(muni):
        mask = muni == m
        candidates = np.flatnonzero(street_muni == m)
        street_idx[mask] = rng.choice(candidates, int(mask.sum()))
    number = 1 + rng.geometric(0.04, n).clip(max=150)
    letter = np.array(["", "", "", "", "", "", "A", "B", "C"], dtype=object)[rng.integers(0, 9, n)]
    names = streets.arr("street")[street_idx]
    street = np.array([f"{s} {h}{x}" for s, h, x in zip(names, number, letter, strict=True)], dtype=object)
    return (
        street,
        streets.arr("postnr")[street_idx],
        streets.arr("poststed")[street_idx],
        muni.astype(object),
    )


def _twin_pairs(rng: np.random.Generator, death: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, a+1) of living people who become twins."""
    n = len(death)
    candidates = np.arange(0, n - 1, 2)
    candidates = candidates[np.isnat(death[candidates]) & np.isnat(death[candidates + 1])]
    count = min(len(candidates), int(round(n * TWIN_SHARE / 2)))
    first = np.sort(rng.choice(candidates, count, replace=False)) if count else candidates[:0]
    return first, first + 1


def build(rng: np.random.Generator, n: int) -> Population:
    """Draw n true people."""
    female, birth, death = _sex_and_dates(rng, n)
    end = np.where(np.isnat(death), REFERENCE_DATE, death)
    origin = _origins(rng, n)
    family = _surnames(rng, origin)
    given = _given_names(rng, origin, female, birth)
    middle_candidates = _surnames(rng, np.full(n, "no", dtype=object))
    has_middle = (origin == "no") & (rng.random(n) < MIDDLE_NAME_SHARE) & (middle_candidates != family)
    middle = np.where(has_middle, middle_candidates, "").astype(object)

    street, postnr, poststed, kommunenr = _addresses(rng, n)
    prev_street, prev_postnr, prev_poststed, prev_kommunenr = _addresses(rng, n)
    lo = np.maximum(birth, HISTORY_START) + DAY
    moved = np.where(rng.random(n) < MOVED_SHARE, _between(rng, lo, end - DAY), NAT)
    for column in (prev_street, prev_postnr, prev_poststed, prev_kommunenr):
        column[np.isnat(moved)] = ""

    adult_age = (end - birth).astype(np.int64) / YEAR_DAYS
    may_marry = female & (adult_age >= 22) & (adult_age <= 70)
    name_changed = np.where(
        may_marry & (rng.random(n) < NAME_CHANGE_SHARE),
        _between(rng, np.maximum(birth + _years(np.full(n, 20.0)), HISTORY_START), end - DAY),
        NAT,
    )
    spouse_name = _surnames(rng, origin)
    name_changed = np.where(spouse_name == family, NAT, name_changed)
    former_family = np.where(np.isnat(name_changed), "", family).astype(object)
    family = np.where(np.isnat(name_changed), family, spouse_name).astype(object)

    dnr_holder = (origin != "no") & (rng.random(n) < DNUMBER_SHARE / IMMIGRANT_SHARE)
    converted = dnr_holder & (rng.random(n) < DNUMBER_CONVERTED_SHARE)
    fnr_assigned = np.where(
        converted, _between(rng, np.maximum(birth, HISTORY_START) + 365 * DAY, end - 30 * DAY), NAT
    )
    confidential = rng.random(n) < CONFIDENTIAL_SHARE

    twin_of = np.full(n, "", dtype=object)
    first, second = _twin_pairs(rng, death)
    for column in (
        birth,
        origin,
        family,
        middle,
        street,
        postnr,
        poststed,
        kommunenr,
        prev_street,
        prev_postnr,
        prev_poststed,
        prev_kommunenr,
        moved,
        confidential,
        dnr_holder,
        fnr_assigned,
    ):
        column[second] = column[first]
    for pair_member in (first, second):
        name_changed[pair_member] = NAT
        former_family[pair_member] = ""
    given[second] = _given_names(rng, origin[second], female[second], birth[second])
    same_given = second[given[second] == given[first]]
    while len(same_given):
        given[same_given] = _given_names(rng, origin[same_given], female[same_given], birth[same_given])
        same_given = second[given[second] == given[first]]

    male = ~female
    taken: set[str] = set()
    needs_fnr = ~dnr_holder | ~np.isnat(fnr_assigned)
    fnr = np.full(n, "", dtype=object)
    dnr = np.full(n, "", dtype=object)
    fnr[needs_fnr] = ids.draw(rng, birth[needs_fnr], male[needs_fnr], ids.FNR, taken)
    dnr[dnr_holder] = ids.draw(rng, birth[dnr_holder], male[dnr_holder], ids.DNR, taken)

    person_id = np.array([f"P{i + 1:07d}" for i in range(n)], dtype=object)
    twin_of[second] = person_id[first]
    twin_of[first] = person_id[second]
    return Population(
        person_id=person_id,
        sex=np.where(female, "K", "M").astype(object),
        birth=birth,
        death=death,
        origin=origin,
        given=given,
        middle=middle,
        family=family,
        former_family=former_family,
        name_changed=name_changed,
        fnr=fnr,
        dnr=dnr,
        fnr_assigned=fnr_assigned,
        street=street,
        postnr=postnr,
        poststed=poststed,
        kommunenr=kommunenr,
        prev_street=prev_street,
        prev_postnr=prev_postnr,
        prev_poststed=prev_poststed,
        prev_kommunenr=prev_kommunenr,
        moved=moved,
        confidential=confidential,
        twin_of=twin_of,
    )
