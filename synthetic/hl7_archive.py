"""Source hospital-hl7: the predecessor system's HL7 v2.5 archive, 2006-2014
(hospital/hl7/archive_NNN.hl7, at most 500 messages per file, chronological).

Segments end with \\r, messages are separated by \\n, text is UTF-8 with HL7 escapes
(& in a department name is written \\T\\). Every message carries the patient as the
hospital knew them on the message's day: an ADT^A08 follows a move, a marriage, a new
ID number or a death. PID-3 repeats the local PAS_ID (shared with the EPR) and the
national ID.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .catalogue import load
from .clinical import lab_results, position_in_group, reference_range
from .context import Context, SourceResult
from .errors import corrupt_persons
from .hospital import Draws, Stays, diagnoses, draws, icd10_as_written, stays
from .invalid import Target, plant_invalid
from .records import PersonRecords, snapshot
from .tables import Table
from .timeline import DAY, MINUTE, age_years, at_time_of_day, fmt, person_window

SOURCE = "hospital-hl7"
FOLDER = Path("hospital") / "hl7"
MESSAGES_PER_FILE = 500
EXTRA_A08_SHARE = 0.15
FIRST_VISIT = 20_000_001
FIRST_ORDER = 500_000_001
MESSAGE_TYPES = {"A01": "ADT^A01^ADT_A01", "A08": "ADT^A08^ADT_A01", "R01": "ORU^R01^ORU_R01"}

TARGETS = [
    Target(
        "invalid_date", "OBX", "time", "observation", "record_id", ("201102301030", "200913451200"), "OBX-14"
    ),
    Target(
        "bad_number",
        "OBX",
        "value",
        "observation",
        "record_id",
        ("abc",),
        "OBX-5",
        where=("value_type", "NM"),
    ),
    Target("unknown_code", "DG1", "code", "condition", "record_id", ("X99.9",), "DG1-3"),
]


def escape(text: str) -> str:
    """HL7 v2 escape sequences for the delimiters ^~\\&|."""
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: value}, trailing empty fields dropped."""
    values = [""] * (max(fields) + 1)
    values[0] = name
    for number, value in fields.items():
        values[number] = value
    return "|".join(values).rstrip("|")


class _Events:
    """Messages to write: kind, patient row, time, and the stay/draw they report."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, kind: str, owner: np.ndarray, time: np.ndarray, ref: np.ndarray) -> None:
        self.parts.append((kind, owner, time.astype("datetime64[m]"), ref))

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """kind, owner, time, ref of all messages in archive (time) order."""
        kind = np.concatenate([np.full(len(o), k, dtype=object) for k, o, _, _ in self.parts])
        owner = np.concatenate([o for _, o, _, _ in self.parts])
        time = np.concatenate([t for _, _, t, _ in self.parts])
        ref = np.concatenate([r for _, _, _, r in self.parts])
        order = np.lexsort((ref, owner, time))
        return kind[order], owner[order], time[order], ref[order]


def _life_event_updates(
    ctx: Context, person: np.ndarray, first: np.ndarray, end: np.ndarray, events: _Events
) -> None:
    """ADT^A08 after each move, marriage, new fødselsnummer or death that happened
    while the patient was known (after the first contact, inside the window), plus
    some routine demographic updates."""
    rng = ctx.rng(SOURCE, "a08")
    people = ctx.people
    last = (end + DAY).astype("datetime64[m]") - MINUTE
    for when in (people.moved, people.name_changed, people.fnr_assigned):
        day = when[person]
        ok = ~np.isnat(day) & (day.astype("datetime64[m]") > first) & (day <= end)
        owner = np.flatnonzero(ok)
        later = at_time_of_day(rng, day[owner] + rng.integers(0, 21, len(owner)) * DAY, 8, 16, 1)
        events.add("A08", owner, np.minimum(later, last[owner]), np.full(len(owner), -1))
    death = people.death[person]
    died = ~np.isnat(death) & (death.astype("datetime64[m]") > first) & (death <= end)
    owner = np.flatnonzero(died)
    events.add("A08", owner, at_time_of_day(rng, death[owner], 0, 24, 1), np.full(len(owner), -1))
    owner = np.flatnonzero(rng.random(len(person)) < EXTRA_A08_SHARE)
    span = np.maximum((last[owner] - first[owner]).astype(np.int64), 1)
    events.add(
        "A08",
        owner,
        first[owner] + (rng.random(len(owner)) * span).astype(np.int64) * MINUTE,
        np.full(len(owner), -1),
    )


def _dg1_table(ctx: Context, stay: Stays, person: np.ndarray, control_id: list[str]) -> Table:
    """Diagnoses of each stay; record id <MSH-10 of the A01>/DG1/<DG1-1>."""
    rng = ctx.rng(SOURCE, "diagnoses")
    people = ctx.people
    diag = diagnoses(rng, stay, people.birth[person], people.female[person])
    icd = load("icd10_common")
    set_id = position_in_group(diag.stay)
    return Table(
        "DG1",
        {
            "record_id": [
                f"{control_id[s]}/DG1/{n}" for s, n in zip(diag.stay.tolist(), set_id.tolist(), strict=True)
            ],
            "stay": diag.stay.tolist(),
            "set_id": set_id.tolist(),
            "code": icd10_as_written(rng, icd.arr("code")[diag.code], dotted_share=1.0),
            "text": icd.arr("text")[diag.code].tolist(),
            "priority": np.where(diag.main, "1", "2").tolist(),
        },
    )


def _obx_table(ctx: Context, draw: Draws, person: np.ndarray) -> Table:
    """Results of each sample; record id <OBR-3>/<OBX-3.1>/<OBX-1>."""
    people = ctx.people
    who = person[draw.owner]
    results = lab_results(
        ctx.rng(SOURCE, "labs"), age_years(people.birth[who], draw.time), people.female[who]
    )
    labs = load("lab_analyses")
    set_id = position_in_group(results.draw)
    a = results.analysis
    return Table(
        "OBX",
        {
            "record_id": [
                f"{FIRST_ORDER + d}/{code}/{n}"
                for d, code, n in zip(
                    results.draw.tolist(), labs.arr("code")[a].tolist(), set_id.tolist(), strict=True
                )
            ],
            "draw": results.draw.tolist(),
            "set_id": set_id.tolist(),
            "value_type": np.where(results.below_limit, "SN", "NM").tolist(),
            "code": labs.arr("code")[a].tolist(),
            "name": labs.arr("name")[a].tolist(),
            "value": [
                t.replace("<", "<^") if b else t
                for t, b in zip(results.text, results.below_limit.tolist(), strict=True)
            ],
            "unit": labs.arr("unit")[a].tolist(),
            "range": reference_range(a, "{low}-{high}", "<{high}"),
            "flag": results.flag.tolist(),
            "time": fmt(draw.time[results.draw], "hl7_minutes"),
        },
    )


class _Writer:
    """Turns events + tables into message texts."""

    def __init__(self, records: PersonRecords, stay: Stays, draw: Draws, tables: dict[str, Table]) -> None:
        self.records = records
        self.birth = fmt(records.birth, "yyyymmdd")
        self.death = fmt(records.death, "yyyymmdd")
        self.admit = fmt(stay.admit, "hl7_minutes")
        self.discharge = fmt(stay.discharge, "hl7_minutes")
        self.stay = stay
        self.draw_time = fmt(draw.time, "hl7_minutes")
        self.dg1: dict[int, list[str]] = defaultdict(list)
        dg1 = tables["DG1"].columns
        for s, n, code, text, priority in zip(
            dg1["stay"], dg1["set_id"], dg1["code"], dg1["text"], dg1["priority"], strict=True
        ):
            self.dg1[s].append(
                _segment("DG1", {1: str(n), 3: f"{escape(code)}^{escape(text)}^ICD10", 6: "F", 15: priority})
            )
        self.obx: dict[int, list[str]] = defaultdict(list)
        obx = tables["OBX"].columns
        for d, n, vt, code, name, value, unit, ref, flag, time in zip(
            obx["draw"],
            obx["set_id"],
            obx["value_type"],
            obx["code"],
            obx["name"],
            obx["value"],
            obx["unit"],
            obx["range"],
            obx["flag"],
            obx["time"],
            strict=True,
        ):
            self.obx[d].append(
                _segment(
                    "OBX",
                    {
                        1: str(n),
                        2: vt,
                        3: f"{code}^{escape(name)}^NLK",
                        5: value,
                        6: escape(unit),
                        7: ref,
                        8: flag,
                        11: "F",
                        14: time,
                    },
                )
            )

    def pid(self, row: int, pas: str) -> str:
        r = self.records
        ids = f"{pas}^^^STOLAV^PI" + (f"~{r.nid[row]}^^^NOR^NNNOR" if r.nid[row] else "")
        name = "^".join(escape(v) for v in (r.family[row], r.given[row], r.middle[row]))
        fields = {
            1: "1",
            3: ids,
            5: name.rstrip("^"),
            7: self.birth[row],
            8: "F" if r.sex[row] == "K" else "M",
        }
        if not r.confidential[row]:
            fields[11] = f"{escape(r.street[row])}^^{escape(r.poststed[row])}^^{r.postnr[row]}^NOR"
        if self.death[row]:
            fields[29], fields[30] = self.death[row], "Y"
        return _segment("PID", fields)

    def message(self, kind: str, row: int, ref: int, control_id: str, stamp: str) -> str:
        pas = self.records.key[row]
        segments = [
            f"MSH|^~\\&|DIPS|STOLAV|EPJARKIV|STOLAV|{stamp}||{MESSAGE_TYPES[kind]}|"
            f"{control_id}|P|2.5|||||NO|UNICODE UTF-8"
        ]
        if kind == "R01":
            order = str(FIRST_ORDER + ref)
            segments += [
                self.pid(row, pas),
                f"ORC|RE|{ref + 1:08d}|{order}",
                _segment(
                    "OBR",
                    {
                        1: "1",
                        2: f"{ref + 1:08d}",
                        3: order,
                        4: "BIOKJEMI^Medisinsk biokjemi^L",
                        7: self.draw_time[ref],
                    },
                ),
                *self.obx[ref],
            ]
        elif kind == "A01":
            level = self.stay.level[ref]
            segments += [
                f"EVN|A01|{stamp}",
                self.pid(row, pas),
                _segment(
                    "PV1",
                    {
                        1: "1",
                        2: "I" if level == "D" else "O",
                        3: escape(self.stay.department[ref]),
                        19: str(FIRST_VISIT + ref),
                        44: self.admit[ref],
                        45: self.discharge[ref] or "",
                    },
                ),
                *self.dg1[ref],
            ]
        else:
            segments += [f"EVN|A08|{stamp}", self.pid(row, pas), "PV1|1|N"]
        return "\r".join(segments)


def events(ctx: Context) -> tuple[np.ndarray, np.ndarray, Stays, Draws, tuple[np.ndarray, ...]]:
    """The archive's patients (person index, PAS_ID), their stays and samples, and every
    message event (kind, owner row, time, stay/draw ref) in time order."""
    people = ctx.people
    person = np.flatnonzero(ctx.coverage.in_hl7)
    pas = np.array([str(p) for p in ctx.coverage.pas_id[person]], dtype=object)
    start, end = person_window(SOURCE, people.birth[person], people.death[person])
    stay = stays(
        ctx.rng(SOURCE, "stays"),
        people.birth[person],
        people.female[person],
        start,
        end,
        per_year_of_age=1 / 60,
    )
    draw = draws(ctx.rng(SOURCE, "draws"), stay, start, end)
    last = (end + DAY).astype("datetime64[m]") - MINUTE
    first = last.copy()
    np.minimum.at(first, stay.owner, stay.admit)
    np.minimum.at(first, draw.owner, draw.time)

    messages = _Events()
    messages.add("A01", stay.owner, stay.admit, np.arange(len(stay)))
    result_delay = ctx.rng(SOURCE, "results").integers(60, 360, len(draw.owner)) * MINUTE
    messages.add(
        "R01", draw.owner, np.minimum(draw.time + result_delay, last[draw.owner]), np.arange(len(draw.owner))
    )
    _life_event_updates(ctx, person, first, end, messages)
    return person, pas, stay, draw, messages.sorted()


def generate(ctx: Context, out: Path) -> SourceResult:
    """Build, damage and write the HL7 archive."""
    person, pas, stay, draw, (kind, owner, time, ref) = events(ctx)
    records = snapshot(SOURCE, ctx.people, pas[owner], person[owner], time.astype("datetime64[D]"))
    corrupt_persons(ctx, records)
    control_ids = [f"{row + 1:010d}" for row in range(len(kind))]
    control_of_stay = [""] * len(stay)
    for row in np.flatnonzero(kind == "A01").tolist():
        control_of_stay[ref[row]] = control_ids[row]
    tables = {"DG1": _dg1_table(ctx, stay, person, control_of_stay), "OBX": _obx_table(ctx, draw, person)}
    plant_invalid(ctx, SOURCE, tables, TARGETS)

    writer = _Writer(records, stay, draw, tables)
    stamps = fmt(time, "hl7_seconds")
    messages = [
        writer.message(k, row, r, c, s)
        for row, (k, r, c, s) in enumerate(zip(kind.tolist(), ref.tolist(), control_ids, stamps, strict=True))
    ]
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    file_counts = {}
    for number, first_message in enumerate(range(0, len(messages), MESSAGES_PER_FILE), start=1):
        chunk = messages[first_message : first_message + MESSAGES_PER_FILE]
        name = f"archive_{number:03d}.hl7"
        (folder / name).write_text("\n".join(chunk) + "\n", encoding="utf-8", newline="")
        file_counts[f"{(FOLDER / name).as_posix()}"] = len(chunk)
    counts = {
        f"{FOLDER.as_posix()}:DG1": len(tables["DG1"]),
        f"{FOLDER.as_posix()}:OBX": len(tables["OBX"]),
        **file_counts,
    }
    return SourceResult(SOURCE, records.truth(ctx.people), counts)
