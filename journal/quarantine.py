"""What a data steward does with the quarantine: find records, read one, release the fixed ones.

Releasing says "fixed at the source": the next run of the migration re-processes the
record like every other. If it loads, its quarantine rows are resolved; if it still
fails, they open again (see `journal.loader.load_quarantine`), with who released them
kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import ColumnElement, Engine, select, update

from journal.schema import Quarantine

STATUSES = ("open", "released", "resolved")


@dataclass(frozen=True)
class Selection:
    """Which quarantine rows: by id, or by status, source, entity and rule (None = any)."""

    ids: tuple[int, ...] = ()
    status: str | None = None
    source_system: str | None = None
    entity: str | None = None
    rule: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.ids or self.source_system or self.entity or self.rule)

    def conditions(self) -> list[ColumnElement[bool]]:
        wanted = {
            Quarantine.status: self.status,
            Quarantine.source_system: self.source_system,
            Quarantine.entity: self.entity,
            Quarantine.rule: self.rule,
        }
        conditions = [column == value for column, value in wanted.items() if value]
        return [*conditions, Quarantine.id.in_(self.ids)] if self.ids else conditions


def find(engine: Engine, selection: Selection, limit: int | None = None) -> pd.DataFrame:
    """Quarantine rows, oldest first."""
    statement = (
        select(Quarantine.__table__).where(*selection.conditions()).order_by(Quarantine.id).limit(limit)
    )
    with engine.connect() as connection:
        return pd.read_sql(statement, connection)


def release(engine: Engine, selection: Selection, by: str, at: dt.datetime) -> int:
    """Mark the selection's open rows released (fixed at the source); how many were."""
    if selection.empty:
        raise ValueError("release needs ids or a source, entity or rule: not the whole quarantine")
    with engine.begin() as connection:
        return connection.execute(
            update(Quarantine)
            .where(*selection.conditions(), Quarantine.status == "open")
            .values(status="released", released_by=by, released_at=at),
            execution_options={"preserve_rowcount": True},
        ).rowcount
