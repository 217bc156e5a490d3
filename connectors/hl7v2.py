"""HL7 v2 message archives (v2.3-2.8): ADT → person/encounter, ORU → observations, and more.

Files are split into messages by streaming over segment separators (CR, LF or CRLF;
MLLP framing bytes and FHS/BHS batch envelopes are dropped), so archives of any size
pass in bounded memory. Each message is decoded with the charset its MSH-18 names,
checked for escape sequences python-hl7 would silently drop, and parsed with
python-hl7 (separators from MSH-1/MSH-2, escapes resolved: `\\T\\` → `&`).

Per patient (PID) group: PID → person, PV1 → encounter, OBX → observation (NTE lines
become its note), OBX of type ED → document with the decoded bytes in the attachment
store, DG1 → condition, AL1 → allergy, MRG (A40 and other merges) → person_merge, the
evidence identity matching needs to join two local ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import hl7
from pydantic import Field

from connectors.attachments import AttachmentStore, BadAttachment
from connectors.base import (
    Batch,
    Item,
    Record,
    Rejected,
    RowBuffer,
    SourceBase,
    SourceContext,
    guarded_files,
    iter_files,
)

SEGMENT_BREAK = re.compile(rb"[\r\n\x0b\x1c]+")
SEGMENT_START = re.compile(rb"[A-Z][A-Z0-9]{2}(?:[^A-Za-z0-9\s]|$)")
ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")
NOTED = frozenset({"OBX", "OBR", "ORC"})
BETWEEN_RESULT_AND_NOTES = frozenset({"PRT", "TQ1", "TQ2", "CTD", "CTI", "SPM"})
JUNK_LIMIT = 1 << 20
"""Bytes of non-HL7 text (before any MSH) kept together as one quarantine row."""

CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "8859/2": "iso8859-2",
    "8859/4": "iso8859-4",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "CP1252": "cp1252",
    "WINDOWS-1252": "cp1252",
}
"""MSH-18 values (HL7 table 0211, plus names legacy senders use) → Python codecs."""

ESCAPE_OK = re.compile(r"[FSTRE]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|sp\d*|in[+-]?\d*|ti[+-]?\d*|sk\d*|ce|fi|nf)")
"""Escape sequences python-hl7 resolves; \\H\\ and \\N\\ (highlighting) are removed first."""


class Hl7Source(SourceBase):
    kind: Literal["hl7v2"] = "hl7v2"
    pattern: str = "**/*.hl7"
    encoding: str = Field(default="utf-8", description="Charset of messages whose MSH-18 is empty.")
    local_id_types: list[str] = Field(
        default=["PI", "MR"], description="PID-3 identifier type codes of the local patient id."
    )
    national_id_types: list[str] = Field(
        default=["NNNOR", "FNR", "DNR", "NH"],
        description="PID-3 identifier type codes that carry a national identity number.",
    )
    untyped_id_as: Literal["local", "national"] | None = Field(
        default=None,
        description="How to read a PID-3 repetition without a type code (older senders omit it).",
    )
    read_block: int = Field(default=1 << 20, gt=0, description="Bytes read per block.")


@dataclass
class RawMessage:
    """The segments of one message as bytes, with where it starts in its file."""

    number: int
    offset: int
    framed: bool = False
    closed: bool = False
    segments: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def is_message(self) -> bool:
        return self.segments[0].startswith(b"MSH")

    def add(self, segment: bytes) -> None:
        self.segments.append(segment)
        self.size += len(segment) + 1

    def continue_segment(self, line: bytes) -> None:
        """Join a raw line break back into the segment, as the escape `\\.br\\` (MSH-2)."""
        escape = self.segments[0][6:7] or b"\\"
        self.segments[-1] += escape + b".br" + escape + line
        self.size += len(line) + 5

    @property
    def payload(self) -> bytes:
        return b"\r".join(self.segments)


def split_messages(handle: BinaryIO, block: int = 1 << 20) -> Iterator[RawMessage]:
    """Messages read block by block (never the whole file), each with its byte offset.

    Inside a message, a line that does not start like a segment (`ABC|`) continues the
    segment before it: a raw line break in a text field, written back as the `.br`
    escape. Text before the first MSH is yielded in bounded pieces to be quarantined.
    """
    current: RawMessage | None = None
    number, framed = 0, False
    pending, base = b"", 0
    while True:
        data = handle.read(block)
        pending += data
        position = 0
        lines: list[tuple[bytes, int, bytes]] = []
        for match in SEGMENT_BREAK.finditer(pending):
            lines.append((pending[position : match.start()], base + position, match.group()))
            position = match.end()
        if not data:
            lines.append((pending[position:], base + position, b""))
        for line, offset, brk in lines:
            segment = line.strip(b" \t")
            if segment and segment[:3] not in ENVELOPE:
                junk = current is not None and not current.is_message
                if segment.startswith(b"MSH") or current is None or (junk and current.size >= JUNK_LIMIT):
                    if current is not None:
                        yield current
                    number += 1
                    current = RawMessage(number, offset, framed=framed and segment.startswith(b"MSH"))
                    framed = False
                    current.add(segment)
                elif junk or SEGMENT_START.match(segment):
                    current.add(segment)
                else:
                    current.continue_segment(segment)
            if b"\x1c" in brk and current is not None:
                current.closed = True
            if b"\x0b" in brk:
                framed = True
        if not data:
            break
        pending, base = pending[position:], base + position
    if current is not None:
        yield current


class Hl7Connector:
    def __init__(self, source: Hl7Source, context: SourceContext) -> None:
        self.source = source
        self.buffer = RowBuffer(context, source.chunk_size)
        self.attachments = context.attachments

    def batches(self) -> Iterator[Batch]:
        paths = iter_files(self.source.location, self.source.pattern)
        yield from guarded_files(self.buffer, paths, self._read)

    def _read(self, path: Path) -> Iterator[Batch]:
        with path.open("rb") as handle:
            raw = None
            for raw in split_messages(handle, self.source.read_block):
                yield from self.buffer.guard(
                    lambda raw=raw: read_message(raw, path, self.source, self.attachments),
                    locator=f"{path}#{raw.number}@{raw.offset}",
                    label=f"{path.name} message {raw.number} (byte {raw.offset})",
                    payload=raw.payload,
                )
            if raw is None:
                yield from self.buffer.reject(
                    locator=str(path),
                    reason=f"{path.name}: holds no HL7 message (empty file)",
                    rule="hl7.empty",
                    payload=b"",
                )


def read_message(raw: RawMessage, path: Path, source: Hl7Source, attachments: AttachmentStore) -> list[Item]:
    """One message's records, or the one quarantine row that says why it cannot be read."""
    where = f"{path.name} message {raw.number} (byte {raw.offset})"
    locator = f"{path}#{raw.number}@{raw.offset}"
    payload = raw.payload

    def reject(rule: str, reason: str, value: str | None = None) -> list[Item]:
        return [Rejected(f"{where}: {reason}", rule, payload, locator, value=value)]

    msh = raw.segments[0]
    if not msh.startswith(b"MSH") or len(msh) < 8:
        return reject("hl7.no_msh", "does not start with an MSH segment")
    if raw.framed and not raw.closed:
        return reject("hl7.truncated", "its MLLP frame is never closed (0x1c): the message is cut off")
    fields = msh.split(msh[3:4])
    declared = fields[17].decode("ascii", "replace").split("~")[0].strip() if len(fields) > 17 else ""
    codec = CHARSETS.get(declared.upper()) if declared else source.encoding
    if codec is None:
        return reject("hl7.charset", f"MSH-18 names an unknown character set {declared!r}", declared)
    try:
        text = payload.decode(codec)
    except UnicodeDecodeError as error:
        found = payload[error.start : error.start + 1]
        return reject(
            "hl7.encoding",
            f"byte {found!r} at offset {raw.offset + error.start} is not {codec} "
            f"(MSH-18 {declared or 'empty; source encoding ' + source.encoding!r})",
            declared,
        )
    text, problem = _checked_escapes(text)
    if problem:
        return reject("hl7.escape", problem, problem.split(" ")[0])
    return Hl7Message(hl7.parse(text), text, locator, where, source, attachments).items()


def _checked_escapes(text: str) -> tuple[str, str | None]:
    """Drop highlighting escapes; report the first sequence python-hl7 would lose."""
    separator = text[3]
    end = text.find(separator, 4)
    encoding = text[4:end]
    if end < 0 or len(encoding) < 3:
        return text, None
    escape = encoding[2]
    for mark in ("H", "N"):
        text = text.replace(escape + mark + escape, "")
    delimiters = set(encoding) | {separator}
    for number, segment in enumerate(text.split("\r"), 1):
        values = segment.split(separator)
        header = segment.startswith("MSH")
        for index in range(2 if header else 1, len(values)):
            value = values[index]
            if escape not in value:
                continue
            parts = value.split(escape)
            name = f"{segment[:3]}-{index + 1 if header else index}"
            if len(parts) % 2 == 0:
                problem = f"{name} has an unterminated escape sequence in {value[:60]!r} (segment {number})"
                return text, problem
            for sequence in parts[1::2]:
                if not ESCAPE_OK.fullmatch(sequence) or delimiters & set(sequence):
                    return text, (
                        f"{name} has an escape sequence {escape}{sequence}{escape} that cannot be "
                        f"interpreted (segment {number})"
                    )
    return text, None


def _get(segment: hl7.Segment, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """A value by position, '' when absent (python-hl7 raises for short paths)."""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub)).strip()
    except (IndexError, KeyError):
        return ""


def _subcomponents(segment: hl7.Segment, field: int, rep: int, comp: int) -> str:
    """All subcomponents of a component, joined (an address line is `1000&Hospital Lane`)."""
    parts = [_get(segment, field, rep, comp, sub) for sub in range(1, 6)]
    return " ".join(p for p in parts if p)


def _repetitions(segment: hl7.Segment, field: int) -> int:
    if field >= len(segment):
        return 0
    value = segment(field)
    return len(value) if value and isinstance(value[0], hl7.Repetition) else 1


class Hl7Message:
    """One parsed message turned into staging records, one patient (PID) group at a time."""

    def __init__(
        self,
        message: hl7.Message,
        text: str,
        locator: str,
        where: str,
        source: Hl7Source,
        attachments: AttachmentStore,
    ) -> None:
        self.message = message
        lines = text.strip().split("\r")
        # A record's payload is its segments as the source wrote them (and cheaper than str()).
        self.lines = {id(s): line for s, line in zip(message, lines, strict=False)}
        self.locator = locator
        self.where = where
        self.source = source
        self.attachments = attachments
        msh = message.segment("MSH")
        self.control_id = _get(msh, 10)
        self.timestamp = _get(msh, 7)
        self.event = _get(msh, 9, 1, 2)
        self.message_type = "^".join(v for v in (_get(msh, 9, 1, 1), self.event) if v)
        self.version = _get(msh, 12)
        evn = next((s for s in message if str(s[0]) == "EVN"), None)
        self.event_at = (_get(evn, 2) or _get(evn, 6)) if evn is not None else ""

    def payload(self, segments: list[hl7.Segment]) -> str:
        return "\r".join(self.lines.get(id(s)) or str(s) for s in segments)

    def items(self) -> list[Item]:
        segments = list(self.message)
        starts = [i for i, s in enumerate(segments) if str(s[0]) == "PID"]
        if not starts:
            return [
                Rejected(
                    f"{self.where} {self.control_id or '?'} ({self.message_type}): no PID segment, "
                    "the patient is unknown",
                    "hl7.no_pid",
                    str(self.message),
                    self.locator,
                )
            ]
        items: list[Item] = []
        for number, start in enumerate(starts):
            end = starts[number + 1] if number + 1 < len(starts) else len(segments)
            items += _PatientGroup(self, segments[start:end], number + 1).items()
        return items


class _PatientGroup:
    """A PID segment and the segments that follow it, up to the next PID."""

    HANDLED = frozenset({"PID", "PV1", "ORC", "OBR", "OBX", "DG1", "AL1", "MRG"})

    def __init__(self, message: Hl7Message, segments: list[hl7.Segment], number: int) -> None:
        self.m = message
        self.segments = segments
        self.number = number
        self.patient_id = ""
        self.out: list[Item] = []

    def items(self) -> list[Item]:
        pid = self.segments[0]
        person = self._person(pid)
        self.patient_id = person["patient_id"] or ""
        if not self.patient_id:
            wanted = "/".join(self.m.source.local_id_types)
            return [
                Rejected(
                    f"{self.m.where} {self.m.control_id}: PID-3 has no local patient id of type {wanted}; "
                    f"the patient's {len(self.segments)} segment(s) are quarantined together",
                    "hl7.no_patient_id",
                    self.m.payload(self.segments),
                    self.m.locator,
                    entity="person",
                    value=_get(pid, 3),
                )
            ]
        units = _with_notes(self.segments[1:])
        unhandled = {str(s[0]) for s, _ in units} - self.HANDLED
        person["unhandled_segments"] = ",".join(sorted(unhandled)) or None
        self._add("person", self.patient_id, [pid], person)
        order_id, order_note, observed_at = self.m.control_id, None, ""
        for index, (segment, notes) in enumerate(units, 1):
            kind = str(segment[0])
            if kind == "PV1":
                self._visit(segment)
            elif kind == "OBR":
                order_id = _get(segment, 3) or _get(segment, 2) or f"{self.m.control_id}/{index}"
                observed_at, order_note = _get(segment, 7), _joined(notes)
            elif kind == "OBX":
                key = f"{order_id}/{_get(segment, 3)}/{_get(segment, 4) or _get(segment, 1)}"
                self._observation(segment, notes, key, order_id, observed_at, order_note)
            elif kind == "DG1":
                key = f"{self.m.control_id}/DG1/{_get(segment, 1) or index}"
                self._add("condition", key, [segment], _diagnosis(segment))
            elif kind == "AL1":
                key = f"{self.m.control_id}/AL1/{_get(segment, 1) or index}"
                self._add("allergy", key, [segment], _allergy(segment))
            elif kind == "MRG":
                self._merge(segment, index)
        return self.out

    def _add(self, entity: str, key: str, segments: list[hl7.Segment], fields: dict[str, str | None]) -> None:
        self.out.append(
            Record(
                entity=entity,
                key=key,
                fields={
                    **fields,
                    "message_type": self.m.message_type,
                    "message_control_id": self.m.control_id,
                    "message_datetime": self.m.timestamp,
                    "hl7_version": self.m.version,
                },
                payload=self.m.payload(segments),
                locator=f"{self.m.locator}:{entity}:{key}",
                person_id=self.patient_id,
                timestamp=self.m.timestamp,
            )
        )

    def _identifiers(self, segment: hl7.Segment, field_number: int) -> tuple[dict[str, str], list[str]]:
        """The local and national ids in a CX list, plus every id as `value^type^authority`."""
        source = self.m.source
        found: dict[str, str] = {}
        every: list[str] = []
        for rep in range(1, _repetitions(segment, field_number) + 1):
            value, kind = _get(segment, field_number, rep, 1), _get(segment, field_number, rep, 5)
            authority = _get(segment, field_number, rep, 4)
            if not value:
                continue
            every.append(f"{value}^{kind}^{authority}")
            if kind in source.local_id_types:
                role = "local"
            elif kind in source.national_id_types:
                role = "national"
            else:
                role = source.untyped_id_as if not kind else None
            if role == "local" and "local" not in found:
                found.update(local=value, authority=authority)
            elif role == "national" and "national" not in found:
                found.update(national=value, national_type=kind or "untyped")
        return found, every

    def _person(self, pid: hl7.Segment) -> dict[str, str | None]:
        ids, every = self._identifiers(pid, 3)
        return {
            "patient_id": ids.get("local", ""),
            "patient_id_authority": ids.get("authority"),
            "national_id": ids.get("national"),
            "national_id_type": ids.get("national_type"),
            "identifiers": "~".join(every) or None,
            "family_name": _get(pid, 5, 1, 1),
            "given_name": _get(pid, 5, 1, 2),
            "middle_name": _get(pid, 5, 1, 3),
            "birth_date": _get(pid, 7),
            "sex": _get(pid, 8),
            "street": _subcomponents(pid, 11, 1, 1),
            "city": _get(pid, 11, 1, 3),
            "postcode": _get(pid, 11, 1, 5),
            "country": _get(pid, 11, 1, 6),
            "death_datetime": _get(pid, 29),
            "death_indicator": _get(pid, 30),
            "event_type": self.m.event,
            "event_datetime": self.m.event_at,
        }

    def _visit(self, pv1: hl7.Segment) -> None:
        visit, patient_class = _get(pv1, 19), _get(pv1, 2)
        if not visit and patient_class in ("", "N"):
            return  # PV1|1|N: an ADT event without a stay (A08 demographics, A28), no encounter
        self._add(
            "encounter",
            visit or f"{self.m.control_id}/PV1",
            [pv1],
            {
                "visit_number": visit,
                "patient_class": patient_class,
                "location": " ".join(v for v in (_get(pv1, 3, 1, 1), _get(pv1, 3, 1, 4)) if v),
                "admit_datetime": _get(pv1, 44),
                "discharge_datetime": _get(pv1, 45),
            },
        )

    def _observation(
        self,
        obx: hl7.Segment,
        notes: list[hl7.Segment],
        key: str,
        order_id: str,
        observed_at: str,
        order_note: str | None,
    ) -> None:
        common: dict[str, str | None] = {
            "code": _get(obx, 3, 1, 1),
            "display": _get(obx, 3, 1, 2),
            "coding_system": _get(obx, 3, 1, 3),
            "order_id": order_id,
            "observed_at": _get(obx, 14) or observed_at,
            "result_status": _get(obx, 11),
            "note": _joined(notes),
            "order_note": order_note,
        }
        if _get(obx, 2) != "ED":
            values = {
                "value_type": _get(obx, 2),
                "value": _value(obx),
                "unit": _get(obx, 6, 1, 1),
                "reference_range": _get(obx, 7),
                "abnormal_flag": _get(obx, 8),
            }
            self._add("observation", key, [obx, *notes], {**common, **values})
            return
        try:
            document = self._encapsulated(obx)
        except BadAttachment as error:
            self.out.append(
                Rejected(
                    f"{self.m.where} {self.m.control_id}: OBX {key} (type ED): {error}",
                    "hl7.attachment",
                    str(obx)[:2000],
                    f"{self.m.locator}:document:{key}",
                    entity="document",
                    record_id=key,
                    field_name="OBX-5",
                )
            )
            return
        self._add("document", key, [obx, *notes], {**common, **document})

    def _encapsulated(self, obx: hl7.Segment) -> dict[str, str | None]:
        """OBX-5 of type ED (application^type^subtype^encoding^data): bytes to the store."""
        kind, subtype = _get(obx, 5, 1, 2), _get(obx, 5, 1, 3)
        encoding, data = _get(obx, 5, 1, 4), _get(obx, 5, 1, 5)
        if not data:
            raise BadAttachment("OBX-5 carries no data")
        decoders = {
            "BASE64": self.m.attachments.put_base64,
            "HEX": lambda text: self.m.attachments.put(_hex(text)),
            "A": lambda text: self.m.attachments.put(text.encode("utf-8")),
        }
        if encoding.upper() not in decoders:
            raise BadAttachment(f"OBX-5.4 encoding {encoding!r} is not Base64, Hex or A")
        stored = decoders[encoding.upper()](data)
        title = _get(obx, 3, 1, 2) or _get(obx, 3, 1, 1)
        content_type = f"{kind}/{subtype}".lower() if kind and subtype else kind.lower() or None
        return {
            "title": title,
            "content_type": content_type,
            "content": stored.describe(title, content_type),
            "attachment_sha256": stored.sha256,
            "attachment_size": str(stored.size),
        }

    def _merge(self, mrg: hl7.Segment, index: int) -> None:
        """Merge evidence: the surviving id (PID-3) and the prior one (MRG-1, older MRG-4)."""
        prior, every = self._identifiers(mrg, 1)
        self._add(
            "person_merge",
            f"{self.m.control_id}/MRG/{self.number}.{index}",
            [mrg],
            {
                "patient_id": self.patient_id,
                "prior_patient_id": prior.get("local") or _get(mrg, 4) or _get(mrg, 1),
                "prior_national_id": prior.get("national"),
                "prior_identifiers": "~".join(every) or None,
                "prior_account": _get(mrg, 3),
                "prior_visit": _get(mrg, 5),
                "prior_family_name": _get(mrg, 7, 1, 1),
                "prior_given_name": _get(mrg, 7, 1, 2),
                "event_type": self.m.event,
                "merge_datetime": self.m.event_at or self.m.timestamp,
            },
        )


def _with_notes(segments: list[hl7.Segment]) -> list[tuple[hl7.Segment, list[hl7.Segment]]]:
    """Each segment with the NTE segments that note it: an OBX's or an OBR's (ORC's) notes.

    Participation and timing segments (PRT, TQ1, CTD...) may come between a result and
    its notes (v2.7+); any other segment ends the result.
    """
    units: list[tuple[hl7.Segment, list[hl7.Segment]]] = []
    anchor: list[hl7.Segment] | None = None
    for segment in segments:
        kind = str(segment[0])
        if kind == "NTE" and anchor is not None:
            anchor.append(segment)
            continue
        units.append((segment, []))
        if kind in NOTED:
            anchor = units[-1][1]
        elif kind not in BETWEEN_RESULT_AND_NOTES:
            anchor = None
    return units


def _joined(notes: list[hl7.Segment]) -> str | None:
    return "\n".join(_get(n, 3) for n in notes) or None


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as error:
        raise BadAttachment(f"not valid hex ({error})") from error


def _value(obx: hl7.Segment) -> str:
    if _get(obx, 2) == "SN":
        # Structured numeric: comparator^number^separator^number, e.g. <^5 or ^1^:^128.
        values = [
            "".join(_get(obx, 5, rep, c) for c in range(1, 5)) for rep in range(1, _repetitions(obx, 5) + 1)
        ]
    else:
        values = [_get(obx, 5, rep) for rep in range(1, _repetitions(obx, 5) + 1)]
    return "~".join(v for v in values if v)


def _diagnosis(dg1: hl7.Segment) -> dict[str, str | None]:
    return {
        "code": _get(dg1, 3, 1, 1),
        "display": _get(dg1, 3, 1, 2) or _get(dg1, 4),
        "coding_system": _get(dg1, 3, 1, 3) or _get(dg1, 2),
        "diagnosed_at": _get(dg1, 5),
        "diagnosis_type": _get(dg1, 6),
    }


def _allergy(al1: hl7.Segment) -> dict[str, str | None]:
    return {
        "allergen_type": _get(al1, 2),
        "code": _get(al1, 3, 1, 1),
        "display": _get(al1, 3, 1, 2),
        "coding_system": _get(al1, 3, 1, 3),
        "severity": _get(al1, 4),
        "reaction": _get(al1, 5),
        "identified_at": _get(al1, 6),
    }
