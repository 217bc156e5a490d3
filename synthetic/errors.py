"""Errors in person records, scaled by the run's error_rate and logged in the manifest
(invalid clinical values are planted by invalid.py):
- person-record errors (typos, æøå spelled ae/oe/aa or garbled as UTF-8 mojibake,
  swapped names, missing or mistyped national ID, a D-number kept after the person got a
  fødselsnummer, an old surname or address kept, a death or a confidential-address flag
  not recorded), on PersonRecords before a source formats them;
- duplicate registrations of one person under two local ids inside one source.

Per-record changes use a random stream named by (source, kind, record key), so the same
record gets the same change in every message that carries it (HL7 snapshots).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from .context import Context
from .ids import DNR, mistype
from .population import NAT
from .records import PersonRecords
from .spelling import NORWEGIAN, ascii_fold, match_case, mojibake, typo

ALL = frozenset({"hospital-epr", "hospital-hl7", "municipal-care", "gp-journal", "gp-messages"})
LIVE = frozenset({"hospital-epr", "municipal-care", "gp-journal"})
"""Systems still in use on the reference date (they should know today's facts)."""

PERSON_ERRORS: dict[str, tuple[float, frozenset[str]]] = {
    "id_stale_dnumber": (6.0, LIVE),
    "surname_outdated": (4.0, LIVE),
    "address_outdated": (4.0, LIVE),
    "death_missing": (2.0, LIVE),
    "confidential_missing": (2.0, LIVE),
    "name_ascii_fold": (6.0, frozenset({"hospital-hl7", "gp-messages"})),
    "name_mojibake": (2.0, frozenset({"hospital-epr", "municipal-care"})),
    "name_typo": (0.6, ALL),
    "name_swap": (0.2, ALL),
    "id_missing": (0.4, ALL),
    "id_mistyped": (0.3, ALL),
}
"""kind -> (probability per eligible record as a multiple of error_rate, sources).
Applied in this order, so a record can carry several errors."""

DUPLICATE_RATE = 0.2
"""Duplicate registrations per record, as a multiple of error_rate."""

Change = tuple[str, str] | None
"""(location, new value) of a change, None when nothing changed."""


def _set_text(records: PersonRecords, field: str, row: int, value: str) -> Change:
    old = getattr(records, field)[row]
    if value == old:
        return None
    getattr(records, field)[row] = value
    return field, value


def _names(records: PersonRecords, row: int, damage: Callable[[str], str]) -> Change:
    changed = [
        _set_text(records, f, row, damage(getattr(records, f)[row])) for f in ("family", "given", "middle")
    ]
    done = [c for c in changed if c]
    return ("+".join(c[0] for c in done), " / ".join(c[1] for c in done)) if done else None


def _name_typo(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    field = "family" if rnd.random() < 0.6 else "given"
    return _set_text(records, field, row, typo(getattr(records, field)[row], rnd))


def _name_swap(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    family, given = records.family[row], records.given[row]
    records.family[row], records.given[row] = given, family
    return ("family<->given", f"{given} / {family}") if family != given else None


def _id_missing(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    records.nid_type[row] = ""
    return _set_text(records, "nid", row, "")


def _id_mistyped(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    return _set_text(records, "nid", row, mistype(records.nid[row], rnd))


def _stale_dnumber(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    records.nid_type[row] = DNR
    return _set_text(records, "nid", row, ctx.people.dnr[records.person[row]])


def _surname_outdated(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    former = ctx.people.former_family[records.person[row]]
    return _set_text(records, "family", row, match_case(records.family[row], former))


def _address_outdated(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    people, person = ctx.people, records.person[row]
    records.postnr[row] = people.prev_postnr[person]
    records.poststed[row] = people.prev_poststed[person]
    records.kommunenr[row] = people.prev_kommunenr[person]
    return _set_text(records, "street", row, people.prev_street[person])


def _death_missing(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    records.death[row] = NAT
    return "death", ""


def _confidential_missing(ctx: Context, records: PersonRecords, row: int, rnd: random.Random) -> Change:
    records.confidential[row] = False
    return "confidential", "false"


def _has_special(*columns: np.ndarray) -> np.ndarray:
    return np.array(
        [any(c in NORWEGIAN for c in "".join(values)) for values in zip(*columns, strict=True)], dtype=bool
    )


def _eligible(ctx: Context, records: PersonRecords, kind: str) -> np.ndarray:
    """Rows where an error of this kind can show."""
    people, person = ctx.people, records.person
    if kind == "id_stale_dnumber":
        return (records.nid_type == "FNR") & (people.dnr[person] != "")
    if kind == "surname_outdated":
        return (people.former_family[person] != "") & (records.as_of >= people.name_changed[person])
    if kind == "address_outdated":
        return ~np.isnat(people.moved[person]) & (records.as_of >= people.moved[person])
    if kind == "death_missing":
        return ~np.isnat(records.death)
    if kind == "confidential_missing":
        return records.confidential.astype(bool)
    if kind in ("name_ascii_fold", "name_mojibake"):
        return _has_special(records.family, records.given, records.middle)
    if kind in ("id_missing", "id_mistyped"):
        return records.nid != ""
    return np.ones(len(records), dtype=bool)


_APPLY: dict[str, Callable[[Context, PersonRecords, int, random.Random], Change]] = {
    "id_stale_dnumber": _stale_dnumber,
    "surname_outdated": _surname_outdated,
    "address_outdated": _address_outdated,
    "death_missing": _death_missing,
    "confidential_missing": _confidential_missing,
    "name_ascii_fold": lambda ctx, r, row, rnd: _names(r, row, ascii_fold),
    "name_mojibake": lambda ctx, r, row, rnd: _names(r, row, mojibake),
    "name_typo": _name_typo,
    "name_swap": _name_swap,
    "id_missing": _id_missing,
    "id_mistyped": _id_mistyped,
}


def corrupt_persons(ctx: Context, records: PersonRecords) -> None:
    """Plant person-record errors in place; every record key that got one is logged."""
    if ctx.error_rate <= 0:
        return
    source = records.source
    for kind, (multiple, sources) in PERSON_ERRORS.items():
        if source not in sources:
            continue
        by_key: dict[str, list[int]] = {}
        for row in np.flatnonzero(_eligible(ctx, records, kind)).tolist():
            by_key.setdefault(records.key[row], []).append(row)
        keys = list(by_key)
        chosen = ctx.rng("person-errors", source, kind).random(len(keys)) < min(
            1.0, multiple * ctx.error_rate
        )
        for key in (k for k, hit in zip(keys, chosen.tolist(), strict=True) if hit):
            changes = [_APPLY[kind](ctx, records, row, ctx.rnd(source, kind, key)) for row in by_key[key]]
            first = next((c for c in changes if c), None)
            if first:
                ctx.log.add(
                    kind,
                    source,
                    "person",
                    key,
                    first[0],
                    first[1],
                    f"{kind.replace('_', ' ')} in {len(by_key[key])} record(s)",
                )


def add_duplicates(ctx: Context, records: PersonRecords, new_key: Callable[[int], str]) -> PersonRecords:
    """Register some people a second time under a new local id (new_key(row) for the
    copied row), mostly without or with a mistyped national ID."""
    if ctx.error_rate <= 0 or records.source not in LIVE:
        return records
    source = records.source
    rows = np.flatnonzero(
        ctx.rng("duplicates", source).random(len(records)) < DUPLICATE_RATE * ctx.error_rate
    )
    copies = records.take(rows)
    for i, row in enumerate(rows.tolist()):
        copies.key[i] = new_key(row)
        rnd = ctx.rnd(source, "duplicate", copies.key[i])
        draw = rnd.random()
        if draw < 0.5 or copies.nid[i] == "":
            copies.nid[i], copies.nid_type[i] = "", ""
            variant = "registered without national ID"
        elif draw < 0.8:
            copies.nid[i] = mistype(copies.nid[i], rnd)
            variant = "registered with a mistyped national ID"
        else:
            copies.given[i] = typo(copies.given[i], rnd)
            variant = "registered with a typo in the given name"
        ctx.log.add(
            "duplicate_record",
            source,
            "person",
            copies.key[i],
            "source_person_id",
            copies.key[i],
            f"second registration of {records.key[row]}: {variant}",
        )
    return records.extend(copies)
