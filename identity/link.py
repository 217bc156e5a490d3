"""The identity engine: block → compare → estimate → score → cluster safely.

One function, `link`, for every use: the migration's person records (with local-id
namespaces and steward decisions) and `enjournal match-files` on any CSV. Pairs fall in
three bands by match probability: auto-match, review, non-match. An auto pair whose
own comparison contradicts (two valid fødselsnumre, another birth date, sex or given
name, a D-number beside a fødselsnummer nothing but name and birth date ties to it,
see `identity.id_ties`) is never merged automatically; neither is a cluster that would
hold such a pair through a chain of other links, nor two different valid IDs of one kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity.blocking import Candidates, block_codes, candidate_pairs, pairs_within
from identity.cluster import Edge, SafeClusters, components
from identity.compare import Vectors, compare
from identity.id_ties import IdTies, beyond_change, evidenced_changes
from identity.model import (
    Model,
    estimate_from_labels,
    estimate_m,
    estimate_prior,
    estimate_u,
)
from identity.spec import LinkageSpec

KIND_RANK = {"steward": 0, "merge": 0, "local_id": 1, "id_exact": 2, "probabilistic": 3, "unique_name": 4}
FORCED = frozenset({"steward", "merge"})
"""Links a person or a source system decided: they join even across a contradiction. Only a
steward's accept joins two different valid numbers of one kind; a source merge that would
goes to review."""
RANDOM_PAIRS = 1_000_000
ESTIMATION_ROUNDS = 3
"""m, prior and u depend on each other: a few rounds settle them."""
REVIEW_PER_RECORD = 3
"""A record with a common name and nothing else would flood the review: its best few pairs."""
LARGEST_CHECKED_CLUSTER = 200
"""Clusters above this size are not checked pair by pair: they always go through union-find."""


@dataclass(frozen=True)
class Thresholds:
    """Match probabilities: at or above `auto_match` link, at or above `review` ask a steward."""

    auto_match: float
    review: float


@dataclass
class Linkage:
    """Per record: cluster label, how it was joined and with what weight; the scored pairs."""

    cluster: np.ndarray
    link_kind: np.ndarray
    match_weight: np.ndarray
    pairs: pd.DataFrame
    """left, right, match_weight, match_probability, band (auto / review), kind, reason."""
    model: Model
    blocking: pd.DataFrame
    candidates: Candidates

    @property
    def review(self) -> pd.DataFrame:
        return self.pairs[self.pairs["band"] == "review"].reset_index(drop=True)


def link(
    records: pd.DataFrame,
    spec: LinkageSpec,
    thresholds: Thresholds,
    *,
    local_ids: np.ndarray | None = None,
    accepted: np.ndarray | None = None,
    rejected: np.ndarray | None = None,
    merged: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    labelled: pd.DataFrame | None = None,
    random_pairs: int = RANDOM_PAIRS,
    seed: int = 0,
) -> Linkage:
    """Link prepared records (`identity.prepare.prepare`).

    local_ids: per record a code (-1 none); equal codes are one registration in one
    patient index. accepted / rejected: (k, 2) arrays of record pairs a steward judged.
    merged: (k, 2) record pairs a source system merged (an HL7 ADT^A40 "merge patient"
    from a connector): forced links of kind `merge` (not past two different valid numbers
    of one kind).
    groups: per record 0 or 1 to link two files (only pairs across groups).
    labelled: pairs left, right, is_match to estimate m and u from instead of EM alone.
    """
    count = len(records)
    candidates = candidate_pairs(records, spec.blocking, groups)
    vectors = compare(records, candidates.left, candidates.right, spec)
    model = _train(records, spec, candidates, vectors, groups, labelled, random_pairs, seed)
    weight, probability = model.score(vectors)
    no_pairs = np.empty((0, 2), dtype=np.int64)
    accepted = no_pairs if accepted is None else np.asarray(accepted, dtype=np.int64).reshape(-1, 2)
    merged = no_pairs if merged is None else np.asarray(merged, dtype=np.int64).reshape(-1, 2)
    rejected = no_pairs if rejected is None else np.asarray(rejected, dtype=np.int64).reshape(-1, 2)
    rejected_keys = _keys(rejected[:, 0], rejected[:, 1], count)
    pair_keys = _keys(candidates.left, candidates.right, count)
    judged = np.isin(pair_keys, rejected_keys)

    ids = IdTies.of(records, local_ids)
    exact_id = ids.same(candidates.left, candidates.right)
    forced = pd.concat(
        [
            _frame(accepted[:, 0], accepted[:, 1], "steward", np.nan),
            _frame(merged[:, 0], merged[:, 1], "merge", np.nan),
            _local_edges(local_ids),
        ],
        ignore_index=True,
    )
    links = (probability >= thresholds.auto_match) & ~judged
    changes = evidenced_changes(spec, vectors.levels, links, model.contradicting(vectors.levels, exact_id))
    ids = ids.tied(
        np.r_[forced["left"].to_numpy(), candidates.left[changes]],
        np.r_[forced["right"].to_numpy(), candidates.right[changes]],
    )
    contradicting = model.contradicting(vectors.levels, ids.same(candidates.left, candidates.right))
    contradicts = contradicting.any(axis=1)

    auto = links & ~contradicts
    edges = pd.concat(
        [
            forced,
            _frame(
                candidates.left[auto],
                candidates.right[auto],
                np.where(exact_id[auto], "id_exact", "probabilistic"),
                weight[auto],
            ),
        ],
        ignore_index=True,
    )
    edges = _scored(edges, pair_keys, weight, count)
    edges["rank"] = edges["kind"].map(KIND_RANK)
    edges = edges.sort_values(["rank", "weight", "left", "right"], ascending=[True, False, True, True])
    edges = edges.drop_duplicates(["left", "right"]).reset_index(drop=True)
    edges = edges[
        ~np.isin(_keys(edges["left"], edges["right"], count), rejected_keys) | edges["kind"].isin(FORCED)
    ]

    cluster, refused = _safe_clusters(records, spec, model, edges, rejected, ids)
    unique = _unique_names(records, spec, cluster)
    if len(unique):
        unique = _scored(unique, pair_keys, weight, count).assign(rank=KIND_RANK["unique_name"])
        edges = pd.concat([edges, unique], ignore_index=True)
        first = pd.Series(np.arange(count)).groupby(cluster).transform("first").to_numpy()
        cluster = components(
            count,
            np.r_[np.arange(count), unique["left"].to_numpy()],
            np.r_[first, unique["right"].to_numpy()],
        )
    same = cluster[edges["left"].to_numpy()] == cluster[edges["right"].to_numpy()]
    link_kind, match_weight = _joined_by(edges[same], count)

    # A contradicting pair is worth a steward's time only where it would otherwise link; a
    # change of number nothing ties is no such contradiction, only a want of evidence.
    hard = beyond_change(spec, vectors.levels, contradicting)
    review_band = np.flatnonzero(
        np.where(hard, probability >= thresholds.auto_match, probability >= thresholds.review)
        & ~auto
        & ~judged
    )
    disagree = _disagreement(model, vectors.levels[review_band], contradicting[review_band])
    scored = _best_per_record(
        pd.DataFrame(
            {
                "left": candidates.left[review_band],
                "right": candidates.right[review_band],
                "reason": np.where(contradicts[review_band], disagree, "uncertain match"),
                "weight": weight[review_band],
            }
        ),
        REVIEW_PER_RECORD,
    ).drop(columns="weight")
    name_only = _name_only_review(records, spec, cluster, candidates, weight, ~contradicts & ~judged)
    open_pairs = pd.concat([refused, scored, name_only], ignore_index=True)
    open_pairs = open_pairs.drop_duplicates(["left", "right"])
    open_pairs = open_pairs.astype({"left": np.int64, "right": np.int64}).assign(kind="")
    open_pairs = open_pairs[cluster[open_pairs["left"].to_numpy()] != cluster[open_pairs["right"].to_numpy()]]
    open_pairs = _scored(open_pairs.assign(band="review"), pair_keys, weight, count)
    linked = edges[same][["left", "right", "kind", "weight"]].assign(band="auto", reason="")
    pairs = pd.concat([linked, open_pairs], ignore_index=True).rename(columns={"weight": "match_weight"})
    pairs["match_probability"] = _probability(pairs["match_weight"].to_numpy())
    pairs = pairs[["left", "right", "match_weight", "match_probability", "band", "kind", "reason"]]
    pairs = pairs.astype({"left": np.int64, "right": np.int64}).reset_index(drop=True)
    return Linkage(cluster, link_kind, match_weight, pairs, model, candidates.report, candidates)


def _best_per_record(pairs: pd.DataFrame, most: int) -> pd.DataFrame:
    """The pairs that are among the `most` heaviest of both their records."""
    ranked = pairs.sort_values("weight", ascending=False, kind="stable")
    keep = (ranked.groupby("left").cumcount() < most) & (ranked.groupby("right").cumcount() < most)
    return ranked[keep.to_numpy()].sort_index()


def _train(
    records: pd.DataFrame,
    spec: LinkageSpec,
    candidates: Candidates,
    vectors: Vectors,
    groups: np.ndarray | None,
    labelled: pd.DataFrame | None,
    random_pairs: int,
    seed: int,
) -> Model:
    start = Model.start(spec)
    model = Model.start(spec)
    left, right, total = _random_pairs(len(records), groups, random_pairs, seed)
    random = compare(records, left, right, spec)
    estimate_u(model, random)
    sessions = _sessions(records, spec, candidates)
    for _ in range(ESTIMATION_ROUNDS):
        estimate_m(model, vectors, sessions, start)
        estimate_prior(model, vectors, total)
        estimate_u(model, random, start=start)
    estimate_m(model, vectors, sessions, start)
    if labelled is not None and len(labelled):
        judged = compare(records, labelled["left"].to_numpy(), labelled["right"].to_numpy(), spec)
        estimate_from_labels(model, judged, labelled["is_match"].to_numpy(dtype=bool))
    estimate_prior(model, vectors, total)
    return model


def _sessions(
    records: pd.DataFrame, spec: LinkageSpec, candidates: Candidates
) -> list[tuple[np.ndarray, list[int]]]:
    """EM sessions: the candidate pairs of each training rule, and the fields it may estimate."""
    sessions = []
    names = [c.name for c in spec.comparisons]
    for session in spec.training or []:
        rule = next(r for r in spec.blocking if r.name == session.rule)
        codes = block_codes(records, rule.keys)
        rows = np.flatnonzero(
            (codes[candidates.left] == codes[candidates.right]) & (codes[candidates.left] >= 0)
        )
        sessions.append((rows, [i for i, name in enumerate(names) if name not in session.fixes]))
    if not sessions:
        sessions.append((np.arange(len(candidates)), list(range(len(names)))))
    return sessions


def _random_pairs(
    count: int, groups: np.ndarray | None, wanted: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Random distinct record pairs (all of them when there are few), and how many exist."""
    if groups is None:
        total = count * (count - 1) / 2
        if total <= wanted:
            left, right, _, _ = pairs_within(np.zeros(count, dtype=np.int64), count)
            return left, right, total
        rng = np.random.default_rng(seed)
        left, right = rng.integers(0, count, wanted), rng.integers(0, count, wanted)
        keep = left != right
        return left[keep], right[keep], total
    first, second = np.flatnonzero(groups == 0), np.flatnonzero(groups == 1)
    total = float(len(first) * len(second))
    if total <= wanted:
        return np.repeat(first, len(second)), np.tile(second, len(first)), total
    rng = np.random.default_rng(seed)
    return rng.choice(first, wanted), rng.choice(second, wanted), total


def _keys(left: np.ndarray | pd.Series, right: np.ndarray | pd.Series, count: int) -> np.ndarray:
    """One int64 per unordered pair."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    return np.minimum(left, right) * count + np.maximum(left, right)


def _frame(left: np.ndarray, right: np.ndarray, kind: object, weight: object) -> pd.DataFrame:
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    return pd.DataFrame(
        {"left": np.minimum(left, right), "right": np.maximum(left, right), "kind": kind, "weight": weight}
    )


def _scored(frame: pd.DataFrame, pair_keys: np.ndarray, weight: np.ndarray, count: int) -> pd.DataFrame:
    """Fill each pair's match weight from the candidates (NaN for pairs never compared)."""
    keys = _keys(frame["left"], frame["right"], count)
    position = np.searchsorted(pair_keys, keys).clip(max=max(len(pair_keys) - 1, 0))
    found = (pair_keys[position] == keys) if len(pair_keys) else np.zeros(len(keys), dtype=bool)
    known = np.where(found, weight[position] if len(weight) else np.nan, np.nan)
    current = frame["weight"].to_numpy(dtype=float) if "weight" in frame else np.full(len(frame), np.nan)
    return frame.assign(weight=np.where(np.isnan(current), known, current))


def _probability(weight: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(weight), np.nan, 1.0 / (1.0 + np.exp2(-np.clip(np.nan_to_num(weight), -60, 60))))


def _local_edges(local_ids: np.ndarray | None) -> pd.DataFrame:
    """Records with the same local id in one patient index: one registration."""
    if local_ids is None:
        return _frame(np.empty(0), np.empty(0), "local_id", np.nan)
    order = np.argsort(local_ids, kind="stable")
    codes = local_ids[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    root = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    keep = ~first & (codes >= 0)
    return _frame(root[keep], order[keep], "local_id", np.nan)


def _disagreement(model: Model, levels: np.ndarray, contradicting: np.ndarray) -> np.ndarray:
    """'records disagree on birth_date (same year), sex (different)' per pair: the fields
    that contradict (`Model.contradicting`) with their level (empty where none does)."""
    parts = [
        np.where(contradicting[:, f], np.array([f"{name} ({label})" for label in labels])[levels[:, f]], "")
        for f, (name, labels) in enumerate(zip(model.names, model.labels, strict=True))
    ]
    joined = pd.Series([", ".join(p for p in row if p) for row in zip(*parts, strict=True)], dtype=object)
    return np.where(joined != "", "records disagree on " + joined, "").astype(object)


def _safe_clusters(
    records: pd.DataFrame,
    spec: LinkageSpec,
    model: Model,
    edges: pd.DataFrame,
    rejected: np.ndarray,
    ids: IdTies,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster labels, and the refused edges with the reason (as review pairs)."""
    count = len(records)
    left, right = edges["left"].to_numpy(), edges["right"].to_numpy()
    label = components(count, left, right)
    care = _conflicting_components(records, label)
    inner_left, inner_right, _, _ = pairs_within(label, LARGEST_CHECKED_CLUSTER)
    big = np.bincount(label, minlength=count) > LARGEST_CHECKED_CLUSTER
    care[np.unique(label[big[label]])] = True
    inner = compare(records, inner_left, inner_right, spec)
    contradicting = model.contradicting(inner.levels, ids.same(inner_left, inner_right))
    bad = contradicting.any(axis=1)
    reasons = _disagreement(model, inner.levels[bad], contradicting[bad])
    forbidden = {
        frozenset((int(a), int(b))): f"{reason} (joined only through other records)"
        for a, b, reason in zip(inner_left[bad], inner_right[bad], reasons, strict=True)
    }
    for a, b in rejected.tolist():
        forbidden[frozenset((a, b))] = "a data steward decided these are different people"
    care[label[inner_left[bad]]] = True
    care[label[rejected[:, 0][label[rejected[:, 0]] == label[rejected[:, 1]]]]] = True
    members = np.flatnonzero(care[label])
    if not len(members):
        return label, pd.DataFrame({"left": [], "right": [], "reason": []})
    local = {int(record): i for i, record in enumerate(members)}
    strong = _strong_ids(records, members)
    constraints = {
        frozenset(local[r] for r in pair): reason
        for pair, reason in forbidden.items()
        if all(r in local for r in pair)
    }
    safe = SafeClusters(strong, cannot_link=constraints)
    inside = care[label[left]]
    chosen = edges[inside]
    refusals = safe.union_all(
        Edge(
            local[int(a)], local[int(b)], kind, float(w), forced=kind in FORCED, ids_checked=kind != "steward"
        )
        for a, b, kind, w in zip(
            chosen["left"], chosen["right"], chosen["kind"], chosen["weight"], strict=True
        )
    )
    label = label.copy()
    label[members] = count + np.asarray(safe.labels())
    refused = pd.DataFrame(
        {
            "left": [int(members[r.edge.left]) for r in refusals],
            "right": [int(members[r.edge.right]) for r in refusals],
            "reason": [r.reason for r in refusals],
        }
    )
    return label, refused


def _name_only(
    records: pd.DataFrame, spec: LinkageSpec, cluster: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per record: it has every `unique_name` column; its cluster holds nothing but names."""
    names = records[spec.unique_name]
    others = [c.column for c in spec.comparisons if c.column not in spec.unique_name]
    has_name = names.notna().all(axis=1).to_numpy()
    name_only = has_name & records[others].isna().all(axis=1).to_numpy() if others else has_name
    return has_name, pd.Series(name_only).groupby(cluster).transform("all").to_numpy()


def _name_only_review(
    records: pd.DataFrame,
    spec: LinkageSpec,
    cluster: np.ndarray,
    candidates: Candidates,
    weight: np.ndarray,
    eligible: np.ndarray,
) -> pd.DataFrame:
    """Review pairs for records with nothing but a common name (no unique name joined them):
    the best pair with each of their `name_only_review` heaviest candidate people. Such a
    pair's probability is low by nature (one of several bearers), yet a steward can tell
    from the source (a lab message names the requesting GP)."""
    if not spec.unique_name or not spec.name_only_review:
        return pd.DataFrame({"left": [], "right": [], "reason": []})
    has_name, only = _name_only(records, spec, cluster)
    alone = has_name & only
    left, right = candidates.left, candidates.right
    flip = alone[right] & ~only[left]
    keep = eligible & ((alone[left] & ~only[right]) | flip)
    record = np.where(flip, right, left)[keep]
    other = np.where(flip, left, right)[keep]
    ranked = pd.DataFrame(
        {"record": record, "cluster": cluster[other], "other": other, "weight": weight[keep]}
    )
    ranked = ranked.sort_values("weight", ascending=False, kind="stable")
    ranked = ranked.drop_duplicates(["record", "cluster"])
    people = ranked.groupby("record")["cluster"].transform("size").astype(str)
    best = (ranked.groupby("record").cumcount() < spec.name_only_review).to_numpy()
    pairs = _frame(ranked["record"].to_numpy()[best], ranked["other"].to_numpy()[best], "", np.nan)
    reason = "only a name, borne by " + people.to_numpy(dtype=object)[best] + " candidate people"
    return pairs.assign(reason=reason)[["left", "right", "reason"]]


def _unique_names(records: pd.DataFrame, spec: LinkageSpec, cluster: np.ndarray) -> pd.DataFrame:
    """Edges that join each cluster of name-only records to the one other cluster bearing
    exactly that full name (in either order), when exactly one does."""
    if not spec.unique_name:
        return _frame(np.empty(0), np.empty(0), "unique_name", np.nan)
    names = records[spec.unique_name]
    has_name, only = _name_only(records, spec, cluster)
    key, turned = _joined(names), _joined(names.iloc[:, ::-1])
    known = pd.DataFrame(
        {
            "key": np.r_[key[has_name & ~only], turned[has_name & ~only]],
            "cluster": np.r_[cluster[has_name & ~only], cluster[has_name & ~only]],
            "record": np.r_[np.flatnonzero(has_name & ~only), np.flatnonzero(has_name & ~only)],
        }
    ).drop_duplicates(["key", "cluster"])
    bearers = known.groupby("key")["cluster"].nunique()
    single = known[known["key"].map(bearers) == 1].drop_duplicates("key").set_index("key")["record"]
    rows = np.flatnonzero(only & has_name)
    target = single.reindex(key[rows]).to_numpy()
    found = ~np.isnan(target)
    return _frame(rows[found], target[found].astype(np.int64), "unique_name", np.nan)


def _joined(frame: pd.DataFrame) -> np.ndarray:
    """Each row's values joined by "|", column by column (a row-wise `agg` is a Python
    loop: 15 s at 100k records)."""
    columns = [frame[c].astype("string").fillna("") for c in frame.columns]
    joined = columns[0]
    for column in columns[1:]:
        joined = joined + "|" + column
    return joined.to_numpy(dtype=object)


def _conflicting_components(records: pd.DataFrame, label: np.ndarray) -> np.ndarray:
    """Components that hold two different valid IDs of one strong kind."""
    care = np.zeros(len(label) + 1, dtype=bool)
    if "id_strong" not in records:
        return care
    strong = records["id_strong"].to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {
            "label": label[strong],
            "kind": records["id_kind"].to_numpy()[strong],
            "value": records["id_value"].to_numpy()[strong],
        }
    )
    counts = frame.groupby(["label", "kind"])["value"].nunique()
    care[counts[counts > 1].index.get_level_values("label").to_numpy()] = True
    return care


def _strong_ids(records: pd.DataFrame, members: np.ndarray) -> list[dict[str, str]]:
    if "id_strong" not in records:
        return [{} for _ in members]
    strong = records["id_strong"].to_numpy(dtype=bool)[members]
    kinds = records["id_kind"].to_numpy()[members]
    values = records["id_value"].to_numpy()[members]
    return [{str(k): str(v)} if s else {} for s, k, v in zip(strong, kinds, values, strict=True)]


def _joined_by(edges: pd.DataFrame, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the strongest link that holds it in its cluster ('single' if none)."""
    both = pd.concat(
        [
            edges[["left", "kind", "weight", "rank"]].rename(columns={"left": "record"}),
            edges[["right", "kind", "weight", "rank"]].rename(columns={"right": "record"}),
        ],
        ignore_index=True,
    )
    best = both.sort_values(["rank", "weight"], ascending=[True, False]).drop_duplicates("record")
    kind = np.full(count, "single", dtype=object)
    weight = np.full(count, np.nan)
    kind[best["record"].to_numpy()] = best["kind"].to_numpy()
    weight[best["record"].to_numpy()] = best["weight"].to_numpy(dtype=float)
    return kind, weight
