"""Person records as a source saw them: the true person's state on the day the source
recorded it (the ID number, surname and address valid then; a death only once it has
happened). Errors are planted on these records before the sources format them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .ids import DNR, FNR
from .population import NAT, Population


@dataclass
class PersonRecords:
    """One row per person record (HL7: per message) of one source, keyed by
    `key` (the source_person_id). `person` is the index of the true person."""

    source: str
    key: np.ndarray
    person: np.ndarray
    as_of: np.ndarray
    nid: np.ndarray
    nid_type: np.ndarray
    family: np.ndarray
    given: np.ndarray
    middle: np.ndarray
    birth: np.ndarray
    sex: np.ndarray
    street: np.ndarray
    postnr: np.ndarray
    poststed: np.ndarray
    kommunenr: np.ndarray
    death: np.ndarray
    confidential: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    def take(self, rows: np.ndarray) -> PersonRecords:
        """A copy holding the given rows."""
        return PersonRecords(self.source, **{k: v[rows].copy() for k, v in self._arrays().items()})

    def extend(self, other: PersonRecords) -> PersonRecords:
        """A copy with other's rows appended."""
        return PersonRecords(
            self.source, **{k: np.concatenate([v, getattr(other, k)]) for k, v in self._arrays().items()}
        )

    def truth(self, people: Population) -> list[tuple[str, str]]:
        """(source_person_id, person_id) once per key, in order of first appearance."""
        seen: dict[str, str] = {}
        for key, person in zip(self.key.tolist(), self.person.tolist(), strict=True):
            seen.setdefault(key, people.person_id[person])
        return list(seen.items())


def snapshot(
    source: str, people: Population, keys: np.ndarray, person: np.ndarray, as_of: np.ndarray
) -> PersonRecords:
    """Records of `people[person]` as valid on `as_of` (one day per record)."""
    as_of = as_of.astype("datetime64[D]")
    has_dnr_then = (people.dnr[person] != "") & (
        np.isnat(people.fnr_assigned[person]) | (as_of < people.fnr_assigned[person])
    )
    before_marriage = (people.former_family[person] != "") & (as_of < people.name_changed[person])
    before_move = ~np.isnat(people.moved[person]) & (as_of < people.moved[person])
    died = ~np.isnat(people.death[person]) & (people.death[person] <= as_of)

    def then(now: np.ndarray, before: np.ndarray, condition: np.ndarray) -> np.ndarray:
        return np.where(condition, before[person], now[person]).astype(object)

    return PersonRecords(
        source=source,
        key=np.asarray(keys, dtype=object),
        person=np.asarray(person, dtype=np.int64),
        as_of=as_of,
        nid=then(people.fnr, people.dnr, has_dnr_then),
        nid_type=np.where(has_dnr_then, DNR, FNR).astype(object),
        family=then(people.family, people.former_family, before_marriage),
        given=people.given[person].copy(),
        middle=people.middle[person].copy(),
        birth=people.birth[person].copy(),
        sex=people.sex[person].copy(),
        street=then(people.street, people.prev_street, before_move),
        postnr=then(people.postnr, people.prev_postnr, before_move),
        poststed=then(people.poststed, people.prev_poststed, before_move),
        kommunenr=then(people.kommunenr, people.prev_kommunenr, before_move),
        death=np.where(died, people.death[person], NAT),
        confidential=people.confidential[person].copy(),
    )
