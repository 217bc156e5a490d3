"""How good a linkage is, where the truth is known (synthetic regions, labelled files).

Pairwise: every two records of one true person are a true pair; a clustering predicts
the pairs inside its clusters. A false merge is a cluster holding records of two or
more true people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from identity.blocking import Candidates, block_codes
from identity.spec import BlockingRule


def _pairs(labels: np.ndarray) -> int:
    _, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def pair_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the pairs a clustering puts together."""
    both = pd.factorize(pd.Series(predicted).astype(str) + "\x1f" + pd.Series(truth).astype(str))[0]
    hits, found, real = _pairs(both), _pairs(np.asarray(predicted)), _pairs(pd.factorize(truth)[0])
    precision = hits / found if found else 1.0
    recall = hits / real if real else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "predicted_pairs": found,
        "true_pairs": real,
        "true_positives": hits,
    }


def false_merges(predicted: np.ndarray, truth: np.ndarray) -> int:
    """Clusters that hold records of more than one true person."""
    people = pd.DataFrame({"cluster": predicted, "truth": truth}).groupby("cluster")["truth"].nunique()
    return int((people > 1).sum())


def id_conflicts(predicted: np.ndarray, records: pd.DataFrame) -> int:
    """Clusters holding two different valid IDs of one strong kind (must be zero)."""
    counts = _numbered(records, cluster=predicted).groupby(["cluster", "kind"])["value"].nunique()
    return int(counts[counts > 1].index.get_level_values("cluster").nunique())


def _numbered(records: pd.DataFrame, **columns: np.ndarray) -> pd.DataFrame:
    """The records with a valid strong number: kind, value and the given per-record columns."""
    strong = records["id_strong"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "kind": records["id_kind"].to_numpy()[strong],
            "value": records["id_value"].to_numpy()[strong],
            **{name: np.asarray(values)[strong] for name, values in columns.items()},
        }
    )


def id_false_merges(predicted: np.ndarray, truth: np.ndarray, records: pd.DataFrame) -> int:
    """Clusters whose records with a valid number belong to two or more true people (must
    be zero, whatever the kinds: a D-number beside another person's fødselsnummer counts)."""
    people = _numbered(records, cluster=predicted, truth=truth).groupby("cluster")["truth"].nunique()
    return int((people > 1).sum())


def id_changes(predicted: np.ndarray, truth: np.ndarray, records: pd.DataFrame) -> dict[str, int]:
    """True people whose records carry valid numbers of two kinds (a D-number, later a
    fødselsnummer), and how many of them one cluster holds with all those records."""
    frame = _numbered(records, cluster=predicted, truth=truth).groupby("truth")
    changed = frame["kind"].nunique() > 1
    together = frame["cluster"].nunique() == 1
    return {"persons": int(changed.sum()), "linked": int((changed & together).sum())}


def blocking_completeness(
    records: pd.DataFrame, candidates: Candidates, rules: list[BlockingRule], truth: np.ndarray
) -> pd.DataFrame:
    """The blocking report with, per rule, the true pairs its blocks hold (pairs completeness)."""
    codes = pd.factorize(truth)[0]
    real = _pairs(codes)
    same = codes[candidates.left] == codes[candidates.right]
    rows = []
    for rule in rules:
        block = block_codes(records, rule.keys)
        inside = (block[candidates.left] == block[candidates.right]) & (block[candidates.left] >= 0)
        if rule.focus:
            focus = records[rule.focus].to_numpy(dtype=bool)
            inside &= focus[candidates.left] | focus[candidates.right]
        rows.append({"rule": rule.name, "true_pairs_kept": int((inside & same).sum())})
    report = candidates.report.merge(pd.DataFrame(rows), on="rule")
    report["completeness"] = report["true_pairs_kept"] / max(real, 1)
    union = {
        "rule": "(union)",
        "pairs": len(candidates),
        "new_pairs": len(candidates),
        "true_pairs_kept": int(same.sum()),
        "completeness": same.sum() / max(real, 1),
    }
    return pd.concat([report, pd.DataFrame([union])], ignore_index=True)
