"""Source gp-messages: lab result messages the GPs received and archived
(gp/messages/<MsgId>.xml), KITH Svarrapport v1.4 shaped like the Directorate's sample
Svar_biokjemi_v1-4_Ny.xml, one message per file, 2010-2025.

Each message is its own person record (source_person_id = MsgId) with the patient as
the requisition named them on the sampling day. A few messages are corrections
(ServType V="M" DN="Endring", as in the KITH samples) that repeat an earlier message's
result items with the same IdResultItem values, one of them with a new value.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from lxml import etree

from .catalogue import load
from .clinical import lab_flags, lab_results, reference_range
from .context import Context, SourceResult
from .errors import corrupt_persons
from .ids import DNR, FNR
from .invalid import Target, plant_invalid
from .practices import Practices
from .records import PersonRecords, snapshot
from .tables import Table
from .timeline import MINUTE, age_years, at_time_of_day, fmt, person_window, uniform_days
from .xmltools import Namespace

SOURCE = "gp-messages"
FOLDER = Path("gp") / "messages"
NAMESPACE = "http://www.kith.no/xmlstds/labsvar/2012-02-15"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = Namespace(NAMESPACE)
LAB_OID = "2.16.578.1.12.4.1.1.7280"
SPECIMEN_OID = "2.16.578.1.12.4.1.1.8351"
MESSAGE_SHARE = 0.30
CORRECTION_SHARE = 0.04
FIRST_RESULT_ITEM = 100_000_001
ID_TYPES = {FNR: "Fødselsnummer", DNR: "D-nummer"}
DEVIATION = {"H": ("1", "Over øvre referansegrense"), "L": ("2", "Under nedre referansegrense")}
SERV_TYPE = {"N": "Ny", "M": "Endring"}
CORRECTION_COMMENT = "Svarrapporten er endret: ett undersøkelsesresultat er korrigert."

TARGETS = [
    Target(
        "invalid_date",
        "ResultItem",
        "collected",
        "observation",
        "record",
        ("2019-02-30T07:57:00", "2018-13-45T08:10:00"),
        "AnalysedSubject/CollectedSample/CollectedDate@V",
    ),
    Target(
        "unknown_code",
        "ResultItem",
        "code",
        "observation",
        "record",
        ("NPU99999",),
        "ResultItem/Investigation/Id@V",
    ),
    Target(
        "bad_number",
        "ResultItem",
        "value",
        "observation",
        "record",
        ("abc",),
        "ResultItem/NumResult/NumResultValue@V",
    ),
]


class _Messages:
    """Per-message attributes (parallel arrays), originals first, corrections after."""

    def __init__(self, ctx: Context, practices: Practices) -> None:
        rng = ctx.rng(SOURCE, "messages")
        people = ctx.people
        listed = np.flatnonzero(practices.of_person >= 0)
        chosen = listed[rng.random(len(listed)) < MESSAGE_SHARE]
        person = np.repeat(chosen, rng.integers(1, 4, len(chosen)))
        start, end = person_window(SOURCE, people.birth[person], people.death[person])
        collected = at_time_of_day(rng, uniform_days(rng, start, end), 7, 11, 1)
        order = np.lexsort((collected, person))
        person, collected = person[order], collected[order]
        generated = collected + rng.integers(120, 1800, len(person)) * MINUTE
        original = np.flatnonzero(rng.random(len(person)) < CORRECTION_SHARE)
        corrected = generated[original] + rng.integers(1440, 4320, len(original)) * MINUTE
        self.source_of = np.concatenate([np.arange(len(person)), original])
        self.person = person[self.source_of]
        self.collected = collected[self.source_of]
        self.issued = (generated - MINUTE)[self.source_of]
        self.generated = np.concatenate([generated, corrected])
        self.correction = np.arange(len(self.source_of)) >= len(person)
        self.practice = practices.of_person[self.person]
        self.msg_id = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(len(self.source_of))]
        requisition = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(len(person))]
        self.requisition = [requisition[s] for s in self.source_of.tolist()]
        self.provider_report = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(len(person))]
        municipalities = load("municipalities")
        region_of = dict(zip(municipalities.col("kommunenr"), municipalities.col("region"), strict=True))
        providers = load("lab_providers")
        provider_of_region = {
            region: i for i, regions in enumerate(providers.col("regions")) for region in regions.split()
        }
        self.provider = [
            provider_of_region[region_of[practices.kommunenr[p]]] for p in self.practice.tolist()
        ]

    def __len__(self) -> int:
        return len(self.source_of)


def _items(ctx: Context, msgs: _Messages) -> Table:
    """Result items of the originals; corrections repeat them with a new value for the
    first item."""
    rng = ctx.rng(SOURCE, "items")
    people = ctx.people
    originals = np.flatnonzero(~msgs.correction)
    person = msgs.person[originals]
    results = lab_results(
        rng, age_years(people.birth[person], msgs.collected[originals]), people.female[person]
    )
    msg, analysis, value = originals[results.draw], results.analysis, results.value
    item_id = FIRST_RESULT_ITEM + np.arange(len(msg))
    serv_type = np.full(len(msg), "N", dtype=object)

    corrections = np.flatnonzero(msgs.correction)
    first = np.searchsorted(msg, msgs.source_of[corrections], "left")
    after = np.searchsorted(msg, msgs.source_of[corrections], "right")
    copy_rows = np.concatenate(
        [np.arange(a, b) for a, b in zip(first, after, strict=True)] + [np.zeros(0, dtype=np.int64)]
    )
    copy_msg = np.repeat(corrections, after - first)
    copy_value = value[copy_rows].copy()
    copy_type = np.full(len(copy_rows), "N", dtype=object)
    is_changed = np.isin(copy_rows, first)
    copy_value[is_changed] = copy_value[is_changed] * rng.uniform(0.8, 1.2, is_changed.sum())
    copy_type[is_changed] = "M"

    msg = np.concatenate([msg, copy_msg])
    analysis = np.concatenate([analysis, analysis[copy_rows]])
    value = np.concatenate([value, copy_value])
    item_id = np.concatenate([item_id, item_id[copy_rows]])
    serv_type = np.concatenate([serv_type, copy_type])
    labs = load("lab_analyses")
    decimals = labs.num("decimals")[analysis].astype(np.int64)
    text = [f"{v:.{d}f}" for v, d in zip(value.tolist(), decimals.tolist(), strict=True)]
    order = np.lexsort((item_id, msg))
    take = order.tolist()
    flags = lab_flags(analysis, np.array([float(t) for t in text]), np.zeros(len(text), bool))
    references = reference_range(analysis, "{low} - {high}", "< {high}", comma=True)
    return Table(
        "ResultItem",
        {
            "IdResultItem": item_id[order].tolist(),
            "record": [
                f"{msgs.provider_report[msgs.source_of[m]]}/{i}"
                for m, i in zip(msg[order].tolist(), item_id[order].tolist(), strict=True)
            ],
            "msg": msg[order].tolist(),
            "specimen": labs.arr("specimen")[analysis][order].tolist(),
            "specimen_name": labs.arr("specimen_name")[analysis][order].tolist(),
            "collected": fmt(msgs.collected[msg[order]], "iso_seconds"),
            "code": labs.arr("code")[analysis][order].tolist(),
            "name": labs.arr("name")[analysis][order].tolist(),
            "value": [text[i] for i in take],
            "unit": labs.arr("unit")[analysis][order].tolist(),
            "reference": [references[i] for i in take],
            "flag": flags[order].tolist(),
            "serv_type": serv_type[order].tolist(),
        },
    )


def _records(ctx: Context, msgs: _Messages) -> PersonRecords:
    keys = np.array(msgs.msg_id, dtype=object)
    records = snapshot(SOURCE, ctx.people, keys, msgs.person, msgs.collected)
    corrupt_persons(ctx, records)
    return records


class _Writer:
    """One Svarrapport document per message."""

    def __init__(self, msgs: _Messages, records: PersonRecords, items: Table, practices: Practices) -> None:
        self.msgs, self.records, self.practices = msgs, records, practices
        self.generated = fmt(msgs.generated, "iso_seconds")
        self.issued = fmt(msgs.issued, "iso_seconds")
        self.requested = fmt(msgs.collected, "iso")
        self.providers = load("lab_providers")
        columns = items.columns
        self.items_of: dict[int, list[int]] = {}
        for i, m in enumerate(columns["msg"]):
            self.items_of.setdefault(m, []).append(i)
        self.items = columns

    def _patient(self, report: etree._Element, m: int) -> None:
        r, sub = self.records, etree.SubElement
        patient = sub(report, NS["Patient"])
        given = f"{r.given[m]} {r.middle[m]}".strip()
        sub(patient, NS["Name"]).text = f"{r.family[m]}, {given}"
        if r.nid[m]:
            sub(patient, NS["OffId"]).text = r.nid[m]
            sub(patient, NS["TypeOffId"], V=r.nid_type[m], DN=ID_TYPES[r.nid_type[m]])
        rows = self.items_of.get(m, [])
        items = self.items
        subjects: dict[tuple[str, str], str] = {}
        for i in rows:
            key = (items["specimen"][i], items["collected"][i])
            if key in subjects:
                continue
            subjects[key] = str(len(subjects) + 1)
            subject = sub(patient, NS["AnalysedSubject"])
            sub(sub(subject, NS["CollectedSample"]), NS["CollectedDate"], V=key[1])
            sub(subject, NS["TypeCoded"], S=SPECIMEN_OID, V=key[0], DN=items["specimen_name"][i])
            sub(subject, NS["Number"]).text = "1"
            sub(subject, NS["IdByServProvider"]).text = subjects[key]
        for i in rows:
            item = sub(patient, NS["ResultItem"])
            number = sub(sub(item, NS["NumResult"]), NS["NumResultValue"], V=items["value"][i])
            if items["unit"][i]:
                number.set("U", items["unit"][i])
            sub(item, NS["ServType"], V=items["serv_type"][i], DN=SERV_TYPE[items["serv_type"][i]])
            sub(sub(item, NS["RefInterval"]), NS["Descr"]).text = items["reference"][i]
            sub(sub(item, NS["Investigation"]), NS["Id"], V=items["code"][i], S=LAB_OID, DN=items["name"][i])
            if items["flag"][i] in DEVIATION:
                code, text = DEVIATION[items["flag"][i]]
                sub(item, NS["DevResultInd"], V=code, DN=text)
            sub(item, NS["IdResultItem"]).text = str(items["IdResultItem"][i])
            sub(item, NS["StatusInvestigation"], V="3", DN="Endelig")
            sub(item, NS["RefAnalysedSubject"]).text = subjects[(items["specimen"][i], items["collected"][i])]
            sub(item, NS["Accredited"], V="false")

    def _hcp(self, parent: etree._Element, name: str, herid: str) -> etree._Element:
        sub = etree.SubElement
        inst = sub(sub(parent, NS["HCP"]), NS["Inst"])
        sub(inst, NS["Name"]).text = name
        sub(inst, NS["Id"]).text = herid
        sub(inst, NS["TypeId"], V="HER", DN="HER-id")
        return inst

    def document(self, m: int) -> etree._ElementTree:
        msgs, sub = self.msgs, etree.SubElement
        root = etree.Element(NS["Message"], nsmap={None: NAMESPACE, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", f"{NAMESPACE} svar-v1.4.xsd")
        sub(root, NS["Type"], V="SVAR_LAB", DN="Svarrapport-Laboratoriemedisin")
        sub(root, NS["MIGversion"]).text = "v1.4 2012-02-15"
        sub(root, NS["GenDate"], V=self.generated[m])
        sub(root, NS["MsgId"]).text = msgs.msg_id[m]
        report = sub(root, NS["ServReport"])
        serv_type = "M" if msgs.correction[m] else "N"
        sub(report, NS["ServType"], V=serv_type, DN=SERV_TYPE[serv_type])
        sub(report, NS["IssueDate"], V=self.issued[m])
        sub(report, NS["Status"], V="F", DN="Endelig rapport")
        sub(report, NS["MsgDescr"], V="CLIN", DN="Medisinsk biokjemi")
        sub(report, NS["ServProvId"]).text = msgs.provider_report[msgs.source_of[m]]
        if msgs.correction[m]:
            sub(report, NS["Comment"]).text = CORRECTION_COMMENT
        requisition = sub(report, NS["ServReq"])
        sub(requisition, NS["IssueDate"], V=self.requested[m])
        sub(requisition, NS["Id"]).text = msgs.requisition[m]
        self._patient(report, m)
        provider = self.providers.rows[msgs.provider[m]]
        inst = self._hcp(sub(report, NS["ServProvider"]), provider["name"], provider["herid"])
        dept = sub(inst, NS["Dept"])
        sub(dept, NS["Name"]).text = provider["department"]
        sub(dept, NS["Id"]).text = provider["department_herid"]
        sub(dept, NS["TypeId"], V="HER", DN="HER-id")
        requester = sub(report, NS["Requester"])
        sub(requester, NS["ComMethod"], V="EDI", DN="EDI")
        practice = int(msgs.practice[m])
        self._hcp(requester, self.practices.name[practice], self.practices.herid[practice])
        return etree.ElementTree(root)


def generate(ctx: Context, out: Path, practices: Practices) -> SourceResult:
    """Build, damage and write the archived lab messages."""
    msgs = _Messages(ctx, practices)
    records = _records(ctx, msgs)
    items = _items(ctx, msgs)
    plant_invalid(ctx, SOURCE, {"ResultItem": items}, TARGETS)
    writer = _Writer(msgs, records, items, practices)
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for m in range(len(msgs)):
        writer.document(m).write(
            str(folder / f"{msgs.msg_id[m]}.xml"), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
    counts = {FOLDER.as_posix(): len(msgs), f"{FOLDER.as_posix()}:ResultItem": len(items)}
    return SourceResult(SOURCE, records.truth(ctx.people), counts)
