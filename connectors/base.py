"""The connector contract (design §3): staging frames with provenance, quarantine for the rest.

Every connector yields `StagingBatch`es (one entity kind each, all source fields as text
plus the provenance columns) and `QuarantineBatch`es (what it could not read, with the
raw payload and a reason). A record that cannot be parsed never raises out of a
connector and is never skipped silently.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from connectors.attachments import AttachmentStore
from identity.national_id import redact_ids

PROVENANCE: tuple[str, ...] = (
    "source_system",
    "source_kind",
    "source_locator",
    "source_record_id",
    "source_person_id",
    "source_timestamp",
    "record_hash",
    "extracted_at",
)
"""Columns every staging row carries; `source_timestamp` orders versions of one record."""

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "source_system",
    "source_kind",
    "entity",
    "source_locator",
    "source_record_id",
    "stage",
    "rule",
    "field",
    "value",
    "reason",
    "raw_payload",
    "record_hash",
)

UNPARSED = "raw"
"""Entity of a quarantined payload whose entity kind could not even be told."""

RAW_PAYLOAD_LIMIT = 20_000
"""Quarantine keeps this many characters of a raw payload; the locator finds the rest."""


def record_hash(payload: bytes | str) -> str:
    """sha256 of the raw payload: the record's fingerprint in the books."""
    data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()


class SourceBase(BaseModel):
    """What every source in a migration config says about itself."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The source_system name, unique in the migration.")
    location: str = Field(description="A path (file or folder) or an SQLAlchemy URL.")
    mapping: str = Field(description="Mapping spec (a path, or a name in mappings/specs/).")
    person_namespace: str | None = Field(
        default=None,
        description="Sources sharing a namespace share local person ids (one hospital MPI).",
    )
    kind: str
    chunk_size: int = Field(default=50_000, gt=0)

    @property
    def namespace(self) -> str:
        return self.person_namespace or self.name


@dataclass(frozen=True)
class SourceContext:
    """Constants stamped on every row a connector emits, and where attachment bytes go."""

    source_system: str
    source_kind: str
    extracted_at: str
    attachments: AttachmentStore


@dataclass(frozen=True)
class Record:
    """One parsed source record, before provenance is stamped on it."""

    entity: str
    key: str
    fields: dict[str, Any]
    payload: bytes | str
    locator: str
    person_id: str | None
    timestamp: str | None = None


@dataclass(frozen=True)
class Rejected:
    """One source record (or unreadable stretch) that goes to quarantine, with its reason."""

    reason: str
    rule: str
    payload: bytes | str
    locator: str
    entity: str = UNPARSED
    record_id: str | None = None
    field_name: str | None = None
    value: str | None = None


Item = Record | Rejected


@dataclass
class StagingBatch:
    entity: str
    frame: pd.DataFrame


@dataclass
class QuarantineBatch:
    frame: pd.DataFrame


Batch = StagingBatch | QuarantineBatch


class Connector(Protocol):
    """Reads one source into batches, in bounded memory."""

    def batches(self) -> Iterator[Batch]: ...


@dataclass
class RowBuffer:
    """Collects parsed rows per entity and quarantine rows, and hands them out in chunks.

    Row-wise parsers (CSV, HL7, XML) use it so they all stamp provenance and hash the
    same way. At most `chunk_size` rows are held in all: when they are reached, every
    entity's rows go out, so memory is bounded by the chunk, not by how many entities
    a source has.
    """

    context: SourceContext
    chunk_size: int = 50_000
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _quarantine: list[dict[str, Any]] = field(default_factory=list)
    _held: int = 0

    def put(self, item: Item) -> Iterator[Batch]:
        """Stage a record or quarantine a rejected one."""
        if isinstance(item, Record):
            return self.add(
                item.entity,
                locator=item.locator,
                record_id=item.key,
                person_id=item.person_id,
                payload=item.payload,
                fields=item.fields,
                timestamp=item.timestamp,
            )
        return self.reject(
            locator=item.locator,
            reason=item.reason,
            rule=item.rule,
            payload=item.payload,
            entity=item.entity,
            record_id=item.record_id,
            field_name=item.field_name,
            value=item.value,
        )

    def guard(
        self, make: Callable[[], Iterable[Item]], *, locator: str, label: str, payload: bytes | str
    ) -> Iterator[Batch]:
        """Stage what `make` parses from one unit (a message), or quarantine the whole unit.

        The unit's items are collected before any is staged, so a unit that breaks halfway
        is never half staged and half quarantined.
        """
        try:
            items = list(make())
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the run
            items = [
                Rejected(
                    reason=f"{label}: cannot be read ({type(error).__name__}: {error})",
                    rule="record.unreadable",
                    payload=payload,
                    locator=locator,
                    value=_origin(error),
                )
            ]
        for item in items:
            yield from self.put(item)

    def add(
        self,
        entity: str,
        *,
        locator: str,
        record_id: str,
        person_id: str | None,
        payload: bytes | str,
        fields: dict[str, Any],
        timestamp: str | None = None,
    ) -> Iterator[Batch]:
        """Stage one record; yields a full batch when the chunk is complete."""
        row = {key: _text(value) for key, value in fields.items()}
        row.update(
            source_system=self.context.source_system,
            source_kind=self.context.source_kind,
            source_locator=locator,
            source_record_id=record_id,
            source_person_id=person_id,
            source_timestamp=timestamp,
            record_hash=record_hash(payload),
            extracted_at=self.context.extracted_at,
        )
        rows = self._rows.setdefault(entity, [])
        rows.append(row)
        self._held += 1
        if self._held >= self.chunk_size:
            yield from self.flush()

    def reject(
        self,
        *,
        locator: str,
        reason: str,
        rule: str,
        payload: bytes | str,
        entity: str = UNPARSED,
        record_id: str | None = None,
        field_name: str | None = None,
        value: str | None = None,
    ) -> Iterator[Batch]:
        """Quarantine one record with a reason; yields when the chunk is complete."""
        self._quarantine.append(
            quarantine_row(
                self.context,
                entity=entity,
                locator=locator,
                record_id=record_id,
                stage="extract",
                rule=rule,
                field_name=field_name,
                value=value,
                reason=reason,
                payload=payload,
            )
        )
        self._held += 1
        if self._held >= self.chunk_size:
            yield from self.flush()

    def flush(self) -> Iterator[Batch]:
        """Hand out every row held."""
        rows, self._rows = self._rows, {}
        quarantine, self._quarantine = self._quarantine, []
        self._held = 0
        for entity, held in rows.items():
            if held:
                yield StagingBatch(entity, _frame(held))
        if quarantine:
            yield QuarantineBatch(pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS)))


def quarantine_row(
    context: SourceContext,
    *,
    entity: str,
    locator: str,
    record_id: str | None,
    stage: str,
    rule: str,
    reason: str,
    payload: bytes | str,
    field_name: str | None = None,
    value: str | None = None,
    hash_of_record: str | None = None,
) -> dict[str, Any]:
    """One quarantine row; the stored text is capped and the reason carries no national id.

    The hash is the staged record's own when a later stage quarantines it (so the books
    balance by checksum), else the hash of the full payload.
    """
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    return {
        "source_system": context.source_system,
        "source_kind": context.source_kind,
        "entity": entity,
        "source_locator": locator,
        "source_record_id": record_id,
        "stage": stage,
        "rule": rule,
        "field": field_name,
        "value": value,
        "reason": redact_ids(reason),
        "raw_payload": text[:RAW_PAYLOAD_LIMIT],
        "record_hash": hash_of_record or record_hash(payload),
    }


def guarded_files(
    buffer: RowBuffer,
    paths: Iterable[Path],
    read_one: Any,
) -> Iterator[Batch]:
    """Run `read_one(path)` per file; a file that breaks the reader is quarantined, not fatal.

    `read_one` is a generator of batches. Batches it already produced stay staged; the
    rest of that file becomes one quarantine row naming the file and the error.
    """
    for path in paths:
        try:
            yield from read_one(path)
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the run
            yield from buffer.reject(
                locator=str(path),
                reason=f"{path.name}: unreadable ({type(error).__name__}: {error})",
                rule="file.unreadable",
                payload=_head(path),
                value=_origin(error),
            )
    yield from buffer.flush()


def _origin(error: BaseException) -> str:
    """Where the error was raised (file:line), so a quarantine row points at the code too."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else type(error).__name__


def iter_files(location: str, pattern: str) -> list[Path]:
    """The files a file source reads, in a stable order (so runs are reproducible)."""
    root = Path(location)
    if root.is_file():
        return [root]
    if not root.exists():
        raise FileNotFoundError(f"source location {location!r} does not exist")
    return sorted(p for p in root.glob(pattern) if p.is_file())


def _head(path: Path, limit: int = RAW_PAYLOAD_LIMIT) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN from a DB driver
        return None
    return str(value)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype("string")


def quarantine_frame(
    rows: pd.DataFrame,
    *,
    entity: str,
    stage: str,
    rule: pd.Series | str,
    reason: pd.Series | str,
    field_name: pd.Series | str | None = None,
    value: pd.Series | str | None = None,
) -> pd.DataFrame:
    """Quarantine rows for records a later stage rejects, keeping their staged hash.

    `rows` are staged (or mapped) records with provenance; their own fields become the
    raw payload, as JSON, so a steward sees what the source said.
    """
    payload_columns = [c for c in rows.columns if c not in PROVENANCE]
    payloads = rows[payload_columns].astype("string").to_json(orient="records", lines=True, force_ascii=False)
    out = pd.DataFrame(
        {
            "source_system": rows["source_system"].to_numpy(),
            "source_kind": rows["source_kind"].to_numpy(),
            "entity": entity,
            "source_locator": rows["source_locator"].to_numpy(),
            "source_record_id": rows["source_record_id"].to_numpy(),
            "stage": stage,
            "rule": _aligned(rule, rows),
            "field": _aligned(field_name, rows),
            "value": _aligned(value, rows),
            "reason": _aligned(reason, rows),
            "raw_payload": [line[:RAW_PAYLOAD_LIMIT] for line in payloads.split("\n")[: len(rows)]],
            "record_hash": rows["record_hash"].to_numpy(),
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    return out.astype("string")


def _aligned(value: pd.Series | str | None, rows: pd.DataFrame) -> Any:
    return value.to_numpy() if isinstance(value, pd.Series) else value
