"""Fellegi–Sunter: EM recovers m, term frequencies make a rare surname count for more,
random pairs of one person do not dilute u, contradicting levels keep their declared m."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from identity.compare import Vectors, compare
from identity.model import Model, estimate_from_labels, estimate_m, estimate_u, level_patterns
from identity.prepare import prepare
from identity.spec import Comparison, Level, LinkageSpec, load_spec


def _two_level_spec(fields: int) -> LinkageSpec:
    levels = [
        Level(label="agree", test="exact", m=0.5, u=0.5),
        Level(label="else", test="else", m=0.5, u=0.5),
    ]
    return LinkageSpec(
        blocking=[{"name": "b", "keys": ["x"]}],
        comparisons=[Comparison(name=f"f{i}", column=f"c{i}", levels=levels) for i in range(fields)],
    )


def test_em_recovers_the_m_probabilities_it_was_given() -> None:
    rng = np.random.default_rng(3)
    m_true, u_true, share, pairs = np.array([0.95, 0.8, 0.9]), np.array([0.05, 0.2, 0.01]), 0.3, 40_000
    match = rng.random(pairs) < share
    agree = np.where(match[:, None], rng.random((pairs, 3)) < m_true, rng.random((pairs, 3)) < u_true)
    levels = np.where(agree, 1, 2).astype(np.int8)
    spec = _two_level_spec(3)
    model = Model.start(spec)
    model.u = [np.array([np.nan, u, 1 - u]) for u in u_true]
    estimate_m(model, Vectors(levels), [(np.arange(pairs), [0, 1, 2])], Model.start(spec))
    assert np.allclose([m[1] for m in model.m], m_true, atol=0.02)


def test_a_rare_surname_counts_for_more_than_a_common_one() -> None:
    surnames = ["Hansen"] * 60 + ["Bjørnstad"] * 2 + [f"Navn{i}" for i in range(40)]
    records = prepare(pd.DataFrame({"family_name": surnames, "given_name": "Kari"}))
    spec = load_spec().restricted({c for c in records.columns if records[c].notna().any()})
    vectors = compare(records, np.array([0, 60]), np.array([1, 61]), spec)
    weights = Model.start(spec).field_weights(vectors)[
        :, [c.name for c in spec.comparisons].index("family_name")
    ]
    assert weights[1] > weights[0] + 4, weights


def test_random_pairs_of_one_person_do_not_make_an_exact_id_cheap() -> None:
    """u of an exact national ID must stay tiny although random pairs include one person twice."""
    spec = load_spec().restricted({"id_value", "birth_date"})
    spec = spec.model_copy(update={"comparisons": spec.comparisons[:1]})
    model = Model.start(spec)
    levels = np.full((10_000, 1), 4, dtype=np.int8)
    levels[:50, 0] = 1  # fifty random pairs that are one person sampled twice
    estimate_u(model, Vectors(levels))
    first = model.u[0][1]
    model.prior = 0.005
    for _ in range(5):
        estimate_u(model, Vectors(levels), start=Model.start(spec))
    assert first > 0.004 and model.u[0][1] < first / 4


def test_contradicting_levels_keep_the_declared_m() -> None:
    spec = load_spec()
    sex = [c.name for c in spec.comparisons].index("sex")
    model = Model.start(spec)
    levels = np.ones((500, len(spec.comparisons)), dtype=np.int8)
    levels[:200, sex] = 2  # EM would read these as matches that differ in sex
    estimate_m(
        model, Vectors(levels), [(np.arange(500), list(range(len(spec.comparisons))))], Model.start(spec)
    )
    assert model.m[sex][2] == spec.comparisons[sex].levels[1].m


def test_labelled_pairs_set_m_and_u_directly() -> None:
    spec = _two_level_spec(1)
    model = Model.start(spec)
    levels = np.array([[1]] * 90 + [[2]] * 10 + [[1]] * 5 + [[2]] * 95, dtype=np.int8)
    is_match = np.array([True] * 100 + [False] * 100)
    estimate_from_labels(model, Vectors(levels), is_match)
    assert abs(model.m[0][1] - 0.86) < 0.02 and abs(model.u[0][1] - 0.095) < 0.02


@given(
    arrays(np.int8, st.tuples(st.integers(0, 300), st.integers(1, 9)), elements=st.integers(0, 6)),
)
def test_level_patterns_count_rows_as_numpy_unique_does(levels: np.ndarray) -> None:
    patterns, counts = level_patterns(levels)
    expected, expected_counts = np.unique(levels, axis=0, return_counts=True)
    assert np.array_equal(patterns, expected) and np.array_equal(counts, expected_counts)
    assert patterns.dtype == levels.dtype
