"""Hospital activity shared by the EPR (2015-2025) and its predecessor's HL7 archive
(2006-2014): stays with department and level of care, their diagnoses, and blood
samples taken during stays or at outpatient visits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import load
from .clinical import counts, owners, pick_codes
from .timeline import DAY, MINUTE, REFERENCE_DATE, age_years, at_time_of_day, uniform_days


@dataclass
class Stays:
    """Hospital contacts; `owner` is the person-record row they belong to, `level` the
    level of care: D døgn (inpatient), P poliklinikk (outpatient), DB dagbehandling."""

    owner: np.ndarray
    admit: np.ndarray
    discharge: np.ndarray
    department: np.ndarray
    level: np.ndarray

    def __len__(self) -> int:
        return len(self.owner)


@dataclass
class Diagnoses:
    """Diagnoses per stay: ICD-10 catalogue index, main (H) or secondary (B)."""

    stay: np.ndarray
    code: np.ndarray
    main: np.ndarray


@dataclass
class Draws:
    """Blood samples: owner row, stay index (-1 for samples outside a stay), time."""

    owner: np.ndarray
    stay: np.ndarray
    time: np.ndarray


def stays(
    rng: np.random.Generator,
    birth: np.ndarray,
    female: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    per_year_of_age: float,
) -> Stays:
    """At least one stay per record, more for older people, inside [start, end]
    (per record). Ongoing stays on the reference date have no discharge (NaT)."""
    age_now = age_years(birth, end)
    owner = owners(counts(rng, 0.2 + age_now * per_year_of_age, cap=15, minimum=1))
    day = uniform_days(rng, start[owner], end[owner])
    day = day[np.lexsort((day, owner))]
    age = age_years(birth[owner], day)
    departments = load("hospital_departments")
    dept = pick_codes(rng, "hospital_departments", age, female[owner])
    options = [levels.split() for levels in departments.col("care_levels")]
    level = np.array(
        [
            options[d][int(u * len(options[d]))]
            for d, u in zip(dept.tolist(), rng.random(len(dept)).tolist(), strict=True)
        ],
        dtype=object,
    )
    inpatient = level == "D"
    admit = np.where(inpatient, at_time_of_day(rng, day, 0, 24, 1), at_time_of_day(rng, day, 8, 15, 15))
    stay_minutes = np.select(
        [inpatient, level == "P"],
        [
            (1 + rng.geometric(0.3, len(day))) * 24 * 60 + rng.integers(-300, 300, len(day)),
            rng.integers(2, 9, len(day)) * 15,
        ],
        rng.integers(3 * 60, 8 * 60, len(day)),
    )
    discharge = admit + stay_minutes * MINUTE
    last_minute = (end[owner] + DAY).astype("datetime64[m]") - MINUTE
    discharge = np.where(
        discharge > last_minute,
        np.where(end[owner] >= REFERENCE_DATE, np.datetime64("NaT"), last_minute),
        discharge,
    )
    return Stays(
        owner=owner,
        admit=admit,
        discharge=discharge.astype("datetime64[m]"),
        department=departments.arr("name")[dept],
        level=level,
    )


def diagnoses(rng: np.random.Generator, stays: Stays, birth: np.ndarray, female: np.ndarray) -> Diagnoses:
    """One main diagnosis per stay and a few secondary ones."""
    per_stay = counts(rng, np.full(len(stays), 0.6), cap=4, minimum=1)
    stay = owners(per_stay)
    first = np.concatenate([[0], np.cumsum(per_stay)[:-1]]) if len(per_stay) else per_stay
    main = np.zeros(len(stay), dtype=bool)
    main[first] = True
    owner = stays.owner[stay]
    age = age_years(birth[owner], stays.admit[stay])
    return Diagnoses(stay=stay, code=pick_codes(rng, "icd10_common", age, female[owner]), main=main)


def draws(rng: np.random.Generator, stays: Stays, start: np.ndarray, end: np.ndarray) -> Draws:
    """Samples during stays (inpatients daily-ish, half of outpatients) and a few at
    outpatient labs outside stays."""
    lam = np.where(stays.level == "P", 0.5, 1.0)
    per_stay = np.where(
        stays.level == "D",
        counts(rng, lam, cap=6, minimum=1),
        (rng.random(len(stays)) < lam).astype(np.int64),
    )
    stay = owners(per_stay)
    span = np.where(
        np.isnat(stays.discharge[stay]), 60, (stays.discharge[stay] - stays.admit[stay]).astype(np.int64)
    )
    during = stays.admit[stay] + (rng.random(len(stay)) * np.maximum(span, 15)).astype(np.int64) * MINUTE
    loose_owner = owners(counts(rng, np.full(len(start), 0.3), cap=5))
    loose_day = uniform_days(rng, start[loose_owner], end[loose_owner])
    loose_time = at_time_of_day(rng, loose_day, 7, 15, 5)
    return Draws(
        owner=np.concatenate([stays.owner[stay], loose_owner]),
        stay=np.concatenate([stay, np.full(len(loose_owner), -1)]),
        time=np.concatenate([during, loose_time]).astype("datetime64[m]"),
    )


def icd10_as_written(rng: np.random.Generator, codes: np.ndarray, dotted_share: float) -> list[str]:
    """ICD-10 codes as the systems wrote them: E119 or E11.9 (3-character codes as is)."""
    dotted = rng.random(len(codes)) < dotted_share
    return [
        c[:3] + "." + c[3:] if d and len(c) > 3 else c
        for c, d in zip(codes.tolist(), dotted.tolist(), strict=True)
    ]
