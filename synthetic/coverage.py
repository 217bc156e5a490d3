"""Which true people have records in which source, like life: nearly everyone has a
GP, hospital patients are older than average, the old HL7 archive mostly holds the
same patients as the EPR, and municipal care is for the elderly.

Also hands out the hospital's local patient numbers (PAS_ID), which the EPR and the
HL7 archive share because they sit behind the same hospital patient index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .population import Population
from .timeline import age_years, person_window

TARGET_SHARE = {
    "gp-journal": 0.95,
    "hospital-epr": 0.35,
    "hospital-hl7": 0.20,
    "municipal-care": 0.12,
}
HL7_GIVEN_EPR = 0.45
"""Share of EPR patients who were also patients in 2006-2014."""
MAX_PROBABILITY = 0.97
FIRST_PAS_ID = 1_000_001


@dataclass
class Coverage:
    """Membership flags per person and the hospital patient number (0 = none)."""

    in_gp: np.ndarray
    in_epr: np.ndarray
    in_hl7: np.ndarray
    in_municipal: np.ndarray
    pas_id: np.ndarray


def eligible(people: Population, source: str) -> np.ndarray:
    """People alive during some part of the source's window."""
    start, end = person_window(source, people.birth, people.death)
    return start <= end


def _calibrated(weights: np.ndarray, allowed: np.ndarray, wanted: float) -> np.ndarray:
    """Per-person probabilities proportional to weights (capped) among the allowed,
    scaled so that their sum is `wanted` people (as far as the cap allows)."""
    weights = np.where(allowed, weights, 0.0)
    lo, hi = 0.0, 1.0
    while np.minimum(weights * hi, MAX_PROBABILITY).sum() < wanted and hi < 1e9:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.minimum(weights * mid, MAX_PROBABILITY).sum() < wanted:
            lo = mid
        else:
            hi = mid
    return np.minimum(weights * hi, MAX_PROBABILITY)


def assign(rng: np.random.Generator, people: Population) -> Coverage:
    """Draw source membership for everyone and number the hospital patients."""
    n = len(people)
    age = age_years(people.birth, people.end)
    hospital_weight = 0.4 + age / 40
    care_weight = np.exp((age - 75) / 8) + 0.002

    in_gp = rng.random(n) < _calibrated(
        np.ones(n), eligible(people, "gp-journal"), TARGET_SHARE["gp-journal"] * n
    )
    in_epr = rng.random(n) < _calibrated(
        hospital_weight, eligible(people, "hospital-epr"), TARGET_SHARE["hospital-epr"] * n
    )
    hl7_ok = eligible(people, "hospital-hl7")
    from_epr = in_epr & hl7_ok & (rng.random(n) < HL7_GIVEN_EPR)
    rest = max(TARGET_SHARE["hospital-hl7"] * n - from_epr.sum(), 0.0)
    in_hl7 = from_epr | (rng.random(n) < _calibrated(hospital_weight, hl7_ok & ~in_epr, rest))
    in_municipal = rng.random(n) < _calibrated(
        care_weight, eligible(people, "municipal-care"), TARGET_SHARE["municipal-care"] * n
    )

    pas_id = np.zeros(n, dtype=np.int64)
    patients = np.flatnonzero(in_epr | in_hl7)
    pas_id[rng.permutation(patients)] = FIRST_PAS_ID + np.arange(len(patients))
    return Coverage(in_gp=in_gp, in_epr=in_epr, in_hl7=in_hl7, in_municipal=in_municipal, pas_id=pas_id)
