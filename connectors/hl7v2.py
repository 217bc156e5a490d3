"""HL7 v2 message archives (v2.3-2.8): ADT → person/encounter, ORU → observations, and more.

Files are split into messages by streaming over segment separators (CR, LF or CRLF;
MLLP framing bytes and FHS/BHS batch envelopes are dropped), so archives of any size
pass in bounded memory. Each message is decoded with the charset its MSH-18 names,
checked for escape sequences python-hl7 would silently drop, and split with the
separators of its MSH-1/MSH-2 (python-hl7 reads them and resolves escapes: `\\T\\` → `&`).

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
from typing import TYPE_CHECKING, BinaryIO, Literal

from hl7.parser import create_parse_plan
from hl7.util import unescape
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

if TYPE_CHECKING:
    from hl7.parser import _ParsePlan

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
    return Hl7Message(text, locator, where, source, attachments).items()


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


class Segment:
    """One segment, split into its fields once; a field's repetitions, components and
    subcomponents are split only when a value is read.

    python-hl7's parser builds a container for every component of every segment, most of
    which nothing reads: it was two thirds of extracting an HL7 archive. A value reads as
    python-hl7's `extract_field` reads it ('' where that raises for a short path; the tests
    hold the two to each other), escapes resolved by python-hl7's `unescape`.
    """

    __slots__ = ("fields", "line", "name", "_plan", "_shift")

    def __init__(self, line: str, plan: _ParsePlan) -> None:
        self.line = line
        self.fields = line.split(plan.separators[1])
        self.name = self.fields[0]
        self._plan = plan
        # MSH-1 is the field separator itself: MSH-n is the (n-1)th value after the name.
        self._shift = 1 if self.name == "MSH" else 0

    def get(self, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
        """A value by position (1-based, as HL7 counts), '' when absent."""
        if self._shift and field <= 2:
            raw = self._plan.separators[1] if field == 1 else self.fields[1]
            return raw.strip() if rep == comp == sub == 1 else ""
        index = field - self._shift
        if index >= len(self.fields):
            return ""
        value = self.fields[index]
        separators = self._plan.separators
        for number, separator in ((rep, separators[2]), (comp, separators[3]), (sub, separators[4])):
            if separator in value:
                parts = value.split(separator)
                if number > len(parts):
                    return ""
                value = parts[number - 1]
            elif number > 1:
                return ""
        return unescape(self._plan, value).strip()

    def repetitions(self, field: int) -> int:
        index = field - self._shift
        return len(self.fields[index].split(self._plan.separators[2])) if index < len(self.fields) else 0

    def subcomponents(self, field: int, rep: int, comp: int) -> str:
        """All subcomponents of a component, joined (an address line is `1000&Hospital Lane`)."""
        parts = [self.get(field, rep, comp, sub) for sub in range(1, 6)]
        return " ".join(p for p in parts if p)


class Hl7Message:
    """One parsed message turned into staging records, one patient (PID) group at a time."""

    def __init__(
        self, text: str, locator: str, where: str, source: Hl7Source, attachments: AttachmentStore
    ) -> None:
        self.text = text.strip()
        plan = create_parse_plan(self.text)
        self.segments = [Segment(line, plan) for line in self.text.split("\r")]
        self.locator = locator
        self.where = where
        self.source = source
        self.attachments = attachments
        msh = self.segments[0]
        self.control_id = msh.get(10)
        self.timestamp = msh.get(7)
        self.event = msh.get(9, 1, 2)
        self.message_type = "^".join(v for v in (msh.get(9, 1, 1), self.event) if v)
        self.version = msh.get(12)
        evn = next((s for s in self.segments if s.name == "EVN"), None)
        self.event_at = (evn.get(2) or evn.get(6)) if evn is not None else ""

    def payload(self, segments: list[Segment]) -> str:
        """A record's payload: its segments as the source wrote them."""
        return "\r".join(s.line for s in segments)

    def items(self) -> list[Item]:
        segments = self.segments
        starts = [i for i, s in enumerate(segments) if s.name == "PID"]
        if not starts:
            return [
                Rejected(
                    f"{self.where} {self.control_id or '?'} ({self.message_type}): no PID segment, "
                    "the patient is unknown",
                    "hl7.no_pid",
                    self.text + "\r",
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

    def __init__(self, message: Hl7Message, segments: list[Segment], number: int) -> None:
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
                    value=pid.get(3),
                )
            ]
        units = _with_notes(self.segments[1:])
        unhandled = {s.name for s, _ in units} - self.HANDLED
        person["unhandled_segments"] = ",".join(sorted(unhandled)) or None
        self._add("person", self.patient_id, [pid], person)
        order_id, order_note, observed_at = self.m.control_id, None, ""
        for index, (segment, notes) in enumerate(units, 1):
            kind = segment.name
            if kind == "PV1":
                self._visit(segment)
            elif kind == "OBR":
                order_id = segment.get(3) or segment.get(2) or f"{self.m.control_id}/{index}"
                observed_at, order_note = segment.get(7), _joined(notes)
            elif kind == "OBX":
                key = f"{order_id}/{segment.get(3)}/{segment.get(4) or segment.get(1)}"
                self._observation(segment, notes, key, order_id, observed_at, order_note)
            elif kind == "DG1":
                key = f"{self.m.control_id}/DG1/{segment.get(1) or index}"
                self._add("condition", key, [segment], _diagnosis(segment))
            elif kind == "AL1":
                key = f"{self.m.control_id}/AL1/{segment.get(1) or index}"
                self._add("allergy", key, [segment], _allergy(segment))
            elif kind == "MRG":
                self._merge(segment, index)
        return self.out

    def _add(self, entity: str, key: str, segments: list[Segment], fields: dict[str, str | None]) -> None:
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

    def _identifiers(self, segment: Segment, field_number: int) -> tuple[dict[str, str], list[str]]:
        """The local and national ids in a CX list, plus every id as `value^type^authority`."""
        source = self.m.source
        found: dict[str, str] = {}
        every: list[str] = []
        for rep in range(1, segment.repetitions(field_number) + 1):
            value, kind = segment.get(field_number, rep, 1), segment.get(field_number, rep, 5)
            authority = segment.get(field_number, rep, 4)
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

    def _person(self, pid: Segment) -> dict[str, str | None]:
        ids, every = self._identifiers(pid, 3)
        return {
            "patient_id": ids.get("local", ""),
            "patient_id_authority": ids.get("authority"),
            "national_id": ids.get("national"),
            "national_id_type": ids.get("national_type"),
            "identifiers": "~".join(every) or None,
            "family_name": pid.get(5, 1, 1),
            "given_name": pid.get(5, 1, 2),
            "middle_name": pid.get(5, 1, 3),
            "birth_date": pid.get(7),
            "sex": pid.get(8),
            "street": pid.subcomponents(11, 1, 1),
            "city": pid.get(11, 1, 3),
            "postcode": pid.get(11, 1, 5),
            "country": pid.get(11, 1, 6),
            "death_datetime": pid.get(29),
            "death_indicator": pid.get(30),
            "event_type": self.m.event,
            "event_datetime": self.m.event_at,
        }

    def _visit(self, pv1: Segment) -> None:
        visit, patient_class = pv1.get(19), pv1.get(2)
        if not visit and patient_class in ("", "N"):
            return  # PV1|1|N: an ADT event without a stay (A08 demographics, A28), no encounter
        self._add(
            "encounter",
            visit or f"{self.m.control_id}/PV1",
            [pv1],
            {
                "visit_number": visit,
                "patient_class": patient_class,
                "location": " ".join(v for v in (pv1.get(3, 1, 1), pv1.get(3, 1, 4)) if v),
                "admit_datetime": pv1.get(44),
                "discharge_datetime": pv1.get(45),
            },
        )

    def _observation(
        self,
        obx: Segment,
        notes: list[Segment],
        key: str,
        order_id: str,
        observed_at: str,
        order_note: str | None,
    ) -> None:
        common: dict[str, str | None] = {
            "code": obx.get(3, 1, 1),
            "display": obx.get(3, 1, 2),
            "coding_system": obx.get(3, 1, 3),
            "order_id": order_id,
            "observed_at": obx.get(14) or observed_at,
            "result_status": obx.get(11),
            "note": _joined(notes),
            "order_note": order_note,
        }
        if obx.get(2) != "ED":
            values = {
                "value_type": obx.get(2),
                "value": _value(obx),
                "unit": obx.get(6, 1, 1),
                "reference_range": obx.get(7),
                "abnormal_flag": obx.get(8),
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

    def _encapsulated(self, obx: Segment) -> dict[str, str | None]:
        """OBX-5 of type ED (application^type^subtype^encoding^data): bytes to the store."""
        kind, subtype = obx.get(5, 1, 2), obx.get(5, 1, 3)
        encoding, data = obx.get(5, 1, 4), obx.get(5, 1, 5)
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
        title = obx.get(3, 1, 2) or obx.get(3, 1, 1)
        content_type = f"{kind}/{subtype}".lower() if kind and subtype else kind.lower() or None
        return {
            "title": title,
            "content_type": content_type,
            "content": stored.describe(title, content_type),
            "attachment_sha256": stored.sha256,
            "attachment_size": str(stored.size),
        }

    def _merge(self, mrg: Segment, index: int) -> None:
        """Merge evidence: the surviving id (PID-3) and the prior one (MRG-1, older MRG-4)."""
        prior, every = self._identifiers(mrg, 1)
        self._add(
            "person_merge",
            f"{self.m.control_id}/MRG/{self.number}.{index}",
            [mrg],
            {
                "patient_id": self.patient_id,
                "prior_patient_id": prior.get("local") or mrg.get(4) or mrg.get(1),
                "prior_national_id": prior.get("national"),
                "prior_identifiers": "~".join(every) or None,
                "prior_account": mrg.get(3),
                "prior_visit": mrg.get(5),
                "prior_family_name": mrg.get(7, 1, 1),
                "prior_given_name": mrg.get(7, 1, 2),
                "event_type": self.m.event,
                "merge_datetime": self.m.event_at or self.m.timestamp,
            },
        )


def _with_notes(segments: list[Segment]) -> list[tuple[Segment, list[Segment]]]:
    """Each segment with the NTE segments that note it: an OBX's or an OBR's (ORC's) notes.

    Participation and timing segments (PRT, TQ1, CTD...) may come between a result and
    its notes (v2.7+); any other segment ends the result.
    """
    units: list[tuple[Segment, list[Segment]]] = []
    anchor: list[Segment] | None = None
    for segment in segments:
        kind = segment.name
        if kind == "NTE" and anchor is not None:
            anchor.append(segment)
            continue
        units.append((segment, []))
        if kind in NOTED:
            anchor = units[-1][1]
        elif kind not in BETWEEN_RESULT_AND_NOTES:
            anchor = None
    return units


def _joined(notes: list[Segment]) -> str | None:
    return "\n".join(n.get(3) for n in notes) or None


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as error:
        raise BadAttachment(f"not valid hex ({error})") from error


def _value(obx: Segment) -> str:
    if obx.get(2) == "SN":
        # Structured numeric: comparator^number^separator^number, e.g. <^5 or ^1^:^128.
        values = [
            "".join(obx.get(5, rep, c) for c in range(1, 5)) for rep in range(1, obx.repetitions(5) + 1)
        ]
    else:
        values = [obx.get(5, rep) for rep in range(1, obx.repetitions(5) + 1)]
    return "~".join(v for v in values if v)


def _diagnosis(dg1: Segment) -> dict[str, str | None]:
    return {
        "code": dg1.get(3, 1, 1),
        "display": dg1.get(3, 1, 2) or dg1.get(4),
        "coding_system": dg1.get(3, 1, 3) or dg1.get(2),
        "diagnosed_at": dg1.get(5),
        "diagnosis_type": dg1.get(6),
    }


def _allergy(al1: Segment) -> dict[str, str | None]:
    return {
        "allergen_type": al1.get(2),
        "code": al1.get(3, 1, 1),
        "display": al1.get(3, 1, 2),
        "coding_system": al1.get(3, 1, 3),
        "severity": al1.get(4),
        "reaction": al1.get(5),
        "identified_at": al1.get(6),
    }
