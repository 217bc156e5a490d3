"""A GP practice's journal export (`JournalExport`), streamed patient by patient.

The export is one large XML file per practice: `Practice`, then `Patient` elements with
their consultations (ICPC-2 diagnoses, notes), prescriptions and allergies. Each Patient
is parsed, staged and cleared before the next one is read, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from connectors import xmlsafe
from connectors.base import Batch, RowBuffer
from connectors.kith_messages import first

GP_EXPORT_NS = "urn:enjournal:synthetic:gp-journal-export:1.0"


class GpExport:
    """A GP practice's journal export, streamed patient by patient."""

    def __init__(self, buffer: RowBuffer, path: Path) -> None:
        self.buffer = buffer
        self.path = path

    def records(self) -> Iterator[Batch]:
        for _event, patient in xmlsafe.iterparse(self.path, tag=f"{{{GP_EXPORT_NS}}}Patient"):
            yield from self._patient(patient)
            patient.clear(keep_tail=False)
            while patient.getprevious() is not None:
                del patient.getparent()[0]

    def _patient(self, patient: etree._Element) -> Iterator[Batch]:
        local_id = first(patient, "LocalId")
        if local_id is None:
            yield from self.buffer.reject(
                locator=f"{self.path}:line {patient.sourceline}",
                reason=f"{self.path.name} line {patient.sourceline}: Patient without LocalId",
                rule="gp.no_local_id",
                payload=etree.tostring(patient),
                entity="person",
            )
            return
        add = _GpAdder(self.buffer, self.path, local_id)
        yield from add(
            "person",
            local_id,
            patient,
            {
                "national_id": first(patient, "Ident/Id"),
                "national_id_type": first(patient, "Ident/TypeId"),
                "family_name": first(patient, "FamilyName"),
                "given_name": first(patient, "GivenName"),
                "middle_name": first(patient, "MiddleName"),
                "birth_date": first(patient, "DateOfBirth"),
                "sex": first(patient, "Sex"),
                "street": first(patient, "Address/StreetAdr"),
                "postcode": first(patient, "Address/PostalCode"),
                "city": first(patient, "Address/City"),
                "municipality": first(patient, "Address/County"),
                "deceased_date": first(patient, "DeceasedDate"),
                "confidential_address": first(patient, "ConfidentialAddress"),
            },
            exclude=("Consultation", "Prescription", "Allergy"),
        )
        for consultation in patient.iterfind("{*}Consultation"):
            key = consultation.get("Id")
            date = first(consultation, "Date")
            yield from add("encounter", key, consultation, {"date": date})
            for index, concept in enumerate(consultation.iterfind("{*}Diagnosis/{*}Concept"), 1):
                yield from add(
                    "condition",
                    f"{key}/{index}",
                    concept,
                    {
                        "code": concept.get("V"),
                        "code_system_oid": concept.get("S"),
                        "display": concept.get("DN"),
                        "recorded_at": date,
                        "encounter_id": key,
                    },
                )
            note = first(consultation, "Note")
            if note:
                yield from add(
                    "document",
                    f"{key}/note",
                    consultation.find("{*}Note"),
                    {
                        "title": "Konsultasjonsnotat",
                        "authored_at": date,
                        "content": note,
                        "content_type": "text/plain",
                        "encounter_id": key,
                    },
                )
        for prescription in patient.iterfind("{*}Prescription"):
            drug = prescription.find("{*}Drug/{*}Concept")
            yield from add(
                "medication",
                prescription.get("Id"),
                prescription,
                {
                    "date": first(prescription, "Date"),
                    "code": drug.get("V") if drug is not None else None,
                    "code_system_oid": drug.get("S") if drug is not None else None,
                    "display": drug.get("DN") if drug is not None else None,
                    "dosage": first(prescription, "Dosage"),
                },
            )
        for allergy in patient.iterfind("{*}Allergy"):
            substance = allergy.find(".//{*}Concept")
            yield from add(
                "allergy",
                allergy.get("Id"),
                allergy,
                {
                    "date": first(allergy, "Date"),
                    "code": substance.get("V") if substance is not None else None,
                    "code_system_oid": substance.get("S") if substance is not None else None,
                    "display": substance.get("DN") if substance is not None else None,
                    "reaction": first(allergy, "Reaction"),
                },
            )


class _GpAdder:
    """Stamps a GP export record: locator with the line, payload the element's XML."""

    def __init__(self, buffer: RowBuffer, path: Path, local_id: str) -> None:
        self.buffer = buffer
        self.path = path
        self.local_id = local_id

    def __call__(
        self,
        entity: str,
        key: str | None,
        element: etree._Element,
        fields: dict[str, str | None],
        exclude: tuple[str, ...] = (),
    ) -> Iterator[Batch]:
        payload = etree.tostring(_without(element, exclude) if exclude else element)
        locator = f"{self.path}:line {element.sourceline}"
        if not key:
            return self.buffer.reject(
                locator=locator,
                reason=f"{self.path.name} line {element.sourceline}: {entity} element without Id",
                rule="gp.no_id",
                payload=payload,
                entity=entity,
            )
        return self.buffer.add(
            entity,
            locator=locator,
            record_id=key,
            person_id=self.local_id,
            payload=payload,
            fields=fields,
        )


def _without(element: etree._Element, children: tuple[str, ...]) -> etree._Element:
    """A copy without the named child elements: a person's hash covers the person only."""
    copy = etree.fromstring(etree.tostring(element))
    for child in list(copy):
        if etree.QName(child).localname in children:
            copy.remove(child)
    return copy
