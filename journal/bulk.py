"""Upsert a frame on its natural key inside the caller's transaction, set-based and in bulk.

The frame goes into a temporary staging table (PostgreSQL: COPY through psycopg; other
databases: one executemany), then two statements merge it: an UPDATE of the rows whose
`changed_by` columns differ and an INSERT of the keys the table lacks. Unchanged rows
are not touched, so loading the same frame again changes nothing.

Surrogate ids are given here in load order (largest id + 1, + 2, ...) rather than by a
database sequence: sequences are not transactional, so a killed run would leave gaps and
a re-run would number rows differently from a clean run. One loader writes a journal at
a time; on PostgreSQL a table lock makes that so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

ORDER = "_load_order"
COUNTED = {"preserve_rowcount": True}
"""SQLAlchemy 2 keeps an INSERT's row count only when asked; the load counts need it."""


@dataclass
class LoadCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    """Persons merged into another (a later wave linked them)."""

    def add(self, other: LoadCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.merged += other.merged


def upsert(
    connection: Connection,
    table: Table,
    rows: pd.DataFrame,
    key: list[str],
    *,
    changed_by: Iterable[str] = (),
    keep_on_update: Iterable[str] = (),
) -> LoadCounts:
    """Insert new keys, update rows whose `changed_by` columns differ, leave the rest.

    With no `changed_by`, existing keys are never updated (insert-only). Several rows with
    one key: the last wins.
    """
    if rows.empty:
        return LoadCounts()
    surrogate = _surrogate_id(table)
    columns = [c.name for c in table.columns if c.name in rows.columns and c.name != surrogate]
    frame = rows[columns].drop_duplicates(key, keep="last").reset_index(drop=True)
    if surrogate and connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {_quoted(connection, table)} IN SHARE ROW EXCLUSIVE MODE"))
    stage = _staged(connection, table, frame)
    matches = and_(*(table.c[k] == stage.c[k] for k in key))
    changed_by = list(changed_by)
    updated = 0
    if changed_by:
        values = [c for c in columns if c not in key and c not in set(keep_on_update)]
        differs = or_(*(table.c[c].is_distinct_from(stage.c[c]) for c in changed_by))
        statement = update(table).where(matches, differs).values({c: stage.c[c] for c in values})
        updated = connection.execute(statement, execution_options=COUNTED).rowcount
    fresh = select(*(stage.c[c] for c in columns)).where(~exists().where(matches))
    target = columns
    if surrogate:
        start = connection.execute(select(func.coalesce(func.max(table.c[surrogate]), 0))).scalar_one()
        number = (literal(start) + func.row_number().over(order_by=stage.c[ORDER])).label(surrogate)
        fresh = fresh.add_columns(number)
        target = [*columns, surrogate]
    inserted = connection.execute(
        insert(table).from_select(target, fresh), execution_options=COUNTED
    ).rowcount
    stage.drop(connection)
    return LoadCounts(inserted, updated, len(frame) - inserted - updated)


def python_values(values: pd.Series, python_type: type) -> list[object]:
    """A column as plain Python values the DB-API accepts (dates as dates, NA as None), vectorised."""
    if python_type is dt.datetime:
        stamps = pd.to_datetime(values)
        values = pd.Series(stamps.dt.to_pydatetime(), index=values.index, dtype=object).where(stamps.notna())
    elif python_type is dt.date:
        values = pd.to_datetime(values).dt.date
    return values.astype(object).where(values.notna(), None).tolist()


def _surrogate_id(table: Table) -> str | None:
    """The table's own integer id, if its primary key is one (else the key is natural)."""
    primary = list(table.primary_key.columns)
    return "id" if [c.name for c in primary] == ["id"] else None


def _staged(connection: Connection, table: Table, frame: pd.DataFrame) -> Table:
    """A temporary table with the frame's columns (typed as in `table`) and its row order."""
    stage = Table(
        f"stage_{table.name}",
        MetaData(),
        *(Column(c, table.c[c].type) for c in frame.columns),
        Column(ORDER, Integer),
        prefixes=["TEMPORARY"],
    )
    stage.drop(connection, checkfirst=True)  # one a failed batch left behind (DDL outside its transaction)
    stage.create(connection)
    columns = [*frame.columns, ORDER]
    data = [python_values(frame[c], table.c[c].type.python_type) for c in frame.columns]
    rows = zip(*data, range(len(frame)), strict=True)
    if connection.dialect.name == "postgresql":
        _copy(connection, stage, columns, rows)
    else:
        connection.execute(insert(stage), [dict(zip(columns, row, strict=True)) for row in rows])
    return stage


def _copy(connection: Connection, stage: Table, columns: list[str], rows: Iterable[tuple]) -> None:
    """Rows into the staging table by COPY, on the transaction's own psycopg connection."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(stage.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _quoted(connection: Connection, table: Table) -> str:
    return connection.dialect.identifier_preparer.format_table(table)
