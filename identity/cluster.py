"""Safe clustering: union-find that refuses any merge a false-merge rule forbids.

Two different valid national IDs of the same strong kind (two fødselsnumre, two
D-numbers) never end in one cluster automatically, however the records are chained;
neither do two records a steward said are different people, nor two records whose
own comparison contradicts (a birth date, sex or given name that differs): a cluster
chained together only through weaker links is cut where they meet. A refused merge
becomes a review pair with the reason.

Most clusters have no conflict at all: `components` finds them with scipy in one
vectorised pass, and only the few that need care go through the union-find.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class Edge:
    left: int
    right: int
    kind: str
    weight: float
    forced: bool = False
    """Joins even across a cannot-link pair (a contradiction, a steward's reject): a steward's
    accept or a source system's own merge, because a person decided."""
    ids_checked: bool = True
    """Two different valid numbers of one kind still refuse it; only a steward's accept overrides."""


@dataclass
class Refusal:
    edge: Edge
    reason: str


@dataclass
class SafeClusters:
    """Clusters over record indices 0..n-1; each record's strong IDs keyed by kind."""

    strong_ids: list[dict[str, str]]
    cannot_link: dict[frozenset[int], str] = field(default_factory=dict)
    """Pairs that must not meet in a cluster, with the reason shown to the steward."""
    parent: list[int] = field(init=False)
    ids: dict[int, dict[str, set[str]]] = field(init=False)
    members: dict[int, set[int]] = field(init=False)
    joined_by: dict[int, Edge] = field(init=False, default_factory=dict)
    forbidden: dict[int, dict[int, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        count = len(self.strong_ids)
        for pair, reason in self.cannot_link.items():
            left, right = tuple(pair)
            self.forbidden.setdefault(left, {})[right] = reason
            self.forbidden.setdefault(right, {})[left] = reason
        self.parent = list(range(count))
        self.ids = {i: {k: {v} for k, v in ids.items()} for i, ids in enumerate(self.strong_ids)}
        self.members = {i: {i} for i in range(count)}

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union_all(self, edges: Iterable[Edge]) -> list[Refusal]:
        """Apply edges in the order given (strongest first); return the refused ones."""
        refused: list[Refusal] = []
        for edge in edges:
            reason = self.union(edge)
            if reason is not None:
                refused.append(Refusal(edge, reason))
        return refused

    def union(self, edge: Edge) -> str | None:
        a, b = self.find(edge.left), self.find(edge.right)
        if a == b:
            return None
        reason = self._id_conflict(a, b) if edge.ids_checked else None
        if reason is None and not edge.forced:
            reason = self._cannot_link(a, b)
        if reason is not None:
            return reason
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a] |= self.members.pop(b)
        for kind, values in self.ids.pop(b).items():
            self.ids[a].setdefault(kind, set()).update(values)
        for record in (edge.left, edge.right):
            self.joined_by.setdefault(record, edge)
        return None

    def _id_conflict(self, a: int, b: int) -> str | None:
        for kind, values in self.ids[a].items():
            other = self.ids[b].get(kind)
            if other and other != values:
                return f"would join two different valid {kind} numbers"
        return None

    def _cannot_link(self, a: int, b: int) -> str | None:
        small, large = sorted((self.members[a], self.members[b]), key=len)
        for record in small:
            for other, reason in self.forbidden.get(record, {}).items():
                if other in large:
                    return reason
        return None

    def labels(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def components(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of records 0..count-1 under the edges (left[i], right[i])."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(count, count))
    return connected_components(graph, directed=False)[1]
