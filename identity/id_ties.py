"""Which record pairs carry one person's identifiers, and how numbers get tied together.

Two records are one person's by identifier when they share a local registration (one
patient index) or a valid national number, or when their two valid numbers have been
tied together: a D-number and the fødselsnummer that later replaced it. Name, birth
date and sex cannot show such a change on their own (two people with a common name
born the same day agree on all three, one with a D-number, the other with a
fødselsnummer), so numbers of two kinds are tied only by a link a person or a source
made, or by a pair of records bearing them that would link anyway and also agrees
exactly where two people could not (`id_change_evidence` in the spec: the birth date
and the address; a similar address or a birth date a digit off is a neighbour's as
often as one's own). Ties hold for every
record bearing the numbers, so a lab message with the D-number joins the person its
hospital records show at the same address, and chains of ties are followed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity.cluster import components
from identity.spec import LinkageSpec

CHANGE_TEST = "id_other_kind"
"""The comparison test whose level marks two valid numbers of different kinds."""


@dataclass(frozen=True)
class IdTies:
    """Per record its local registration and the person its valid number is tied to (-1 none)."""

    local_ids: np.ndarray | None
    person: np.ndarray

    @classmethod
    def of(cls, records: pd.DataFrame, local_ids: np.ndarray | None) -> IdTies:
        """Each valid number on its own: records share a person only by an equal number."""
        person = np.full(len(records), -1, dtype=np.int64)
        if "id_strong" in records:
            strong = records["id_strong"].to_numpy(dtype=bool)
            person[strong] = pd.factorize(records["id_value"].astype("string")[strong])[0]
        return cls(local_ids, person)

    def same(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Pairs (left[i], right[i]) with one local registration or one person's valid numbers."""
        same = (self.person[left] == self.person[right]) & (self.person[left] >= 0)
        if self.local_ids is not None:
            same |= (self.local_ids[left] == self.local_ids[right]) & (self.local_ids[left] >= 0)
        return same

    def tied(self, left: np.ndarray, right: np.ndarray) -> IdTies:
        """The numbers of records left[i] and right[i] (where both have one) are one person's."""
        left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        both = (self.person[left] >= 0) & (self.person[right] >= 0)
        count = int(self.person.max()) + 1
        if not both.any() or count <= 0:
            return self
        label = components(count, self.person[left[both]], self.person[right[both]])
        return IdTies(self.local_ids, np.where(self.person >= 0, label[np.maximum(self.person, 0)], -1))


def change_level(spec: LinkageSpec) -> tuple[int, int] | None:
    """(comparison index, level number) of the level for valid numbers of different kinds."""
    for field, comparison in enumerate(spec.comparisons):
        for number, level in enumerate(comparison.levels, start=1):
            if level.test == CHANGE_TEST:
                return field, number
    return None


def beyond_change(spec: LinkageSpec, levels: np.ndarray, contradicting: np.ndarray) -> np.ndarray:
    """Pairs that contradict on more than an untied change of number (another birth date,
    sex, two numbers of one kind): `contradicting` is `Model.contradicting`."""
    change = change_level(spec)
    if change is None:
        return contradicting.any(axis=1)
    field, number = change
    only_change = np.zeros(contradicting.shape, dtype=bool)
    only_change[:, field] = levels[:, field] == number
    return (contradicting & ~only_change).any(axis=1)


def evidenced_changes(
    spec: LinkageSpec, levels: np.ndarray, links: np.ndarray, contradicting: np.ndarray
) -> np.ndarray:
    """Pairs whose numbers are of two kinds and that show the change: they would link
    (`links`: probability at auto-match, not rejected), no field but the ID contradicts,
    and they agree on every `id_change_evidence` comparison."""
    change = change_level(spec)
    if change is None or not spec.id_change_evidence:
        return np.zeros(len(levels), dtype=bool)
    field, number = change
    names = [c.name for c in spec.comparisons]
    agrees = np.ones(len(levels), dtype=bool)
    for evidence in spec.id_change_evidence:
        index = names.index(evidence.comparison)
        labels = spec.comparisons[index].labels
        agrees &= np.isin(levels[:, index], [labels.index(label) for label in evidence.levels])
    others = beyond_change(spec, levels, contradicting)
    return (levels[:, field] == number) & links & ~others & agrees
