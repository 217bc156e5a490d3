"""The common journal schema, v1 (design §3).

FHIR-aligned so that a FHIR export is a projection: every clinical row keeps the
source `code_system` + `code` beside the `mapped_code_system` + `mapped_code`, and
carries its natural key `(source_system, source_record_id)` (the entity is the table).
Operations tables make every run accountable: which source record became which row,
what was quarantined and why, and how the books balanced.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

SCHEMA_VERSION = 1

# Surrogate `id`s have no sequence: the loader numbers new rows in load order (journal.bulk),
# so a re-run after a killed run numbers them as a clean run would. Never use them outside
# the journal: the natural key is (source_system, source_record_id).

# Lengths are explicit so MariaDB/MySQL (which needs them for VARCHAR) gets the same schema.
SYSTEM = 64
KEY = 255
CODE = 64
URI = 128
HASH = 64


class Base(DeclarativeBase):
    """Declarative base of the journal."""


class Person(Base):
    """A journal person: the golden record of one identity cluster."""

    __tablename__ = "person"

    journal_person_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    deceased_date: Mapped[dt.date | None] = mapped_column(Date)
    confidential_address: Mapped[bool] = mapped_column(Boolean, default=False)
    address_line: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(16))
    municipality_code: Mapped[str | None] = mapped_column(String(8))
    record_hash: Mapped[str] = mapped_column(String(HASH))
    last_run_id: Mapped[str] = mapped_column(String(64))
    merged_into: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """Set when a later wave showed this person to be another one: its rows moved there."""


class PersonIdentifier(Base):
    """Every identifier seen for a person (fødselsnummer, D-number, local ids...)."""

    __tablename__ = "person_identifier"
    __table_args__ = (UniqueConstraint("journal_person_id", "system", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    journal_person_id: Mapped[int] = mapped_column(ForeignKey("person.journal_person_id"), index=True)
    system: Mapped[str] = mapped_column(String(URI))
    value: Mapped[str] = mapped_column(String(KEY))
    kind: Mapped[str] = mapped_column(String(32))
    valid: Mapped[bool] = mapped_column(Boolean)


class PersonLink(Base):
    """Identity output: which source person record belongs to which journal person."""

    __tablename__ = "person_link"

    source_system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    source_person_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    journal_person_id: Mapped[int] = mapped_column(ForeignKey("person.journal_person_id"), index=True)
    link_kind: Mapped[str] = mapped_column(String(16))
    match_weight: Mapped[float | None] = mapped_column(Float)
    record_hash: Mapped[str] = mapped_column(String(HASH))
    run_id: Mapped[str] = mapped_column(String(64))


class PersonRecord(Base):
    """A source person record as identity saw it (mapped and gated), kept so that a later
    wave's records are matched against every person the journal already holds."""

    __tablename__ = "person_record"

    source_system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    source_person_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(SYSTEM))
    fields: Mapped[str] = mapped_column(Text)
    """The mapped person fields as a JSON object."""
    fields_sha256: Mapped[str] = mapped_column(String(HASH))
    run_id: Mapped[str] = mapped_column(String(64))


class SourceKeyed:
    """Natural key and provenance shared by every clinical row."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source_system: Mapped[str] = mapped_column(String(SYSTEM))
    source_record_id: Mapped[str] = mapped_column(String(KEY))
    record_hash: Mapped[str] = mapped_column(String(HASH))
    row_hash: Mapped[str] = mapped_column(String(16))
    """Hash of the mapped values: a changed mapping or person link updates the row."""
    last_run_id: Mapped[str] = mapped_column(String(64))

    @declared_attr
    def journal_person_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("person.journal_person_id"), index=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (UniqueConstraint("source_system", "source_record_id", name=f"uq_{cls.__tablename__}_nk"),)


class Coded:
    """A coded row keeps the source code beside the mapped one, and how it was mapped."""

    code_system: Mapped[str | None] = mapped_column(String(URI))
    code: Mapped[str | None] = mapped_column(String(CODE))
    display: Mapped[str | None] = mapped_column(String(500))
    mapped_code_system: Mapped[str | None] = mapped_column(String(URI))
    mapped_code: Mapped[str | None] = mapped_column(String(CODE))
    mapped_display: Mapped[str | None] = mapped_column(String(500))
    map_source: Mapped[str | None] = mapped_column(String(128))


class Encounter(SourceKeyed, Coded, Base):
    __tablename__ = "encounter"

    class_code: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end: Mapped[dt.datetime | None] = mapped_column(DateTime)
    location: Mapped[str | None] = mapped_column(String(300))


class Condition(SourceKeyed, Coded, Base):
    __tablename__ = "condition"

    encounter_source_record_id: Mapped[str | None] = mapped_column(String(KEY))
    category: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Observation(SourceKeyed, Coded, Base):
    __tablename__ = "observation"

    encounter_source_record_id: Mapped[str | None] = mapped_column(String(KEY))
    effective_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(500))
    unit: Mapped[str | None] = mapped_column(String(32))
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)
    ref_text: Mapped[str | None] = mapped_column(String(100))
    interpretation: Mapped[str | None] = mapped_column(String(16))


class MedicationStatement(SourceKeyed, Coded, Base):
    __tablename__ = "medication_statement"

    dosage_text: Mapped[str | None] = mapped_column(String(300))
    start: Mapped[dt.date | None] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)


class AllergyIntolerance(SourceKeyed, Coded, Base):
    __tablename__ = "allergy_intolerance"

    reaction: Mapped[str | None] = mapped_column(String(300))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Document(SourceKeyed, Base):
    """A document row points at its content by sha256; the bytes live once in document_blob."""

    __tablename__ = "document"

    title: Mapped[str | None] = mapped_column(String(300))
    author: Mapped[str | None] = mapped_column(String(200))
    authored_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    content_type: Mapped[str | None] = mapped_column(String(100))
    content_sha256: Mapped[str] = mapped_column(String(HASH), index=True)
    encounter_source_record_id: Mapped[str | None] = mapped_column(String(KEY))


class DocumentBlob(Base):
    __tablename__ = "document_blob"

    sha256: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary().with_variant(LargeBinary(2**32 - 1), "mysql"))


class MigrationRun(Base):
    __tablename__ = "migration_run"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    migration: Mapped[str] = mapped_column(String(200))
    wave: Mapped[str | None] = mapped_column(String(200))
    config_sha256: Mapped[str] = mapped_column(String(HASH))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    """running, completed, unbalanced, failed, or interrupted (killed: found running by the next run)."""
    balanced: Mapped[bool | None] = mapped_column(Boolean)


class SourceState(Base):
    """Per source, the mapping fingerprint its journal rows were made with: a re-run skips
    unchanged records only while it holds."""

    __tablename__ = "source_state"

    source_system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    mapping_sha256: Mapped[str] = mapped_column(String(HASH))
    run_id: Mapped[str] = mapped_column(String(64))


class SourceRecord(Base):
    """Provenance of every loaded row: the books the reconciliation checks."""

    __tablename__ = "source_record"

    source_system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_record_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(16))
    source_locator: Mapped[str] = mapped_column(String(500))
    record_hash: Mapped[str] = mapped_column(String(HASH))
    journal_table: Mapped[str] = mapped_column(String(32))
    first_run_id: Mapped[str] = mapped_column(String(64))
    last_run_id: Mapped[str] = mapped_column(String(64))


class Quarantine(Base):
    """A record that did not load, with the stage, the rule, the value and a readable reason."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("source_system", "entity", "record_key", "rule", name="uq_quarantine_nk"),
        Index("ix_quarantine_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source_system: Mapped[str] = mapped_column(String(SYSTEM))
    source_kind: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(32))
    record_key: Mapped[str] = mapped_column(String(KEY))
    source_record_id: Mapped[str | None] = mapped_column(String(KEY))
    source_locator: Mapped[str] = mapped_column(String(500))
    stage: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(128))
    field: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw_payload: Mapped[str | None] = mapped_column(Text)
    record_hash: Mapped[str] = mapped_column(String(HASH))
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open (waiting), released (a steward says it is fixed at the source), resolved (no longer fails)."""
    run_id: Mapped[str] = mapped_column(String(64))
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class MatchDecision(Base):
    """A data steward's decision on a candidate pair, replayed on every later run."""

    __tablename__ = "match_decision"

    pair_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    left_source_system: Mapped[str] = mapped_column(String(SYSTEM))
    left_source_person_id: Mapped[str] = mapped_column(String(KEY))
    right_source_system: Mapped[str] = mapped_column(String(SYSTEM))
    right_source_person_id: Mapped[str] = mapped_column(String(KEY))
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class RunAccount(Base):
    """The books of one run per source and entity, by count and by checksum."""

    __tablename__ = "run_account"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    extracted: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    merged: Mapped[int] = mapped_column(Integer)
    out_of_scope: Mapped[int] = mapped_column(Integer)
    extracted_checksum: Mapped[str] = mapped_column(String(32))
    accounted_checksum: Mapped[str] = mapped_column(String(32))
    balanced: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict | None] = mapped_column(JSON)


CLINICAL_TABLES: dict[str, type[SourceKeyed]] = {
    "encounter": Encounter,
    "condition": Condition,
    "observation": Observation,
    "medication": MedicationStatement,
    "allergy": AllergyIntolerance,
    "document": Document,
}
"""Staging entity kind → journal table model (the person entity loads through identity)."""

ENTITIES: tuple[str, ...] = ("person", *CLINICAL_TABLES)
