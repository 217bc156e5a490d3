"""What a KITH message holds, as staging records: the patient of each standard, results,
diagnoses with their code-system OID, medications, the stay of a discharge summary, the
free text as a readable document, the message itself and its attachments.

Element names are read namespace-agnostically (`{*}Name`): the standards share their
building blocks across versions, so one reader serves Svarrapport 1.3/1.4, Epikrise
1.1/1.2, Henvisning 1.0/1.1/2.0, Dialogmelding 1.0/1.1 and PLO 1.5/1.6.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from lxml import etree

from connectors.attachments import StoredAttachment
from connectors.base import Item, Record, Rejected
from connectors.kith_standards import standard_of

NATIONAL_ID_TYPES = ("FNR", "DNR", "HNR", "FHN", "DKN")
"""Ident/TypeId values (Volven 8116) that carry a national or shared help number."""

DIAGNOSIS_SYSTEMS = {"2.16.578.1.12.4.1.1.7110", "2.16.578.1.12.4.1.1.7170", "2.16.578.1.12.4.1.1.7171"}
"""ICD-10, ICPC-2 and ICPC-2B: a coded finding in one of these is a diagnosis."""

FREE_TEXT = frozenset(
    {
        "TextResultValue",
        "Description",
        "Comment",
        "TekstNotatInnhold",
        "Sporsmal",
        "Notat",
        "Merknad",
        "Funksjonsbeskrivelse",
        "CaveStikkord",
        "MerknadTilLegemiddeladministrering",
        "Begrunnelse",
        "Tema",
    }
)
"""Elements whose text (plain or XHTML) is written by a clinician: the message's narrative.
Only leaves count (no children but XHTML), so a container such as Dialogmelding's Notat
is read through its TekstNotatInnhold, not with its author's name and phone number."""

XHTML = "http://www.w3.org/1999/xhtml"

HEADINGS = ("Heading", "Overskriftskode", "TemaKodet")
NARRATIVE_LIMIT = 500
"""A lab text result longer than this (or in XHTML) is a report: kept as a document too."""

BLOCKS = frozenset({"p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
SPACES = re.compile(r"[ \t\r\f\v]+")
WHITESPACE = re.compile(r"\s+")


def local(element: etree._Element) -> str:
    """The tag without its namespace ('' for comments): string slicing, as lxml's QName costs
    more than all else per element of a message."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def value(element: etree._Element | None) -> str | None:
    """KITH puts coded and dated values in a V attribute, plain ones in the text."""
    if element is None:
        return None
    text = element.get("V") if element.get("V") is not None else element.text
    return text.strip() if text and text.strip() else None


def find(element: etree._Element, path: str) -> etree._Element | None:
    return element.find(_any_namespace(path))


@functools.cache
def _any_namespace(path: str) -> str:
    """'Patient/OffId' as '{*}Patient/{*}OffId', built once per path (the paths are constants)."""
    return "/".join(f"{{*}}{part}" for part in path.split("/"))


def first(element: etree._Element, *paths: str) -> str | None:
    """The first non-empty value among namespace-agnostic paths like 'Patient/OffId'."""
    for path in paths:
        result = value(find(element, path))
        if result is not None:
            return result
    return None


def text_of(element: etree._Element) -> str:
    """Readable text of plain or XHTML content.

    In XHTML, line breaks in the source are layout: paragraphs, rows and `br` make the
    lines and table cells are split by ` | `. Plain text keeps its own line breaks.
    """
    xhtml = any(_namespace(child) == XHTML for child in element)
    parts: list[str] = []

    def text(value: str | None) -> str:
        return WHITESPACE.sub(" ", value or "") if xhtml else value or ""

    def walk(node: etree._Element) -> None:
        name = local(node)
        if name == "br":
            parts.append("\n")
        parts.append(text(node.text))
        for child in node:
            walk(child)
            parts.append(text(child.tail))
        if name in ("td", "th"):
            parts.append(" | ")
        elif name in BLOCKS and not next((p for p in reversed(parts) if p), "\n").endswith("\n"):
            parts.append("\n")

    walk(element)
    lines = [SPACES.sub(" ", line).strip().removesuffix(" |").strip() for line in "".join(parts).splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def coded(element: etree._Element | None) -> dict[str, str | None]:
    """Code, code-system OID and display of a KITH CV element (V, S, DN; OT for free text)."""
    if element is None:
        return {"code": None, "code_system_oid": None, "display": None}
    return {
        "code": element.get("V"),
        "code_system_oid": element.get("S"),
        "display": element.get("DN") or element.get("OT"),
    }


class KithMessage:
    """One message (a whole file, or one entry of an archive) → its items."""

    def __init__(self, root: etree._Element, locator: str, label: str) -> None:
        self.root = root
        self.locator = locator
        self.label = label
        self.outer = standard_of(root)
        self.envelope = root if self.outer.family == "msghead" else None
        info = find(root, "MsgInfo") if self.envelope is not None else root
        scope = info if info is not None else root
        self.msg_id = first(scope, "MsgId") or label
        self.gen_date = first(scope, "GenDate")
        type_element = find(scope, "Type")
        self.msg_type = value(type_element)
        self.type_name = type_element.get("DN") if type_element is not None else None
        self.bodies = self._bodies()
        self.standard = standard_of(self.bodies[0]) if self.bodies else self.outer
        self.report_id = self._first_in_bodies("ServReport/ServProvId", "ServRprt/ServProvId") or self.msg_id

    def _bodies(self) -> list[etree._Element]:
        if self.envelope is None:
            return [self.root]
        contents = self.envelope.iterfind("{*}Document/{*}RefDoc/{*}Content")
        return [child for content in contents for child in content if local(child) != "Base64Container"]

    def _first_in_bodies(self, *paths: str) -> str | None:
        return next((v for body in self.bodies if (v := first(body, *paths)) is not None), None)

    def items(self) -> list[Item]:
        unknown = [standard_of(body) for body in self.bodies if not standard_of(body).known]
        if not self.outer.known or unknown:
            shown = (unknown or [self.outer])[0]
            return [
                Rejected(
                    f"{self.label}: unknown message type {self.msg_type or shown.name!r} "
                    f"(namespace {shown.namespace!r})",
                    "kith.unknown_type",
                    etree.tostring(self.root, encoding="utf-8"),
                    self.locator,
                    value=self.msg_type or shown.name,
                )
            ]
        patient = self._patient()
        if patient is None:
            return [
                Rejected(
                    f"{self.label}: {self.msg_type or self.standard.name} message has no Patient element",
                    "kith.no_patient",
                    etree.tostring(self.root, encoding="utf-8"),
                    self.locator,
                    entity="person",
                )
            ]
        items: list[Item] = [self._record("person", self.msg_id, patient, _person(patient))]
        for body in self.bodies:
            items += self._results(body)
            items += self._diagnoses(body)
            items += self._medications(body)
            items += self._stays(body)
            items += self._functions(body)
        items += self._documents()
        return items

    def _record(
        self, entity: str, key: str, payload: etree._Element | bytes, fields: dict[str, str | None]
    ) -> Record:
        data = payload if isinstance(payload, bytes) else etree.tostring(payload, encoding="utf-8")
        return Record(
            entity=entity,
            key=key,
            fields={
                **fields,
                "msg_id": self.msg_id,
                "msg_type": self.msg_type,
                "standard": self.standard.family,
                "standard_version": self.standard.version,
                "namespace": self.standard.namespace,
            },
            payload=data,
            locator=f"{self.locator}:{entity}:{key}",
            person_id=self.msg_id,
            timestamp=self.gen_date,
        )

    def _patient(self) -> etree._Element | None:
        """The standard's own Patient (Svarrapport, Epikrise, Henvisning 1.x), else MsgHead's."""
        for scope in (*self.bodies, find(self.envelope, "MsgInfo") if self.envelope is not None else None):
            if scope is not None and (found := scope.find(".//{*}Patient")) is not None:
                return found
        return None

    def _issued(self, body: etree._Element) -> str | None:
        return first(body, "ServReport/IssueDate", "ServRprt/IssueDate", "ServReq/IssueDate", "IssueDate")

    def _results(self, body: etree._Element) -> Iterator[Record]:
        subjects = {
            first(s, "IdByServProvider"): first(s, "CollectedSample/CollectedDate")
            for s in body.iter("{*}AnalysedSubject")
        }
        issued = self._issued(body) or self.gen_date
        comment = first(body, "ServReport/Comment")
        keys: dict[etree._Element, str] = {}
        collected: dict[etree._Element, str | None] = {}
        children: dict[str, int] = {}
        for index, item in enumerate(body.iter("{*}ResultItem"), 1):
            parent = _ancestor(item, "ResultItem", body)
            own = first(item, "IdResultItem")
            if own:
                key = f"{self.report_id}/{own}"
            elif parent is not None:
                children[keys[parent]] = children.get(keys[parent], 0) + 1
                key = f"{keys[parent]}/{children[keys[parent]]}"
            else:
                key = f"{self.msg_id}/result/{index}"
            keys[item] = key
            collected[item] = (
                subjects.get(first(item, "RefAnalysedSubject"))
                or first(item, "InvDate")
                or (collected[parent] if parent is not None else None)
                or issued
            )
            yield self._record(
                "observation",
                key,
                _without(item, "ResultItem"),
                {
                    **_result(item),
                    "parent_result_id": keys[parent] if parent is not None else None,
                    "collected_at": collected[item],
                    "report_comment": comment,
                    "report_id": self.report_id,
                },
            )

    def _diagnoses(self, body: etree._Element) -> Iterator[Record]:
        recorded = self._issued(body) or self.gen_date
        stay = f"{self.msg_id}/event/1" if body.find(".//{*}Event") is not None else None
        index = 0
        for concept in body.iter("{*}Concept", "{*}Diagnosekode"):
            parent = concept.getparent()
            in_diagnosis = local(parent) in ("Diagnosis", "MedisinskDiagnose")
            if not in_diagnosis and not (
                local(parent) == "CodedDescr" and concept.get("S") in DIAGNOSIS_SYSTEMS
            ):
                continue
            index += 1
            item = _ancestor(concept, "InfItem", body)
            kind = find(item, "Type") if item is not None else None
            modifier = find(parent, "Modifier/Value")
            main = first(parent, "Hoveddiagnose") == "true"
            yield self._record(
                "condition",
                f"{self.msg_id}/diagnosis/{index}",
                concept,
                {
                    **coded(concept),
                    "diagnosis_type": value(kind) if kind is not None else "H" if main else None,
                    "diagnosis_type_name": _name(kind)
                    if kind is not None
                    else "Hoveddiagnose"
                    if main
                    else None,
                    "context": "referral"
                    if _ancestor(concept, "ServReq", body) is not None
                    else self.standard.family,
                    "modifier_code": modifier.get("V") if modifier is not None else None,
                    "modifier_code_system_oid": modifier.get("S") if modifier is not None else None,
                    "note": first(parent, "DiagnoseBeskrivelse"),
                    "recorded_at": recorded,
                    "encounter_id": stay,
                },
            )

    def _medications(self, body: etree._Element) -> Iterator[Record]:
        recorded = self._issued(body) or self.gen_date
        medications = [*body.iter("{*}Medication"), *body.iter("{*}Forskrivningsinfo")]
        for index, medication in enumerate(medications, 1):
            drug = find(medication, "DrugId")
            if drug is None:
                drug = medication.find(".//{*}Atc")
            fields = coded(drug)
            strength = find(medication, "UnitDose")
            strength = strength if strength is not None else find(medication, "Styrke")
            yield self._record(
                "medication",
                f"{self.msg_id}/medication/{index}",
                medication,
                {
                    **fields,
                    "display": fields["display"] or first(medication, "Navn"),
                    "dosage": first(medication, "DosageText", "DosVeiledEnkel"),
                    "strength": _quantity(strength),
                    "status": _name(find(medication, "Status")) or _name(find(medication, "Bruk")),
                    "start": first(medication, "DoseringStarttidspunkt", "StartDateTime"),
                    "note": first(medication, "Comment") or first(medication.getparent(), "Merknad"),
                    "recorded_at": recorded,
                },
            )

    def _stays(self, body: etree._Element) -> Iterator[Record]:
        """The stay an Epikrise summarises (Event/ReportedEvent)."""
        for index, event in enumerate(body.iter("{*}Event"), 1):
            admission = find(event, "Service/AdmCat")
            yield self._record(
                "encounter",
                f"{self.msg_id}/event/{index}",
                _without(event, "InfItem", "Comment"),
                {
                    "start": first(event, "ReportedEvent/StartDateTime"),
                    "end": first(event, "ReportedEvent/EndDateTime"),
                    "admission_category": value(admission),
                    "admission_category_name": _name(admission),
                    "outcome": _name(find(event, "AdmOutcome")),
                },
            )

    def _functions(self, body: etree._Element) -> Iterator[Record]:
        """IPLOS functional assessments in PLO messages (variable 9111, score 1-5)."""
        assessed = first(body, "AnsvarForRapport/GodkjentDato") or self.gen_date
        for index, item in enumerate(body.iter("{*}KartlagtFunksjon"), 1):
            yield self._record(
                "observation",
                f"{self.msg_id}/function/{index}",
                item,
                {
                    **coded(find(item, "Funksjonsvariabel")),
                    "value_kind": "coded",
                    "value": first(item, "Vurdering"),
                    "collected_at": assessed,
                    "report_id": self.report_id,
                },
            )

    def _documents(self) -> list[Item]:
        base = {"standard_name": self.standard.name, "authored_at": self._authored()}
        items: list[Item] = []
        narrative = self._narrative()
        if narrative:
            items.append(
                self._record(
                    "document",
                    f"{self.msg_id}/text",
                    narrative.encode("utf-8"),
                    {
                        **base,
                        "title": self.type_name or self.msg_type,
                        "content_type": "text/plain",
                        "content": narrative,
                        "attachment_sha256": None,
                        "attachment_size": None,
                    },
                )
            )
        if self.standard.family != "svarrapport":
            xml = etree.tostring(self.root, encoding="utf-8")
            items.append(
                self._record(
                    "document",
                    f"{self.msg_id}/message",
                    xml,
                    {
                        **base,
                        "title": self.type_name or self.msg_type,
                        "content_type": "application/xml",
                        "content": xml.decode("utf-8"),
                        "attachment_sha256": None,
                        "attachment_size": None,
                    },
                )
            )
        for index, container in enumerate(self.root.iter("{*}Base64Container"), 1):
            items.append(self._attachment(container, index, base))
        return items

    def _attachment(self, container: etree._Element, index: int, base: dict[str, str | None]) -> Item:
        """A Base64Container the reader already decoded into the store (sha256 and size set)."""
        key = f"{self.msg_id}/attachment/{index}"
        ref_doc = _ancestor(container, "RefDoc", self.root)
        error = container.get("error")
        if error or not container.get("sha256"):
            return Rejected(
                f"{self.label}: attachment {index} cannot be decoded: {error or 'empty'}",
                "kith.attachment",
                etree.tostring(ref_doc if ref_doc is not None else container, encoding="utf-8")[:4000],
                f"{self.locator}:document:{key}",
                entity="document",
                record_id=key,
                field_name="Base64Container",
            )
        described = ref_doc if ref_doc is not None else container
        stored = StoredAttachment(container.get("sha256", ""), int(container.get("size", "0")))
        title = first(described, "Description") or first(described, "MimeType") or f"Vedlegg {index}"
        content_type = first(described, "MimeType") or "application/octet-stream"
        return self._record(
            "document",
            key,
            etree.tostring(described, encoding="utf-8"),
            {
                **base,
                "title": title,
                "content_type": content_type,
                "content": stored.describe(title, content_type),
                "attachment_sha256": stored.sha256,
                "attachment_size": str(stored.size),
                "authored_at": first(described, "IssueDate") or base["authored_at"],
            },
        )

    def _authored(self) -> str | None:
        return next((v for body in self.bodies if (v := self._issued(body))), None) or self.gen_date

    def _narrative(self) -> str:
        """Headed sections of free text, in document order."""
        sections: list[str] = []
        for body in self.bodies:
            for element in body.iter():
                if local(element) not in FREE_TEXT or any(_namespace(c) != XHTML for c in element):
                    continue
                text = text_of(element)
                if not text or (self.standard.family == "svarrapport" and not _is_report_text(element, text)):
                    continue
                sections.append(f"{_heading(element)}\n{text}")
        return "\n\n".join(sections)


def _person(patient: etree._Element) -> dict[str, str | None]:
    name = first(patient, "Name")
    family, given = first(patient, "FamilyName"), first(patient, "GivenName")
    if name and not family:
        family, _, given = (part.strip() for part in name.partition(","))
    idents = [(first(i, "Id"), first(i, "TypeId")) for i in patient.iterfind("{*}Ident")]
    if first(patient, "OffId"):
        idents.insert(0, (first(patient, "OffId"), first(patient, "TypeOffId")))
    national = next(((v, t) for v, t in idents if v and t in NATIONAL_ID_TYPES), None)
    national = national or next(((v, t) for v, t in idents if v), (None, None))
    address = find(patient, "Address")
    return {
        "national_id": national[0],
        "national_id_type": national[1],
        "identifiers": ";".join(f"{t}:{v}" for v, t in idents if v) or None,
        "local_patient_id": first(patient, "IdByServProvider"),
        "name": name,
        "family_name": family,
        "given_name": given or None,
        "middle_name": first(patient, "MiddleName"),
        "birth_date": first(patient, "DateOfBirth"),
        "sex": first(patient, "Sex"),
        "street": first(address, "StreetAdr") if address is not None else None,
        "postcode": first(address, "PostalCode") if address is not None else None,
        "city": first(address, "City") if address is not None else None,
        "municipality": first(address, "County") if address is not None else None,
        "deceased_date": first(patient, "DateOfDeath"),
    }


def _result(item: etree._Element) -> dict[str, str | None]:
    investigation = find(item, "Investigation/Id")
    if investigation is None:
        investigation = find(item, "ClinInv/Id")
    numeric = find(item, "NumResult/NumResultValue")
    text = find(item, "TextResult/TextResultValue")
    text_code = find(item, "TextResult/TextCode")
    low, high = find(item, "RefInterval/Low"), find(item, "RefInterval/High")
    if numeric is not None:
        kind, result = "numeric", value(numeric)
    elif text is not None:
        result = text_of(text)
        kind = "narrative" if _is_report_text(text, result) else "text"
    elif text_code is not None:
        kind, result = "coded", text_code.get("V")
    elif find(item, "DateResult") is not None:
        kind, result = "date", first(item, "DateResult/DateResultValue")
    else:
        kind, result = None, None
    described = first(item, "RefInterval/Descr")
    bounds = " - ".join(v for v in (value(low), value(high)) if v)
    return {
        **coded(investigation),
        "value_kind": kind,
        "value": result,
        "unit": numeric.get("U") if numeric is not None else None,
        "value_code": text_code.get("V") if text_code is not None else None,
        "value_code_system_oid": text_code.get("S") if text_code is not None else None,
        "value_display": text_code.get("DN") if text_code is not None else None,
        "reference_range": described or bounds or None,
        "ref_low": value(low),
        "ref_high": value(high),
        "interpretation": first(item, "DevResultInd"),
        "status": first(item, "StatusInvestigation"),
        "service_type": first(item, "ServType"),
        "heading": _name(find(item, "TextResult/Heading")),
        "comment": first(item, "Comment"),
    }


def _is_report_text(element: etree._Element, text: str) -> bool:
    """XHTML or long text: a radiology/pathology report rather than a short result."""
    return len(text) > NARRATIVE_LIMIT or any(local(child) == "div" for child in element)


def _heading(element: etree._Element) -> str:
    node: etree._Element | None = element
    for _ in range(3):
        if node is None:
            break
        for name in HEADINGS:
            heading = find(node, name)
            if heading is not None and (heading.get("DN") or heading.get("OT")):
                return heading.get("DN") or heading.get("OT")
        if local(node) == "InfItem" and _name(find(node, "Type")):
            return _name(find(node, "Type")) or ""
        node = node.getparent()
    node = element
    while node is not None:
        category = next((v for k, v in node.attrib.items() if k.endswith("}informasjonskategori")), None)
        if category:
            return f"{category}: {local(element)}"
        node = node.getparent()
    return local(element)


def _quantity(element: etree._Element | None) -> str | None:
    """A KITH PQ element (V and unit U) as text, e.g. `20 mg`."""
    if element is None:
        return None
    return " ".join(v for v in (element.get("V"), element.get("U")) if v) or None


def _name(element: etree._Element | None) -> str | None:
    """The display name of a coded element (DN), else its code."""
    if element is None:
        return None
    return element.get("DN") or value(element)


def _ancestor(element: etree._Element, name: str, stop: etree._Element) -> etree._Element | None:
    node = element.getparent()
    while node is not None and node is not stop:
        if local(node) == name:
            return node
        node = node.getparent()
    return None


def _namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace if isinstance(element.tag, str) else XHTML


def _without(element: etree._Element, *children: str) -> bytes:
    """The element's XML without the named child elements: a record's hash covers itself only."""
    copy = etree.fromstring(etree.tostring(element))
    for child in list(copy):
        if local(child) in children:
            copy.remove(child)
    return etree.tostring(copy, encoding="utf-8")
