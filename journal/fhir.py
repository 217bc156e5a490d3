"""FHIR R4 bulk export: the journal projected onto FHIR resources, one NDJSON file per type.

The journal was shaped for this (design §3): every clinical row keeps its source code
beside the mapped one, so each resource carries both codings; every row has its natural
key, which gives stable resource ids (the same row has the same id in any journal) and a
Provenance resource naming the legacy record it came from. Resources are validated with
`fhir.resources` (its R4B models, the R4-compatible release it ships) before they are
written; a confidential address never leaves the journal.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from identity.national_id import SYSTEMS
from journal.schema import (
    AllergyIntolerance,
    Condition,
    Document,
    DocumentBlob,
    Encounter,
    MedicationStatement,
    Observation,
    Person,
    PersonIdentifier,
    SourceKeyed,
)

OSLO = ZoneInfo("Europe/Oslo")
"""Journal times are recorded as local Norwegian time; FHIR wants a zone with a time."""
NAMESPACE = uuid.UUID("6b0f3f0e-5d1b-4c43-9f4e-2f8b8d0c1a77")
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CLASSES = {"IMP", "AMB", "EMER", "HH", "SS", "OBSENC", "PRENC", "VR", "FLD", "ACUTE", "NONAC"}
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SOURCE_ID_SYSTEM = "urn:enjournal:source-record:"
INLINE_LIMIT = 1 << 20
"""Document content up to this size travels inline (base64); larger content by reference."""

RESOURCE_TYPES = (
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationStatement",
    "AllergyIntolerance",
    "DocumentReference",
    "Provenance",
)


def resource_id(kind: str, source_system: str, source_record_id: str) -> str:
    """Stable across journals and re-runs: derived from the natural key, not the row id."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}|{source_system}|{source_record_id}"))


def export(engine: Engine, out: Path, *, exported_at: dt.datetime, batch: int = 5_000) -> dict[str, int]:
    """Write `<out>/<ResourceType>.ndjson` for every resource type; each line validated.

    Returns the number of resources written per type.
    """
    out.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    handles = {kind: (out / f"{kind}.ndjson").open("w", encoding="utf-8") for kind in RESOURCE_TYPES}
    try:
        with engine.connect() as connection:
            for resource in _resources(connection, exported_at, batch):
                kind = resource["resourceType"]
                validated = _model(kind).model_validate(resource)
                handles[kind].write(validated.model_dump_json(exclude_none=True) + "\n")
                counts[kind] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts


def _resources(connection: Any, exported_at: dt.datetime, batch: int) -> Iterator[dict[str, Any]]:
    identifiers = _identifiers(connection)
    for person in _stream(connection, select(Person), batch):
        yield _patient(person, identifiers.get(person.journal_person_id, []))
    encounter_ids = {
        (row.source_system, row.source_record_id): resource_id(
            "Encounter", row.source_system, row.source_record_id
        )
        for row in connection.execute(select(Encounter.source_system, Encounter.source_record_id))
    }
    builders: list[tuple[type[SourceKeyed], str, Callable[..., dict[str, Any]]]] = [
        (Encounter, "Encounter", _encounter),
        (Condition, "Condition", _condition),
        (Observation, "Observation", _observation),
        (MedicationStatement, "MedicationStatement", _medication),
        (AllergyIntolerance, "AllergyIntolerance", _allergy),
    ]
    for model, kind, build in builders:
        for row in _stream(connection, select(model), batch):
            resource = build(row, resource_id(kind, row.source_system, row.source_record_id), encounter_ids)
            yield resource
            yield _provenance(resource, row, exported_at)
    documents = select(Document, DocumentBlob.content, DocumentBlob.size).join(
        DocumentBlob, DocumentBlob.sha256 == Document.content_sha256
    )
    for row in _stream(connection, documents, batch):
        resource = _document(row, encounter_ids)
        yield resource
        yield _provenance(resource, row, exported_at)


def _stream(connection: Any, statement: Any, batch: int) -> Iterator[Any]:
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(statement)
    yield from result


def _identifiers(connection: Any) -> dict[int, list[dict[str, str]]]:
    """Valid national IDs (with their FHIR systems) and local ids, per journal person."""
    found: dict[int, list[dict[str, str]]] = {}
    rows = connection.execute(
        select(PersonIdentifier).where(PersonIdentifier.valid.is_(True)).order_by(PersonIdentifier.id)
    )
    for identifier in rows:
        if identifier.kind in SYSTEMS or identifier.kind == "local":
            entry = {"system": identifier.system, "value": identifier.value}
            if identifier.kind in SYSTEMS:
                entry["use"] = "official"
            found.setdefault(identifier.journal_person_id, []).append(entry)
    return found


def _patient(person: Person, identifiers: list[dict[str, str]]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.journal_person_id),
        "identifier": identifiers or None,
        "name": [_name(person)] if person.family_name or person.given_name else None,
        "gender": person.sex if person.sex in ("male", "female", "other", "unknown") else None,
        "birthDate": _date(person.birth_date),
        "deceasedDateTime": _date(person.deceased_date),
    }
    if person.merged_into is not None:  # a later wave showed this person to be another
        resource["active"] = False
        resource["link"] = [{"other": {"reference": f"Patient/{person.merged_into}"}, "type": "replaced-by"}]
    if person.confidential_address:
        resource["meta"] = {"security": [{"system": CONFIDENTIALITY, "code": "R", "display": "restricted"}]}
    elif person.address_line or person.postcode:
        resource["address"] = [
            {
                "line": [person.address_line] if person.address_line else None,
                "postalCode": person.postcode,
                "district": person.municipality_code,
                "country": "NO",
            }
        ]
    return resource


def _name(person: Person) -> dict[str, Any]:
    return {"family": person.family_name, "given": person.given_name.split() if person.given_name else None}


def _common(row: SourceKeyed, kind: str, resource_id_: str) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "id": resource_id_,
        "identifier": [{"system": SOURCE_ID_SYSTEM + row.source_system, "value": row.source_record_id}],
    }


def _concept(row: Any) -> dict[str, Any] | None:
    """The source coding first (as the legacy system said it), the mapped coding beside it."""
    codings = []
    if row.code:
        codings.append(
            {"system": row.code_system, "code": row.code, "display": row.display, "userSelected": True}
        )
    if row.mapped_code and (row.mapped_code, row.mapped_code_system) != (row.code, row.code_system):
        codings.append(
            {"system": row.mapped_code_system, "code": row.mapped_code, "display": row.mapped_display}
        )
    if not codings:
        return None
    return {"coding": codings, "text": row.display or row.mapped_display}


def _subject(row: SourceKeyed) -> dict[str, str]:
    return {"reference": f"Patient/{row.journal_person_id}"}


def _encounter_ref(row: Any, encounter_ids: dict[tuple[str, str], str]) -> dict[str, str] | None:
    key = (row.source_system, getattr(row, "encounter_source_record_id", None))
    return {"reference": f"Encounter/{encounter_ids[key]}"} if key in encounter_ids else None


def _encounter(row: Encounter, rid: str, _encounters: dict[tuple[str, str], str]) -> dict[str, Any]:
    known = row.class_code in ENCOUNTER_CLASSES
    return {
        **_common(row, "Encounter", rid),
        "status": "finished" if row.end is not None else "unknown",
        "class": {
            "system": ACT_CODE if known else "urn:enjournal:encounter-class",
            "code": row.class_code or "UNK",
        },
        "type": [concept] if (concept := _concept(row)) else None,
        "subject": _subject(row),
        "period": {"start": _datetime(row.start), "end": _datetime(row.end)} if row.start else None,
        "location": [{"location": {"display": row.location}}] if row.location else None,
    }


def _condition(row: Condition, rid: str, encounters: dict[tuple[str, str], str]) -> dict[str, Any]:
    category = "encounter-diagnosis" if row.encounter_source_record_id else "problem-list-item"
    return {
        **_common(row, "Condition", rid),
        "code": _concept(row),
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": category}
                ],
                "text": row.category,
            }
        ],
        "subject": _subject(row),
        "encounter": _encounter_ref(row, encounters),
        "recordedDate": _datetime(row.recorded_at),
    }


def _observation(row: Observation, rid: str, encounters: dict[tuple[str, str], str]) -> dict[str, Any]:
    resource = {
        **_common(row, "Observation", rid),
        "status": "final",
        "code": _concept(row) or {"text": "unknown"},
        "subject": _subject(row),
        "encounter": _encounter_ref(row, encounters),
        "effectiveDateTime": _datetime(row.effective_at),
        "interpretation": [{"text": row.interpretation}] if row.interpretation else None,
    }
    if row.value_num is not None:
        resource["valueQuantity"] = {"value": row.value_num, "unit": row.unit}
    elif row.value_text:
        resource["valueString"] = row.value_text
    if row.ref_low is not None or row.ref_high is not None or row.ref_text:
        resource["referenceRange"] = [
            {
                "low": {"value": row.ref_low, "unit": row.unit} if row.ref_low is not None else None,
                "high": {"value": row.ref_high, "unit": row.unit} if row.ref_high is not None else None,
                "text": row.ref_text,
            }
        ]
    return resource


def _medication(
    row: MedicationStatement, rid: str, _encounters: dict[tuple[str, str], str]
) -> dict[str, Any]:
    return {
        **_common(row, "MedicationStatement", rid),
        "status": "completed" if row.end is not None else "unknown",
        "medicationCodeableConcept": _concept(row) or {"text": "unknown"},
        "subject": _subject(row),
        "effectivePeriod": {"start": _date(row.start), "end": _date(row.end)} if row.start else None,
        "dosage": [{"text": row.dosage_text}] if row.dosage_text else None,
    }


def _allergy(row: AllergyIntolerance, rid: str, _encounters: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        **_common(row, "AllergyIntolerance", rid),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": _concept(row),
        "patient": _subject(row),
        "recordedDate": _datetime(row.recorded_at),
        "reaction": [{"manifestation": [{"text": row.reaction}]}] if row.reaction else None,
    }


def _document(row: Any, encounters: dict[tuple[str, str], str]) -> dict[str, Any]:
    document = row
    rid = resource_id("DocumentReference", document.source_system, document.source_record_id)
    attachment: dict[str, Any] = {
        "contentType": document.content_type or "application/octet-stream",
        "size": row.size,
        "title": document.title,
        "url": f"urn:enjournal:blob:sha256:{document.content_sha256}",
    }
    if row.size <= INLINE_LIMIT:
        attachment["data"] = base64.b64encode(row.content).decode("ascii")
    encounter = _encounter_ref(document, encounters)
    return {
        **_common(document, "DocumentReference", rid),
        "status": "current",
        "subject": _subject(document),
        "date": _datetime(document.authored_at),
        "description": document.title,
        "author": [{"display": document.author}] if document.author else None,
        "content": [{"attachment": attachment}],
        "context": {"encounter": [encounter]} if encounter else None,
    }


def _provenance(resource: dict[str, Any], row: SourceKeyed, exported_at: dt.datetime) -> dict[str, Any]:
    """Which legacy record a resource came from, and that enjournal moved it."""
    kind, rid = resource["resourceType"], resource["id"]
    return {
        "resourceType": "Provenance",
        "id": resource_id("Provenance", kind, rid),
        "target": [{"reference": f"{kind}/{rid}"}],
        "recorded": _datetime(exported_at),
        "activity": {"text": f"migrated by enjournal, run {row.last_run_id}"},
        "agent": [{"who": {"display": "enjournal"}}],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {
                        "system": SOURCE_ID_SYSTEM + row.source_system,
                        "value": row.source_record_id,
                    },
                    "display": f"{row.source_system} record {row.source_record_id}",
                },
            }
        ],
    }


def _model(kind: str) -> Any:
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    return getattr(module, kind)


def _date(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _datetime(value: dt.datetime | None) -> str | None:
    """A FHIR dateTime/instant: with a time there must be a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=value.tzinfo or OSLO).isoformat()
