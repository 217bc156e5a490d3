"""What a mapping may write: the journal schema's fields per entity, with their value kinds.

Derived from the SQLAlchemy models, so a new journal column is mappable at once and a
spec can never name a field the journal does not have.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, inspect

from journal.schema import CLINICAL_TABLES, Coded, Person, SourceKeyed

Kind = Literal["text", "date", "datetime", "number", "boolean"]

CODING_FIELDS = tuple(Coded.__annotations__)
"""Filled by a spec's `coding` block, never by a plain field rule."""

SYSTEM_FIELDS = frozenset({"journal_person_id", *SourceKeyed.__annotations__})

PERSON_EXTRAS: dict[str, Kind] = {
    "middle_name": "text",
    "national_id": "text",
    "national_id_type": "text",
}
"""Identity evidence a person mapping provides beyond the golden-record columns."""

DOCUMENT_EXTRAS: dict[str, Kind] = {"content": "text", "attachment_sha256": "text"}
"""Document text, or the sha256 of bytes in the run's attachment store; the loader stores
either once by sha256 in document_blob and keeps the hash."""


def _kind(column_type: object) -> Kind:
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Float | Integer):
        return "number"
    return "text"


@cache
def target_fields(entity: str) -> dict[str, Kind]:
    """Mappable fields of `entity` → their value kind."""
    if entity == "person":
        columns = inspect(Person).columns
        fields = {c.key: _kind(c.type) for c in columns if c.key not in SYSTEM_FIELDS}
        return {**fields, **PERSON_EXTRAS}
    model = CLINICAL_TABLES[entity]
    fields = {
        c.key: _kind(c.type)
        for c in inspect(model).columns
        if c.key not in SYSTEM_FIELDS and c.key not in CODING_FIELDS and c.key != "content_sha256"
    }
    return {**fields, **DOCUMENT_EXTRAS} if entity == "document" else fields


def is_coded(entity: str) -> bool:
    return entity != "person" and issubclass(CLINICAL_TABLES[entity], Coded)


ENTITIES = ("person", *CLINICAL_TABLES)
