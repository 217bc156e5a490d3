"""Link a migration's source person records into journal persons.

The pipeline's face of the identity engine (`identity.link`): source records keyed by
(source_system, source_person_id), local-id namespaces (one hospital patient index
behind two sources), and steward decisions replayed as forced links (accept) and
cannot-links (reject). Review pairs carry a stable `pair_id` a steward decides on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from identity.link import Linkage, Thresholds, link
from identity.prepare import prepare
from identity.spec import DEFAULT_SPEC, LinkageSpec, load_spec

__all__ = ["Matches", "Thresholds", "match", "pair_id", "prepare", "REVIEW_COLUMNS"]

SIDES = ("left_source_system", "left_source_person_id", "right_source_system", "right_source_person_id")
REVIEW_COLUMNS = ["pair_id", *SIDES, "match_weight", "match_probability", "reason"]


@dataclass
class Matches:
    """Per source record its cluster label and link kind, plus the pairs for review."""

    records: pd.DataFrame
    review: pd.DataFrame
    linkage: Linkage
    spec: LinkageSpec


def pair_id(left: tuple[str, str], right: tuple[str, str]) -> str:
    """A stable id for a pair of source person records, the same whichever comes first."""
    a, b = sorted((left, right))
    return hashlib.sha256("|".join((*a, *b)).encode()).hexdigest()[:16]


def match(
    persons: pd.DataFrame,
    thresholds: Thresholds,
    decisions: pd.DataFrame | None = None,
    spec: Path = DEFAULT_SPEC,
    merges: pd.DataFrame | None = None,
) -> Matches:
    """Cluster prepared person records (see `prepare`) safely.

    decisions: steward decisions (match_decision rows). merges: the hook for merge evidence
    from the sources themselves (e.g. HL7 ADT^A40 "merge patient", once a connector stages
    it), with the four side columns of a decision: each becomes a forced link of kind `merge`.
    """
    linkage_spec = load_spec(spec)
    accepted, rejected = _decisions(persons, decisions)
    merged, _ = _decisions(persons, None if merges is None else merges.assign(decision="accept"))
    local = (
        persons.groupby(["namespace", "source_person_id"], sort=False).ngroup().to_numpy()
        if "namespace" in persons
        else None
    )
    linkage = link(
        persons,
        linkage_spec,
        thresholds,
        local_ids=local,
        accepted=accepted,
        rejected=rejected,
        merged=merged,
    )
    records = persons[["source_system", "source_person_id"]].copy()
    records["cluster"] = linkage.cluster
    records["link_kind"] = linkage.link_kind
    records["match_weight"] = linkage.match_weight
    return Matches(records, review_frame(persons, linkage.review), linkage, linkage_spec)


def review_frame(persons: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Review pairs keyed by source records, with their stable pair ids, sorted by pair id."""
    if pairs.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c.startswith("match") else object) for c in REVIEW_COLUMNS}
        )
    systems = persons["source_system"].to_numpy(dtype=object)
    ids = persons["source_person_id"].astype(str).to_numpy(dtype=object)
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    out = pd.DataFrame(
        {
            "left_source_system": systems[left],
            "left_source_person_id": ids[left],
            "right_source_system": systems[right],
            "right_source_person_id": ids[right],
            "match_weight": pairs["match_weight"].to_numpy(dtype=float),
            "match_probability": pairs["match_probability"].to_numpy(dtype=float),
            "reason": pairs["reason"].to_numpy(dtype=object),
            "left": left,
            "right": right,
        }
    )
    out.insert(
        0, "pair_id", [pair_id((a, b), (c, d)) for a, b, c, d in out[list(SIDES)].itertuples(index=False)]
    )
    return out.sort_values("pair_id").reset_index(drop=True)


def _decisions(persons: pd.DataFrame, decisions: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Steward decisions as record-position pairs: accepted (forced links), rejected."""
    empty = np.empty((0, 2), dtype=np.int64)
    if decisions is None or decisions.empty:
        return empty, empty
    keys = pd.MultiIndex.from_arrays([persons["source_system"], persons["source_person_id"].astype(str)])
    position = pd.Series(np.arange(len(persons)), index=keys)
    position = position[~position.index.duplicated()]
    left = position.reindex(
        pd.MultiIndex.from_arrays(
            [decisions["left_source_system"], decisions["left_source_person_id"].astype(str)]
        )
    ).to_numpy()
    right = position.reindex(
        pd.MultiIndex.from_arrays(
            [decisions["right_source_system"], decisions["right_source_person_id"].astype(str)]
        )
    ).to_numpy()
    known = ~np.isnan(left) & ~np.isnan(right)
    pairs = np.column_stack([left, right])[known].astype(np.int64)
    accept = (decisions["decision"].to_numpy() == "accept")[known]
    return pairs[accept], pairs[~accept]
