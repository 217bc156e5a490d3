"""Clinical content shared by the sources: how many events a record gets, which codes,
lab results with plausible values and flags, drugs, allergies and note texts.

All draws are vectorised over events; the sources only decide dates and layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .catalogue import Catalogue, care_group, group_weights, load, pick, pick_by_group


def counts(rng: np.random.Generator, lam: np.ndarray, cap: int, minimum: int = 0) -> np.ndarray:
    """Events per owner: minimum + Poisson(lam), at most cap."""
    return np.minimum(minimum + rng.poisson(lam), cap)


def owners(per_owner: np.ndarray) -> np.ndarray:
    """Owner index of each event, for events counted per owner."""
    return np.repeat(np.arange(len(per_owner)), per_owner)


def position_in_group(group: np.ndarray) -> np.ndarray:
    """1-based position of each element among its equal neighbours (group sorted):
    set ids of segments, item numbers within a message."""
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    lengths = np.diff(np.r_[starts, len(group)])
    return np.arange(len(group)) - np.repeat(starts, lengths) + 1


@cache
def _weights(name: str) -> np.ndarray:
    return group_weights(load(name))


def pick_codes(rng: np.random.Generator, name: str, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Catalogue indices plausible for each patient's age band and sex (catalogues with
    w_child/w_adult/w_elderly/sex columns: icd10_common, icpc2_common, departments...)."""
    return pick_by_group(rng, _weights(name), care_group(age, female))


def pick_for_age(rng: np.random.Generator, cat: Catalogue, age: np.ndarray) -> np.ndarray:
    """Weighted catalogue indices among rows whose min_age the patient has reached."""
    min_age = cat.num("min_age")
    thresholds = np.unique(min_age)
    level = np.searchsorted(thresholds, age, side="right") - 1
    weights = np.vstack([cat.num("weight") * (min_age <= t) for t in thresholds])
    return pick_by_group(rng, weights, level)


def decimal_comma(text: str) -> str:
    """'3.5' -> '3,5' (Norwegian number format)."""
    return text.replace(".", ",")


@dataclass
class LabResults:
    """Results of lab draws: one row per analysed item."""

    draw: np.ndarray
    analysis: np.ndarray
    value: np.ndarray
    text: list[str]
    below_limit: np.ndarray
    flag: np.ndarray

    def __len__(self) -> int:
        return len(self.draw)


def lab_results(rng: np.random.Generator, age: np.ndarray, female: np.ndarray) -> LabResults:
    """For each draw (blood sample) of a patient with this age/sex: one or two panels
    and a value for every analysis in them."""
    labs = load("lab_analyses")
    panels = load("lab_panels")
    first = pick_codes(rng, "lab_panels", age, female)
    second = pick_codes(rng, "lab_panels", age, female)
    second_kept = (rng.random(len(age)) < 0.4) & (second != first)
    pair_draw = np.concatenate([np.arange(len(age)), np.flatnonzero(second_kept)])
    pair_panel = np.concatenate([first, second[second_kept]])
    order = np.argsort(pair_draw, kind="stable")
    pair_draw, pair_panel = pair_draw[order], pair_panel[order]
    panel_of = labs.arr("panel")
    members = [np.flatnonzero(panel_of == p) for p in panels.col("panel")]
    sizes = np.array([len(m) for m in members])[pair_panel]
    draw = np.repeat(pair_draw, sizes)
    analysis = (
        np.concatenate([members[p] for p in pair_panel]) if len(pair_panel) else np.zeros(0, dtype=np.int64)
    )

    mean, sd = labs.num("mean")[analysis], labs.num("sd")[analysis]
    z = rng.standard_normal(len(analysis)) * np.where(rng.random(len(analysis)) < 0.15, 2.0, 1.0)
    lognormal = labs.arr("dist")[analysis] == "lognormal"
    value = np.where(lognormal, mean * np.exp(sd * z), mean + sd * z)
    decimals = labs.num("decimals")[analysis].astype(np.int64)
    value = np.maximum(value, 10.0**-decimals)
    for d in np.unique(decimals):
        value[decimals == d] = np.round(value[decimals == d], d)
    limit = labs.num("detection_limit")[analysis]
    below = ~np.isnan(limit) & (value < limit)
    limit_text = labs.arr("detection_limit")[analysis]
    text = [
        f"<{lim}" if b else f"{v:.{d}f}"
        for v, d, b, lim in zip(
            value.tolist(), decimals.tolist(), below.tolist(), limit_text.tolist(), strict=True
        )
    ]
    return LabResults(
        draw=draw,
        analysis=analysis,
        value=value,
        text=text,
        below_limit=below,
        flag=lab_flags(analysis, value, below),
    )


def lab_flags(analysis: np.ndarray, value: np.ndarray, below_limit: np.ndarray) -> np.ndarray:
    """H / L / N against the analysis' reference interval (below detection limit: N)."""
    labs = load("lab_analyses")
    low, high = labs.num("ref_low")[analysis], labs.num("ref_high")[analysis]
    return np.where(below_limit, "N", np.where(value > high, "H", np.where(value < low, "L", "N"))).astype(
        object
    )


def reference_range(analysis: np.ndarray, low_high: str, upper_only: str, comma: bool = False) -> list[str]:
    """Reference interval text per analysis, e.g. low_high='{low}-{high}',
    upper_only='<{high}'; with comma=True decimals are written with a comma."""
    labs = load("lab_analyses")
    out = []
    for low, high in zip(
        labs.arr("ref_low")[analysis].tolist(), labs.arr("ref_high")[analysis].tolist(), strict=True
    ):
        if comma:
            low, high = decimal_comma(low), decimal_comma(high)
        out.append(low_high.format(low=low, high=high) if low else upper_only.format(high=high))
    return out


@cache
def _fillers() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cat = load("note_fillers")
    for key, value in zip(cat.col("placeholder"), cat.col("value"), strict=True):
        out.setdefault(key, []).append(value)
    return out


def note_texts(rng: np.random.Generator, system: str, n: int) -> tuple[list[str], list[str]]:
    """Titles and free texts for n notes of a system ('municipal' or 'gp'), with
    semicolons, quotes and line breaks as clinicians write them."""
    templates = load("note_templates")
    mine = np.flatnonzero(templates.arr("system") == system)
    chosen = mine[rng.integers(0, len(mine), n)]
    drugs = load("drugs").arr("name")[rng.integers(0, len(load("drugs")), n)]
    fillers = _fillers()
    picks = {
        key: np.array(values, dtype=object)[rng.integers(0, len(values), n)]
        for key, values in fillers.items()
    }
    weight = np.round(rng.normal(72, 14, n).clip(35, 150), 1)
    systolic = rng.normal(135, 18, n).clip(85, 210).astype(int)
    diastolic = (systolic * rng.uniform(0.5, 0.65, n)).astype(int)
    pulse = rng.normal(74, 11, n).clip(40, 140).astype(int)
    days = rng.integers(1, 15, n)
    minutes = rng.integers(6 * 4, 23 * 4, n) * 15
    titles, texts = [], []
    for i, t in enumerate(chosen.tolist()):
        values = {key: picks[key][i] for key in picks}
        values.update(
            drug=drugs[i],
            weight=decimal_comma(f"{weight[i]:.1f}"),
            sys=systolic[i],
            dia=diastolic[i],
            pulse=pulse[i],
            days=days[i],
            time=f"{minutes[i] // 60:02d}:{minutes[i] % 60:02d}",
        )
        titles.append(templates.rows[t]["title"])
        texts.append(templates.rows[t]["text"].format_map(values))
    return titles, texts


def staff_names(rng: np.random.Generator, n: int) -> list[str]:
    """'Given Family, role' of the staff who wrote municipal notes."""
    given = load("given_names")
    family = load("family_names")
    roles = load("staff_roles")
    norwegian = np.flatnonzero(given.arr("origin") == "no")
    g = given.arr("name")[norwegian][rng.integers(0, len(norwegian), n)]
    f = family.arr("name")[pick(rng, family.num("weight"), n)]
    r = roles.arr("role")[pick(rng, roles.num("weight"), n)]
    return [f"{a} {b}, {c}" for a, b, c in zip(g, f, r, strict=True)]


def allergy_picks(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Allergen and reaction catalogue indices for n registered allergies."""
    allergens, reactions = load("allergens"), load("allergy_reactions")
    return pick(rng, allergens.num("weight"), n), pick(rng, reactions.num("weight"), n)
