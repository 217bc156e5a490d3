"""What a generator run produced: its arguments, row counts and every planted error,
written to out/manifest.json so that tests and benchmarks can check the pipeline
against it (e.g. that the quarantined rows are exactly the planted invalid ones).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

INVALID_KINDS = ("invalid_date", "unknown_code", "bad_number", "orphan_record")
"""Planted values that a correct pipeline must quarantine."""


class InjectedError(BaseModel):
    """One planted error.

    kind: what was done (see synthetic/README.md);
    source_system: hospital-epr | hospital-hl7 | municipal-care | gp-journal | gp-messages;
    entity: staging entity of the damaged record (person, encounter, condition,
    observation, medication, allergy, document);
    record_id: the record's key in its source (PAS_ID, bruker_id, LocalId, MsgId for
    persons; row primary key / vedtak_id / Consultation Id ... for
    clinical rows; HL7: <OBR-3>/<OBX-3.1>/<OBX-1> and <MSH-10>/DG1/<DG1-1>; Svarrapport:
    <ServProvId>/<IdResultItem>);
    location: table or file and field (e.g. "LABSVAR.VERDI", "OBX-5");
    value: the value written to the source;
    detail: human-readable explanation.
    """

    kind: str
    source_system: str
    entity: str
    record_id: str
    location: str
    value: str
    detail: str


class Manifest(BaseModel):
    """Arguments, counts and planted errors of one generator run."""

    seed: int
    persons: int
    error_rate: float
    reference_date: str
    source_person_records: dict[str, int] = Field(
        description="Person records per source_system (rows of truth.csv)."
    )
    counts: dict[str, int] = Field(
        description="Rows per table/file: 'path' or 'path:table' relative to out/."
    )
    injected: list[InjectedError]

    def write(self, path: Path) -> None:
        """Write as stable, human-readable JSON (sorted keys, UTF-8)."""
        text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Load a manifest written by write()."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


class InjectionLog:
    """Collects InjectedError entries while the sources are generated."""

    def __init__(self) -> None:
        self.entries: list[InjectedError] = []

    def add(
        self,
        kind: str,
        source_system: str,
        entity: str,
        record_id: str,
        location: str,
        value: str,
        detail: str,
    ) -> None:
        """Record one planted error."""
        self.entries.append(
            InjectedError(
                kind=kind,
                source_system=source_system,
                entity=entity,
                record_id=record_id,
                location=location,
                value=value,
                detail=detail,
            )
        )

    def sorted(self) -> list[InjectedError]:
        """Entries in a stable order: by source, kind, record id."""
        return sorted(self.entries, key=lambda e: (e.source_system, e.kind, e.location, e.record_id))
