"""Fellegi–Sunter: m and u per comparison level, estimated from the data; match weights.

u (how often two different people agree at a level) comes from random record pairs;
m (how often one person's records do) from expectation maximisation on the candidate
pairs, one session per training blocking rule with the fields that rule fixes left
out (Splink's method), or from labelled pairs when there are some. The prior is the
share of all record pairs that match. A pair's match weight is
log2(prior odds) + Σ log2(m/u) over its fields, with u replaced by the value's term
frequency on term-frequency-adjusted levels: agreeing on a rare surname counts for
more than agreeing on Hansen. Estimation works on distinct comparison patterns, so
its cost does not grow with the number of pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from identity.compare import NULL, Vectors
from identity.spec import LinkageSpec

EM_ROUNDS = 40
EM_TOLERANCE = 1e-5
FLOOR = 1e-9
NEVER, ALWAYS, UNLESS_SAME_ID = 0, 1, 2
CONTRADICTS = {False: NEVER, True: ALWAYS, "unless_same_id": UNLESS_SAME_ID}
CONTRADICTS_NAME = {NEVER: False, ALWAYS: True, UNLESS_SAME_ID: "unless_same_id"}
MIN_PATTERN_PAIRS = 10
"""A session with fewer candidate pairs than this keeps the spec's starting m values."""


@dataclass
class Model:
    """m[f][l], u[f][l] for comparison f at level l (index 0 = missing, unused); the prior."""

    names: list[str]
    labels: list[list[str]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    tf_levels: list[np.ndarray]
    contradicts: list[np.ndarray]
    prior: float

    @classmethod
    def start(cls, spec: LinkageSpec, prior: float = 1e-4) -> Model:
        """The spec's starting values."""
        comparisons = spec.comparisons
        return cls(
            names=[c.name for c in comparisons],
            labels=[c.labels for c in comparisons],
            m=[np.array([np.nan, *(lv.m for lv in c.levels)]) for c in comparisons],
            u=[np.array([np.nan, *(lv.u for lv in c.levels)]) for c in comparisons],
            tf_levels=[np.array([False, *(lv.tf for lv in c.levels)]) for c in comparisons],
            contradicts=[
                np.array([NEVER, *(CONTRADICTS[lv.contradicts] for lv in c.levels)]) for c in comparisons
            ],
            prior=prior,
        )

    def field_weights(self, vectors: Vectors) -> np.ndarray:
        """log2 Bayes factor per pair and field (0 where a side is missing)."""
        levels = vectors.levels
        out = np.zeros(levels.shape, dtype=np.float32)
        for f, name in enumerate(self.names):
            table = np.log2(np.maximum(self.m[f], FLOOR) / np.maximum(self.u[f], FLOOR))
            table[NULL] = 0.0
            weight = table[levels[:, f]]
            tf = vectors.tf.get(name)
            if tf is not None:
                adjusted = self.tf_levels[f][levels[:, f]] & ~np.isnan(tf)
                m = self.m[f][levels[:, f]]
                weight = np.where(adjusted, np.log2(np.maximum(m, FLOOR) / np.maximum(tf, FLOOR)), weight)
            out[:, f] = weight
        return out

    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def score(self, vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
        """Match weight (log2 odds, prior included) and match probability per pair."""
        weight = self.prior_weight() + self.field_weights(vectors).sum(axis=1)
        return weight, probability(weight)

    def contradicting(self, levels: np.ndarray, same_id: np.ndarray) -> np.ndarray:
        """[pair, field]: the field's level says two different people (birth date, sex, IDs...).

        same_id: pairs whose records carry one person's valid IDs; for them a level marked
        `unless_same_id` (a given name spelled beyond recognition, a D-number beside a
        fødselsnummer) does not count.
        """
        mode = np.column_stack([self.contradicts[f][levels[:, f]] for f in range(len(self.names))])
        return (mode == ALWAYS) | ((mode == UNLESS_SAME_ID) & ~np.asarray(same_id, dtype=bool)[:, None])

    def contradiction(self, levels: np.ndarray, same_id: np.ndarray) -> np.ndarray:
        """Pairs with any contradicting field (see `contradicting`)."""
        return self.contradicting(levels, same_id).any(axis=1)

    def as_dict(self) -> dict[str, Any]:
        """The estimated parameters, for the run workspace and the match report."""
        return {
            "prior": self.prior,
            "comparisons": [
                {
                    "name": name,
                    "levels": [
                        {
                            "label": label,
                            "m": float(self.m[f][i]),
                            "u": float(self.u[f][i]),
                            "weight": float(np.log2(max(self.m[f][i], FLOOR) / max(self.u[f][i], FLOOR))),
                            "tf": bool(self.tf_levels[f][i]),
                            "contradicts": CONTRADICTS_NAME[int(self.contradicts[f][i])],
                        }
                        for i, label in enumerate(self.labels[f])
                        if i != NULL
                    ],
                }
                for f, name in enumerate(self.names)
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


def probability(weight: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))


def level_shares(levels: np.ndarray, counts: np.ndarray, size: int, weights: np.ndarray) -> np.ndarray:
    """Weighted share of each level among pairs where the field is present."""
    totals = np.bincount(levels, weights=weights * counts, minlength=size)
    totals[NULL] = 0.0
    return totals / max(totals.sum(), FLOOR)


def level_patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of `levels` (sorted) and how often each occurs.

    Each row is packed into one integer (mixed radix over the fields' level counts) and
    counted in one dimension: `np.unique(axis=0)` sorts rows as opaque bytes and took
    2–9 s on the 10⁶ random pairs `estimate_u` sees, a fixed cost at every data size."""
    radix = levels.max(axis=0, initial=0).astype(np.int64) + 1
    if np.prod(radix.astype(float)) >= 2**62:  # too many fields to pack: the slow way
        return np.unique(levels, axis=0, return_counts=True)
    place = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]])
    keys, counts = np.unique(levels.astype(np.int64) @ place, return_counts=True)
    patterns = (keys[:, None] // place) % radix
    return patterns.astype(levels.dtype), counts


def estimate_u(model: Model, vectors: Vectors, start: Model | None = None) -> None:
    """u from comparisons of random pairs, each weighted by its chance of being two people.

    The first call (no estimated m yet) counts every random pair; once m and the prior
    are estimated, `start` (the spec's values) given, a random pair that is one person
    sampled twice (same ID, birth date and names) drops out. Left in, such pairs would
    make an exact national ID count for little.
    """
    patterns, counts = level_patterns(vectors.levels)
    different = np.ones(len(patterns))
    if start is not None:
        bayes = sum(
            np.log2(
                np.where(patterns[:, f] == NULL, 1.0, model.m[f][patterns[:, f]] / model.u[f][patterns[:, f]])
            )
            for f in range(len(model.names))
        )
        different = 1.0 - probability(model.prior_weight() + bayes)
    base = start or model
    for f in range(len(model.names)):
        size = len(model.u[f])
        observed = level_shares(patterns[:, f], counts, size, different)
        present = (counts * different)[patterns[:, f] != NULL].sum()
        # The spec's value stands in for what a small sample cannot show (u never 0).
        prior = base.u[f] / np.nansum(base.u[f])
        model.u[f] = np.where(np.arange(size) == NULL, np.nan, (observed * present + prior) / (present + 1))


def estimate_m(
    model: Model, vectors: Vectors, sessions: list[tuple[np.ndarray, list[int]]], start: Model
) -> None:
    """m by EM: each session = (which candidate pairs, which fields it may estimate); see `anchor`."""
    estimates: list[list[np.ndarray]] = [[] for _ in model.names]
    for rows, fields in sessions:
        if len(rows) < MIN_PATTERN_PAIRS or not fields:
            continue
        patterns, counts = level_patterns(vectors.levels[rows][:, fields])
        m = [model.m[f].copy() for f in fields]
        u = [model.u[f] for f in fields]
        share = 0.1
        for _ in range(EM_ROUNDS):
            log_m = sum(
                np.log(np.where(patterns[:, i] == NULL, 1.0, m[i][patterns[:, i]]))
                for i in range(len(fields))
            )
            log_u = sum(
                np.log(np.where(patterns[:, i] == NULL, 1.0, u[i][patterns[:, i]]))
                for i in range(len(fields))
            )
            odds = np.exp(np.clip(np.log(share / (1 - share)) + log_m - log_u, -700, 700))
            posterior = odds / (1 + odds)
            new_share = float((posterior * counts).sum() / counts.sum())
            new_m = [level_shares(patterns[:, i], counts, len(m[i]), posterior) for i in range(len(fields))]
            change = max(float(np.nanmax(np.abs(a[1:] - b[1:]))) for a, b in zip(new_m, m, strict=True))
            m = [np.where(np.arange(len(a)) == NULL, np.nan, np.maximum(a, FLOOR)) for a in new_m]
            share = min(max(new_share, FLOOR), 1 - FLOOR)
            if change < EM_TOLERANCE:
                break
        for i, f in enumerate(fields):
            estimates[f].append(m[i])
    for f, found in enumerate(estimates):
        if found:
            model.m[f] = np.mean(found, axis=0)
    anchor(model, start)


def anchor(model: Model, start: Model) -> None:
    """Keep learned m within what the spec declares.

    A contradicting level's m is declared, not learned (EM takes siblings for matches);
    any other level keeps at least a tenth of its declared m, so that an error the data
    at hand happens not to contain (a day-month swap) is not read as proof of two people.
    """
    for f in range(len(model.names)):
        fixed = model.contradicts[f] != NEVER
        fixed[NULL] = False
        learned = np.maximum(np.nan_to_num(model.m[f]), start.m[f] / 10)
        free = ~fixed & (np.arange(len(learned)) != NULL)
        learned[free] *= (1 - start.m[f][fixed].sum()) / learned[free].sum()
        learned[fixed] = start.m[f][fixed]
        model.m[f] = np.where(np.arange(len(learned)) == NULL, np.nan, learned)


def estimate_prior(model: Model, vectors: Vectors, total_pairs: float) -> None:
    """The share of all record pairs that match: expected matches among the candidates
    (EM on the prior alone, m and u fixed) over every possible pair."""
    if total_pairs <= 0 or not len(vectors.levels):
        return
    bayes = model.field_weights(vectors).sum(axis=1)
    share = 0.1
    for _ in range(EM_ROUNDS):
        posterior = probability(np.log2(share / (1 - share)) + bayes)
        new_share = min(max(float(posterior.mean()), FLOOR), 1 - FLOOR)
        if abs(new_share - share) < EM_TOLERANCE * share:
            share = new_share
            break
        share = new_share
    model.prior = min(max(share * len(bayes) / total_pairs, FLOOR), 0.5)


def estimate_from_labels(model: Model, vectors: Vectors, is_match: np.ndarray) -> None:
    """m (and u, where non-matches are labelled too) from pairs a person has judged."""
    ones = np.ones(int(is_match.sum()))
    for f in range(len(model.names)):
        size = len(model.m[f])
        if is_match.any():
            model.m[f] = _smoothed(level_shares(vectors.levels[is_match, f], ones, size, ones), model.m[f])
        if (~is_match).any():
            others = np.ones(int((~is_match).sum()))
            model.u[f] = _smoothed(
                level_shares(vectors.levels[~is_match, f], others, size, others), model.u[f]
            )


def _smoothed(observed: np.ndarray, start: np.ndarray) -> np.ndarray:
    mixed = 0.9 * observed + 0.1 * (start / np.nansum(start))
    return np.where(np.arange(len(mixed)) == NULL, np.nan, np.maximum(mixed, FLOOR))
