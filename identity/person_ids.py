"""Stable journal person ids: re-running a wave must not renumber anybody."""

from __future__ import annotations

import pandas as pd


def assign_person_ids(records: pd.DataFrame, existing: pd.DataFrame, largest: int = 0) -> pd.Series:
    """A journal_person_id per record, from its cluster.

    A cluster keeps the id its members already had in the journal (the smallest, if two
    earlier persons now meet); an id claimed by two clusters stays with the first, in a
    deterministic order, and new clusters count on from the largest id ever given
    (`largest`: the journal's, which counts persons no link claims any more).
    """
    keys = ["source_system", "source_person_id"]
    known = records[keys + ["cluster"]].merge(existing[keys + ["journal_person_id"]], on=keys, how="left")
    claims = known.groupby("cluster", sort=False)["journal_person_id"].min()
    order = records.assign(key=records["source_system"] + "\x1f" + records["source_person_id"])
    first_key = order.groupby("cluster", sort=False)["key"].min().sort_values()
    next_id = max(int(existing["journal_person_id"].max()) if len(existing) else 0, largest) + 1
    taken: set[int] = set()
    ids: dict[int, int] = {}
    for cluster in first_key.index:
        claim = claims.get(cluster)
        if pd.notna(claim) and int(claim) not in taken:
            ids[cluster] = int(claim)
        else:
            ids[cluster] = next_id
            next_id += 1
        taken.add(ids[cluster])
    return records["cluster"].map(ids).astype("int64")
