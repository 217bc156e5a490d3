"""Blocking: which record pairs are compared at all.

Several rules, each pairing records that agree on its key columns, unioned; never all
pairs. Pairs are made per block with numpy (no Python loop per pair), blocks larger
than a rule's `max_block` are skipped and reported, and the report counts the pairs
each rule made and how many of them no earlier rule had.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity.spec import BlockingRule


@dataclass
class Candidates:
    """Candidate pairs (left < right, record positions) and the first rule that made each."""

    left: np.ndarray
    right: np.ndarray
    rule: np.ndarray
    report: pd.DataFrame

    def __len__(self) -> int:
        return len(self.left)


def block_codes(records: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """A block number per record (-1 where a key is missing)."""
    frame = records[keys]
    complete = frame.notna().all(axis=1).to_numpy()
    codes = frame.groupby(keys, sort=False, dropna=True).ngroup().to_numpy()
    return np.where(complete, codes, -1)


def pairs_within(
    codes: np.ndarray, max_block: int, focus: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """All pairs inside each block of size 2..max_block; also (blocks skipped, records in them).

    With `focus`, only pairs with at least one focus record: a rule meant for records
    that lack something (a birth date, a valid ID) then costs what those records cost.
    """
    if focus is not None:
        return _focus_pairs(codes, max_block, focus)
    keyed = np.flatnonzero(codes >= 0)
    order = keyed[np.argsort(codes[keyed], kind="stable")]
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    too_big = sizes > max_block
    size_of = np.repeat(np.where(too_big, 1, sizes), sizes)
    position = np.arange(len(order)) - np.repeat(starts, sizes)
    partners = (size_of - position - 1).clip(min=0)
    total = int(partners.sum())
    first_partner = np.repeat(np.arange(len(order)) + 1, partners)
    step = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    left = order[np.repeat(np.arange(len(order)), partners)]
    right = order[first_partner + step]
    low, high = np.minimum(left, right), np.maximum(left, right)
    return low.astype(np.int32), high.astype(np.int32), int(too_big.sum()), int(sizes[too_big].sum())


def candidate_pairs(
    records: pd.DataFrame, rules: list[BlockingRule], groups: np.ndarray | None = None
) -> Candidates:
    """The union of every rule's pairs; with `groups`, only pairs across groups (linking)."""
    count = len(records)
    keys, rule_of, rows = [], [], []
    for number, rule in enumerate(rules):
        focus = records[rule.focus].to_numpy(dtype=bool) if rule.focus else None
        left, right, skipped, skipped_records = pairs_within(
            block_codes(records, rule.keys), rule.max_block, focus
        )
        if groups is not None:
            across = groups[left] != groups[right]
            left, right = left[across], right[across]
        keys.append(left.astype(np.int64) * count + right)
        rule_of.append(np.full(len(left), number, dtype=np.int8))
        rows.append(
            {
                "rule": rule.name,
                "pairs": len(left),
                "skipped_blocks": skipped,
                "skipped_records": skipped_records,
            }
        )
    everything = np.concatenate(keys) if keys else np.empty(0, np.int64)
    unique, first = np.unique(everything, return_index=True)
    rule = np.concatenate(rule_of)[first] if len(first) else np.empty(0, np.int8)
    report = pd.DataFrame(rows)
    report["new_pairs"] = np.bincount(rule, minlength=len(rules)) if len(rules) else []
    return Candidates((unique // count).astype(np.int32), (unique % count).astype(np.int32), rule, report)


def _focus_pairs(
    codes: np.ndarray, max_block: int, focus: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Each focus record with every other member of its block (blocks up to max_block)."""
    keyed = np.flatnonzero(codes >= 0)
    order = keyed[np.argsort(codes[keyed], kind="stable")]
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    too_big = sizes > max_block
    block_start = np.repeat(starts, sizes)
    block_size = np.repeat(np.where(too_big, 0, sizes), sizes)
    chosen = focus[order] & (block_size > 1)
    partners = np.where(chosen, block_size, 0)
    total = int(partners.sum())
    step = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    left = np.repeat(order, partners)
    right = order[np.repeat(block_start, partners) + step]
    keep = left != right
    low, high = np.minimum(left[keep], right[keep]), np.maximum(left[keep], right[keep])
    unique = np.unique(low.astype(np.int64) * len(codes) + high)
    return (
        (unique // len(codes)).astype(np.int32),
        (unique % len(codes)).astype(np.int32),
        int(too_big.sum()),
        int(sizes[too_big].sum()),
    )
