"""Delimited flat exports (municipal systems): declared or detected encoding and delimiter.

Fields stay text; dates and decimal commas are parsed by the mapping spec, which knows
each column's format. Quarantined, each with its line number: a row with the wrong
number of fields (never padded or cut), a row with bytes its encoding cannot decode
(never garbled), and a row without its key.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors import encodings
from connectors.base import Batch, RowBuffer, SourceBase, SourceContext, guarded_files, iter_files

LOG = logging.getLogger(__name__)
AUTO = "auto"
DELIMITERS = ";,\t|"
FIELD_LIMIT = 1 << 26
"""Bytes one field may hold (a journal note can be long; csv's default is 128 KB)."""
UNDECODABLE = re.compile("[\udc80-\udcff]")


class FlatFile(BaseModel):
    """One file pattern feeding one entity kind."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(description="Glob under the source location, e.g. 'brukere*.csv'.")
    entity: str
    key: str = Field(description="Column holding the stable legacy key.")
    person_key: str
    timestamp: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


class FlatFileSource(SourceBase):
    kind: Literal["csv"] = "csv"
    encoding: str = Field(default="utf-8", description="A codec name, 'iso646-no', or 'auto' to detect.")
    delimiter: str = Field(default=";", description="One character, or 'auto' to detect.")
    quotechar: str = '"'
    quoting: Literal["minimal", "none"] = "minimal"
    escapechar: str | None = None
    skip_lines: int = Field(default=0, ge=0, description="Lines before the header (export banners).")
    files: list[FlatFile]


@dataclass(frozen=True)
class Dialect:
    """How one file is read: its encoding and csv dialect, as declared or detected."""

    encoding: str
    delimiter: str
    quotechar: str = '"'
    quoting: Literal["minimal", "none"] = "minimal"
    escapechar: str | None = None
    skip_lines: int = 0

    @classmethod
    def of(cls, path: Path, encoding: str, delimiter: str, **options: object) -> Dialect:
        """Resolve `auto` encoding or delimiter from the file's first bytes."""
        if AUTO in (encoding, delimiter):
            with path.open("rb") as handle:
                sample = handle.read(encodings.SAMPLE_BYTES)
            if encoding == AUTO:
                encoding = encodings.detect(sample)
                LOG.info("%s: encoding detected as %s", path.name, encoding)
            if delimiter == AUTO:
                codecs.lookup(encoding)
                delimiter = sniff_delimiter(sample.decode(encoding, "replace"))
        codecs.lookup(encoding)  # an unknown encoding name fails the file, clearly
        return cls(encoding, delimiter, **options)  # type: ignore[arg-type]


def rows(path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank record, the header first.

    Undecodable bytes stay in the text as surrogates (`surrogateescape`), so the row
    that holds them can be quarantined instead of the whole file.
    """
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    none = dialect.quoting == "none"
    with path.open("r", encoding=dialect.encoding, errors="surrogateescape", newline="") as handle:
        for _ in range(dialect.skip_lines):
            handle.readline()
        reader = csv.reader(
            handle,
            delimiter=dialect.delimiter,
            quotechar=None if none else dialect.quotechar,
            quoting=csv.QUOTE_NONE if none else csv.QUOTE_MINIMAL,
            escapechar=dialect.escapechar,
            strict=True,
        )
        start = 1 + dialect.skip_lines
        try:
            for fields in reader:
                if any(field.strip() for field in fields):
                    yield start, fields
                start = reader.line_num + 1 + dialect.skip_lines
        except csv.Error as error:
            raise ValueError(f"line {start}: {error} (a quote opened and never closed?)") from error


class FlatFileConnector:
    def __init__(self, source: FlatFileSource, context: SourceContext) -> None:
        self.source = source
        self.buffer = RowBuffer(context, source.chunk_size)

    def batches(self) -> Iterator[Batch]:
        for spec in self.source.files:
            paths = iter_files(self.source.location, spec.pattern)
            yield from guarded_files(self.buffer, paths, lambda p, s=spec: self._read(p, s))

    def _read(self, path: Path, spec: FlatFile) -> Iterator[Batch]:
        source = self.source
        dialect = Dialect.of(
            path,
            spec.encoding or source.encoding,
            spec.delimiter or source.delimiter,
            quotechar=source.quotechar,
            quoting=source.quoting,
            escapechar=source.escapechar,
            skip_lines=source.skip_lines,
        )
        records = rows(path, dialect)
        first = next(records, None)
        if first is None:
            yield from self.buffer.reject(
                locator=str(path),
                reason=f"{path.name}: empty file, no header row",
                rule="csv.empty",
                payload=b"",
                entity=spec.entity,
            )
            return
        header = header_of(first[1])
        for column in {spec.key, spec.person_key} - set(header):
            raise ValueError(f"column {column!r} is not in the header {header}")
        for line, fields in records:
            yield from self._row(path, spec, header, fields, line, dialect)

    def _row(
        self, path: Path, spec: FlatFile, header: list[str], fields: list[str], line: int, dialect: Dialect
    ) -> Iterator[Batch]:
        locator = f"{path}:{line}"
        text = dialect.delimiter.join(fields)
        payload = text.encode(dialect.encoding, "surrogateescape")
        where = f"{path.name} line {line}"
        if bad := UNDECODABLE.search(text):
            byte = bytes([ord(bad.group()) - 0xDC00])
            yield from self.buffer.reject(
                locator=locator,
                reason=f"{where}: byte {byte!r} is not valid {dialect.encoding}; "
                "the file may be in another encoding",
                rule="csv.encoding",
                payload=payload,
                entity=spec.entity,
                value=repr(byte),
            )
        elif len(fields) != len(header):
            yield from self.buffer.reject(
                locator=locator,
                reason=f"{where}: {len(fields)} fields, the header has {len(header)}",
                rule="csv.field_count",
                payload=payload,
                entity=spec.entity,
                value=str(len(fields)),
            )
        elif not fields[header.index(spec.key)].strip():
            yield from self.buffer.reject(
                locator=locator,
                reason=f"{where}: the key column {spec.key!r} is empty",
                rule="csv.no_key",
                payload=payload,
                entity=spec.entity,
                field_name=spec.key,
            )
        else:
            row = dict(zip(header, fields, strict=True))
            yield from self.buffer.add(
                spec.entity,
                locator=locator,
                record_id=row[spec.key],
                person_id=row[spec.person_key],
                payload=payload,
                fields={k: (v if v != "" else None) for k, v in row.items()},
                timestamp=row.get(spec.timestamp) if spec.timestamp else None,
            )


def sniff_delimiter(text: str) -> str:
    """The usual delimiter the header line holds most of.

    The header, not the data: notes with commas and quoted line breaks fool a sniffer
    that looks at whole records, while export headers are plain names.
    """
    header = text.split("\n", 1)[0]
    counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    if counts[best] == 0:
        raise ValueError(f"cannot tell the delimiter: the first line holds none of {DELIMITERS!r}")
    return best


def header_of(names: list[str]) -> list[str]:
    """Column names as the file's first row gives them (BOM stripped, blanks named)."""
    cleaned = [name.strip().lstrip("\ufeff") or f"column_{i}" for i, name in enumerate(names, 1)]
    repeated = sorted({name for name in cleaned if cleaned.count(name) > 1})
    if repeated:
        raise ValueError(f"the header repeats column(s) {repeated}")
    return cleaned
