"""A source scan in the spirit of OHDSI WhiteRabbit: per table and field, what is in there.

Rows, empty values, distinct values, the most frequent values (values seen fewer than
`min_count` times are never shown), the formats values come in, and signs of encoding
damage. CSV files are scanned as they are (encoding and delimiter detected unless
given), SQL databases table by table, HL7 and KITH archives as their connector stages
them (one table per entity). Memory stays bounded: distinct values are counted exactly
up to `max_distinct` per field, beyond that the count is a lower bound.

The scan detects formats; it parses nothing. Date formats are reported in strptime
notation, ready for a mapping spec's `format:`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import encodings
from connectors.base import PROVENANCE
from identity.national_id import redact_ids

FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("national id (11 digits)", r"\d{6}[ -]?\d{5}"),
        ("date %Y-%m-%d", r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"),
        ("datetime %Y-%m-%d %H:%M", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"),
        ("datetime iso", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        ("date %d.%m.%Y", r"(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.\d{4}"),
        ("date %d.%m.%y", r"(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.\d{2}"),
        ("date %d/%m/%Y", r"(0?[1-9]|[12]\d|3[01])/(0?[1-9]|1[0-2])/\d{4}"),
        ("date %Y%m%d", r"(1[89]|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"),
        ("datetime hl7", r"(1[89]|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{2,6}(\.\d+)?([+-]\d{4})?"),
        ("integer", r"[+-]?\d+"),
        ("decimal comma", r"[+-]?\d+,\d+"),
        ("decimal point", r"[+-]?\d+\.\d+"),
        ("censored number", r"[<>]=?\s*\d+([.,]\d+)?"),
        ("yes/no", r"(?i)true|false|ja|nei|yes|no|j|n"),
        ("code", r"[A-Z]{1,4}\d[\dA-Z]*([. ]?[\dA-Z]+)?"),
    )
)
"""Format labels, first match wins; a value matching none is `text`."""

ID_COLUMN = re.compile(r"(?i)(fnr|f(o|ø|oe)dselsnummer|national_?id|offid|personnummer|dnr|ssn)")
"""Column names that hold national ids (matched as the whole name)."""


def format_of(value: str) -> str:
    text = value.strip()
    return next((label for label, pattern in FORMATS if pattern.fullmatch(text)), "text")


def masked(value: str, id_column: bool) -> str:
    """A value fit for a report: national ids show their birth date only (`150786*****`)."""
    if id_column:
        return value[:6] + "*" * max(len(value) - 6, 0) if len(value) > 6 else "*" * len(value)
    return redact_ids(value)


@dataclass
class FieldScan:
    """What one field of one table holds (bounded memory)."""

    name: str
    max_distinct: int
    rows: int = 0
    nulls: int = 0
    values: Counter[str] = field(default_factory=Counter)
    overflow: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    min_length: int | None = None
    max_length: int | None = None

    def add(self, value: Any) -> None:
        self.rows += 1
        if value is None or (isinstance(value, float) and value != value):
            self.nulls += 1
            return
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            self.nulls += 1
            return
        if text in self.values or len(self.values) < self.max_distinct:
            self.values[text] += 1
        else:
            self.overflow += 1
        self.formats[format_of(text)] += 1
        for sign in encodings.damage(text):
            self.problems[sign] += 1
        length = len(text)
        self.min_length = length if self.min_length is None else min(self.min_length, length)
        self.max_length = length if self.max_length is None else max(self.max_length, length)

    @property
    def distinct_exact(self) -> bool:
        return self.overflow == 0

    @property
    def id_like(self) -> bool:
        filled = self.rows - self.nulls
        ids = self.formats["national id (11 digits)"]
        return bool(ID_COLUMN.fullmatch(self.name)) or (filled > 0 and ids * 2 >= filled)

    def top(self, limit: int, min_count: int) -> list[tuple[str, int]]:
        """The most frequent values seen at least `min_count` times, ids masked."""
        shown = [(v, n) for v, n in self.values.most_common(limit) if n >= min_count]
        return [(masked(v, self.id_like), n) for v, n in shown]


@dataclass
class TableScan:
    """One table (a CSV file, a database table, a staged entity) and its fields."""

    source: str
    name: str
    max_distinct: int
    facts: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    fields: dict[str, FieldScan] = field(default_factory=dict)
    problems: Counter[str] = field(default_factory=Counter)

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        for name, value in row.items():
            scan = self.fields.get(name)
            if scan is None:
                scan = self.fields[name] = FieldScan(
                    name, self.max_distinct, rows=self.rows - 1, nulls=self.rows - 1
                )
            scan.add(value)
        for name, scan in self.fields.items():
            if name not in row:
                scan.add(None)


@dataclass
class Profile:
    tables: list[TableScan]
    min_count: int
    top_values: int


def scan_csv(
    paths: Iterable[Path], source: str, encoding: str, delimiter: str, max_distinct: int
) -> Iterator[TableScan]:
    """Each file as a table, read with the flat-file connector's own reader."""
    from connectors.flatfile import Dialect, header_of, rows

    for path in paths:
        table = TableScan(source, path.name, max_distinct)
        try:
            dialect = Dialect.of(path, encoding, delimiter)
            table.facts.update(encoding=dialect.encoding, delimiter=repr(dialect.delimiter))
            records = rows(path, dialect)
            first = next(records, None)
            header = header_of(first[1]) if first else []
            for _line, values in records:
                if len(values) != len(header):
                    table.problems[f"rows with {len(values)} fields, header has {len(header)}"] += 1
                    continue
                if any("\udc80" <= ch <= "\udcff" for value in values for ch in value):
                    table.problems[f"rows with bytes that are not {dialect.encoding}"] += 1
                table.add(dict(zip(header, values, strict=True)))
        except (OSError, ValueError, LookupError) as error:
            table.problems[f"unreadable: {error}"] += 1
        yield table


def scan_sql(url: str, source: str, max_distinct: int, chunk: int = 10_000) -> Iterator[TableScan]:
    """Every table of the database, streamed with a server-side cursor where there is one."""
    from sqlalchemy import create_engine, inspect, literal_column, select, table

    engine = create_engine(url)
    try:
        for name in sorted(inspect(engine).get_table_names()):
            scan = TableScan(source, name, max_distinct)
            try:
                with engine.connect().execution_options(stream_results=True) as connection:
                    result = connection.execute(select(literal_column("*")).select_from(table(name)))
                    columns = list(result.keys())
                    while batch := result.fetchmany(chunk):
                        for row in batch:
                            scan.add({c: _sql_text(v) for c, v in zip(columns, row, strict=True)})
            except Exception as error:  # noqa: BLE001 - a table the scan cannot read is reported
                scan.problems[f"unreadable: {type(error).__name__}: {error}"] += 1
            yield scan
    finally:
        engine.dispose()


def scan_staged(batches: Iterable[Any], source: str, max_distinct: int) -> list[TableScan]:
    """A connector's output (HL7, KITH XML): one table per staged entity, quarantine as problems."""
    import pandas as pd

    from connectors.base import QuarantineBatch, StagingBatch

    tables: dict[str, TableScan] = {}
    shown = set(PROVENANCE) - {"source_person_id", "source_timestamp"}
    for batch in batches:
        if isinstance(batch, StagingBatch):
            scan = tables.setdefault(batch.entity, TableScan(source, batch.entity, max_distinct))
            columns = [c for c in batch.frame.columns if c not in shown]
            for row in batch.frame[columns].astype(object).itertuples(index=False, name=None):
                scan.add({c: (None if pd.isna(v) else v) for c, v in zip(columns, row, strict=True)})
        elif isinstance(batch, QuarantineBatch):
            for entity, rule in zip(batch.frame["entity"], batch.frame["rule"], strict=True):
                tables.setdefault(entity, TableScan(source, entity, max_distinct)).problems[
                    f"quarantined: {rule}"
                ] += 1
    return [tables[name] for name in sorted(tables)]


def _sql_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return str(value)
