"""Legacy SQL databases on any SQLAlchemy URL; which tables feed which entity is config.

Each declared table or query is streamed (server-side cursor where the driver has one,
`fetchmany` chunks) on a connection of its own, so a table that fails (a missing column,
bytes the driver cannot decode) becomes a quarantine row and the next table is read.
Values are staged as text; bytes (BLOBs) go to the attachment store and the column holds
their sha256. A row without its key is quarantined, never staged under an empty key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, Executable, create_engine, literal_column, select, table, text

from connectors.base import (
    PROVENANCE,
    Batch,
    RowBuffer,
    SourceBase,
    SourceContext,
    StagingBatch,
    _origin,
    record_hash,
)


class SqlTable(BaseModel):
    """One table or query feeding one entity kind."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    table: str | None = None
    query: str | None = None
    key: list[str] = Field(description="Column(s) forming the stable legacy key.")
    person_key: str = Field(description="Column holding the source person id.")
    timestamp: str | None = Field(default=None, description="Column ordering record versions.")

    @model_validator(mode="before")
    @classmethod
    def _key_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            data = {**data, "key": [data["key"]]}
        return data

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> SqlTable:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self

    @property
    def label(self) -> str:
        return self.table or "query"

    def select(self) -> Executable:
        """The statement; table names are quoted by the dialect, never pasted into SQL."""
        if self.query is not None:
            return text(self.query)
        return select(literal_column("*")).select_from(table(self.table))


class SqlSource(SourceBase):
    kind: Literal["sql"] = "sql"
    tables: list[SqlTable]
    fingerprint_query: str | None = Field(
        default=None,
        description="A query whose result changes whenever the data does (e.g. a row count and the "
        "latest update time): an unchanged result lets a re-run reuse the last extract. SQLite "
        "files are fingerprinted by their file stats without it.",
    )


class SqlConnector:
    """Streams each declared table in chunks (server-side cursor where the driver has one)."""

    def __init__(self, source: SqlSource, context: SourceContext) -> None:
        self.source = source
        self.context = context
        self.buffer = RowBuffer(context, source.chunk_size)

    def batches(self) -> Iterator[Batch]:
        engine = create_engine(self.source.location)
        try:
            for table in self.source.tables:
                yield from self._table(engine, table)
        finally:
            engine.dispose()
        yield from self.buffer.flush()

    def _table(self, engine: Engine, table: SqlTable) -> Iterator[Batch]:
        read = 0
        try:
            with engine.connect().execution_options(stream_results=True) as connection:
                result = connection.execute(table.select())
                columns = list(result.keys())
                missing = sorted({*table.key, table.person_key, table.timestamp} - {None, *columns})
                if missing:
                    raise ValueError(f"column(s) {missing} are not in the result {columns}")
                while rows := result.fetchmany(self.source.chunk_size):
                    read += len(rows)
                    # Built as objects: a value must not change type with its neighbours.
                    values = [tuple(self._stored(v) for v in row) for row in rows]
                    chunk = pd.DataFrame(values, columns=columns, dtype=object)
                    yield from self._stage(chunk, table)
        except Exception as error:  # noqa: BLE001 - one bad table must not stop the run
            yield from self.buffer.reject(
                locator=table.label,
                reason=f"{table.label}: unreadable after {read} row(s) ({type(error).__name__}: {error})",
                rule="sql.unreadable",
                payload=table.query or table.table or "",
                entity=table.entity,
                value=_origin(error),
            )

    def _stage(self, chunk: pd.DataFrame, table: SqlTable) -> Iterator[Batch]:
        fields = chunk.astype(object).where(chunk.notna(), None)
        keyless = fields[table.key].isna().any(axis=1)
        for _, row in fields[keyless].iterrows():
            payload = json.dumps(row.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
            yield from self.buffer.reject(
                locator=f"{table.label}:?",
                reason=f"{table.label}: a row without its key {table.key} ({payload[:200]})",
                rule="sql.no_key",
                payload=payload,
                entity=table.entity,
                field_name="|".join(table.key),
            )
        fields = fields[~keyless]
        if fields.empty:
            return
        as_text = fields.map(lambda v: None if v is None else str(v))
        payloads = [
            json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
            for row in fields.to_dict(orient="records")
        ]
        out = as_text.copy()
        out["source_system"] = self.context.source_system
        out["source_kind"] = self.context.source_kind
        out["source_record_id"] = as_text[table.key].astype(str).agg("|".join, axis=1)
        out["source_locator"] = table.label + ":" + out["source_record_id"]
        out["source_person_id"] = as_text[table.person_key]
        out["source_timestamp"] = as_text[table.timestamp] if table.timestamp else None
        out["record_hash"] = [record_hash(p) for p in payloads]
        out["extracted_at"] = self.context.extracted_at
        yield StagingBatch(table.entity, out.astype("string")[[*as_text.columns, *PROVENANCE]])

    def _stored(self, value: Any) -> Any:
        """Bytes (a BLOB, PostgreSQL bytea) go to the attachment store; their sha256 stays."""
        if isinstance(value, bytes | bytearray | memoryview):
            return self.context.attachments.put(bytes(value)).sha256
        return value
