"""Invalid values that a correct pipeline must quarantine, planted into the text tables
of a source just before they are written: impossible dates, unknown codes, non-numbers
where a number is required, and rows pointing to a person id that does not exist.
Each is logged in the manifest with the record's key, so tests can check that the
quarantined rows are exactly these.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .context import Context
from .tables import Table

INVALID_PER_UNIT_RATE = 40
"""Planted invalid values per (source, kind) = ceil(40 * error_rate): 2 at 0.05."""


def invalid_count(error_rate: float) -> int:
    """How many invalid values of each kind to plant in each source."""
    return math.ceil(INVALID_PER_UNIT_RATE * error_rate) if error_rate > 0 else 0


@dataclass(frozen=True)
class Target:
    """A column where an invalid value of `kind` can be planted: the value replaces a
    non-empty cell of a row whose id is unique in the table (and, with `where`, whose
    column where[0] holds where[1])."""

    kind: str
    table: str
    column: str
    entity: str
    id_column: str
    values: tuple[str, ...]
    location: str
    where: tuple[str, str] | None = None


@dataclass(frozen=True)
class OrphanTarget:
    """A table where a copied row is re-pointed to a person id that does not exist.
    `clear` lists columns set to None (links to other rows of the real person)."""

    table: str
    person_column: str
    entity: str
    id_column: str
    location: str
    clear: tuple[str, ...] = ()


def plant_invalid(
    ctx: Context,
    source: str,
    tables: dict[str, Table],
    targets: Sequence[Target],
    orphans: Sequence[OrphanTarget] = (),
    missing_person: Callable[[int], object] | None = None,
) -> None:
    """Plant invalid_count(error_rate) values of each kind offered by the targets
    (round-robin over a kind's targets; at most one per row), and as many orphan rows
    (copies of clean rows, round-robin over the orphan targets)."""
    count = invalid_count(ctx.error_rate)
    rng = ctx.rng("invalid", source)
    used: set[tuple[str, int]] = set()
    kinds = sorted({t.kind for t in targets})
    for kind in kinds:
        of_kind = [t for t in targets if t.kind == kind]
        for i in range(count):
            target = of_kind[i % len(of_kind)]
            table = tables[target.table]
            ids = table.columns[target.id_column]
            repeated = {k for k, n in Counter(ids).items() if n > 1}
            cells = table.columns[target.column]
            condition = table.columns[target.where[0]] if target.where else None
            free = [
                r
                for r in range(len(table))
                if (target.table, r) not in used
                and cells[r] not in (None, "")
                and ids[r] not in repeated
                and (condition is None or condition[r] == target.where[1])
            ]
            if not free:
                continue
            row = free[int(rng.integers(len(free)))]
            used.add((target.table, row))
            value = target.values[int(rng.integers(len(target.values)))]
            ctx.log.add(
                kind,
                source,
                target.entity,
                str(ids[row]),
                target.location,
                value,
                f"{target.location} was {cells[row]!r}",
            )
            cells[row] = value
    for i in range(count if orphans else 0):
        target = orphans[i % len(orphans)]
        table = tables[target.table]
        clean = [r for r in range(len(table)) if (target.table, r) not in used]
        if not clean or missing_person is None:
            continue
        row = table.row(clean[int(rng.integers(len(clean)))])
        row[target.id_column] = max(table.columns[target.id_column]) + 1
        row[target.person_column] = missing_person(i)
        for column in target.clear:
            row[column] = None
        table.append(row)
        ctx.log.add(
            "orphan_record",
            source,
            target.entity,
            str(row[target.id_column]),
            target.location,
            str(row[target.person_column]),
            f"{target.table} row points to a person id that does not exist",
        )
