"""Blocking: exactly the pairs inside each block, focus rules, the union report; never all pairs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from identity.blocking import candidate_pairs, pairs_within
from identity.spec import BlockingRule


def brute_force(codes: list[int], max_block: int, focus: list[bool] | None = None) -> set[tuple[int, int]]:
    sizes = pd.Series(codes).value_counts()
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(codes)), 2)
        if codes[i] == codes[j] >= 0
        and sizes[codes[i]] <= max_block
        and (focus is None or focus[i] or focus[j])
    }


@given(st.lists(st.integers(-1, 6), max_size=40), st.integers(2, 8))
def test_pairs_within_blocks_are_exactly_the_pairs_sharing_a_key(codes: list[int], max_block: int) -> None:
    left, right, _, _ = pairs_within(np.array(codes, dtype=np.int64), max_block)
    found = list(zip(left.tolist(), right.tolist(), strict=True))
    assert len(found) == len(set(found)), "no pair twice"
    assert set(found) == brute_force(codes, max_block)


@given(st.lists(st.tuples(st.integers(-1, 5), st.booleans()), max_size=40), st.integers(2, 8))
def test_focus_rules_pair_only_records_that_need_them(rows: list[tuple[int, bool]], max_block: int) -> None:
    codes = [c for c, _ in rows]
    focus = [f for _, f in rows]
    left, right, _, _ = pairs_within(np.array(codes, dtype=np.int64), max_block, np.array(focus, dtype=bool))
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == brute_force(codes, max_block, focus)


def test_union_of_rules_reports_pairs_and_new_pairs_and_skips_huge_blocks() -> None:
    records = pd.DataFrame(
        {
            "birth_date": ["1950-01-01"] * 3 + ["1960-01-01"] * 2 + [None],
            "family_key": ["berg", "berg", "dahl", "dahl", "moe", "berg"],
            "postcode": ["7010"] * 6,
        }
    )
    rules = [
        BlockingRule(name="birth", keys=["birth_date"]),
        BlockingRule(name="surname", keys=["family_key"]),
        BlockingRule(name="postcode", keys=["postcode"], max_block=5),
    ]
    result = candidate_pairs(records, rules)
    pairs = set(zip(result.left.tolist(), result.right.tolist(), strict=True))
    assert pairs == {(0, 1), (0, 2), (1, 2), (3, 4), (0, 5), (1, 5), (2, 3)}
    report = result.report.set_index("rule")
    assert report.loc["birth", "pairs"] == 4 and report.loc["birth", "new_pairs"] == 4
    assert report.loc["surname", "pairs"] == 4 and report.loc["surname", "new_pairs"] == 3
    assert report.loc["postcode", "skipped_blocks"] == 1 and report.loc["postcode", "pairs"] == 0


def test_records_with_nothing_in_common_make_no_pairs() -> None:
    records = pd.DataFrame({"birth_date": [f"19{i:02d}-01-01" for i in range(60)]})
    assert len(candidate_pairs(records, [BlockingRule(name="birth", keys=["birth_date"])])) == 0
