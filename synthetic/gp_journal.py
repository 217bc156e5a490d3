"""Source gp-journal: one journal export per GP practice (gp/journal/<slug>.xml),
2010-2025, in an invented KITH-style format (coded values as V/DN/S attributes).

Layout: JournalExport (namespace NAMESPACE) > Practice (Name, HerId), then one Patient
per listed patient: LocalId, Ident (absent without national ID), FamilyName, GivenName,
MiddleName?, DateOfBirth, Sex, Address, DeceasedDate?, ConfidentialAddress?, then
Consultation*, Prescription*, Allergy*.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
from lxml import etree

from .catalogue import load
from .clinical import allergy_picks, counts, note_texts, owners, pick_codes, pick_for_age
from .context import Context, SourceResult
from .errors import add_duplicates, corrupt_persons
from .ids import DNR, FNR, HNR, draw
from .invalid import Target, plant_invalid
from .practices import Practices
from .records import PersonRecords, snapshot
from .tables import Table
from .timeline import REFERENCE_DATE, age_years, at_time_of_day, fmt, person_window, uniform_days
from .xmltools import Namespace

SOURCE = "gp-journal"
FOLDER = Path("gp") / "journal"
NAMESPACE = "urn:enjournal:synthetic:gp-journal-export:1.0"
NS = Namespace(NAMESPACE)
OID = "2.16.578.1.12.4.1.1."
ID_TYPES = {FNR: "Fødselsnummer", DNR: "D-nummer", HNR: "H-nummer"}
SEX = {"M": ("1", "Mann"), "K": ("2", "Kvinne")}

TARGETS = [
    Target(
        "invalid_date",
        "Consultation",
        "date",
        "encounter",
        "id",
        ("2019-02-31T10:00:00", "2018-13-45T09:15:00"),
        "Consultation/Date@V",
    ),
    Target(
        "invalid_date", "Prescription", "date", "medication", "id", ("2019-02-30",), "Prescription/Date@V"
    ),
    Target(
        "unknown_code",
        "Consultation",
        "code",
        "condition",
        "id",
        ("Z99",),
        "Consultation/Diagnosis/Concept@V",
    ),
    Target(
        "unknown_code",
        "Prescription",
        "atc",
        "medication",
        "id",
        ("ZZ99ZZ99",),
        "Prescription/Drug/Concept@V",
    ),
]


def _patients(ctx: Context, practices: Practices) -> PersonRecords:
    """Listed patients as registered today; LocalId = <practice code>-<number>."""
    rng = ctx.rng(SOURCE, "order")
    person = np.flatnonzero(practices.of_person >= 0)
    person = person[rng.permutation(len(person))]
    practice = practices.of_person[person]
    person = person[np.argsort(practice, kind="stable")]
    practice = practices.of_person[person]
    number = np.arange(len(person)) - np.searchsorted(practice, practice) + 1
    keys = np.array(
        [f"{practices.code[p]}-{n:06d}" for p, n in zip(practice, number, strict=True)], dtype=object
    )
    records = snapshot(SOURCE, ctx.people, keys, person, np.full(len(person), REFERENCE_DATE))
    next_number = {
        code: itertools.count(int((practice == i).sum()) + 1) for i, code in enumerate(practices.code)
    }

    def duplicate_key(row: int) -> str:
        code = records.key[row].split("-")[0]
        return f"{code}-{next(next_number[code]):06d}"

    records = add_duplicates(ctx, records, duplicate_key)
    _help_numbers(ctx, records)
    corrupt_persons(ctx, records)
    return records


def _help_numbers(ctx: Context, records: PersonRecords) -> None:
    """Duplicates registered without national ID got a local H-number from the
    practice system half of the time (valid only inside that practice)."""
    rows = np.flatnonzero((records.nid == "") & (ctx.rng(SOURCE, "hnr").random(len(records)) < 0.5))
    if len(rows):
        taken = set(ctx.people.fnr.tolist()) | set(ctx.people.dnr.tolist())
        records.nid[rows] = draw(
            ctx.rng(SOURCE, "hnr-draw"), records.birth[rows], records.sex[rows] == "M", HNR, taken
        )
        records.nid_type[rows] = HNR
        for row in rows.tolist():
            ctx.log.add(
                "id_help_number",
                SOURCE,
                "person",
                records.key[row],
                "nid",
                records.nid[row],
                "registered without national ID; the practice system gave a local H-number",
            )


def _ids(practice_code: list[str], prefix: str) -> list[str]:
    return [f"{code}-{prefix}{i + 1:07d}" for i, code in enumerate(practice_code)]


def _consultations(
    ctx: Context, records: PersonRecords, start: np.ndarray, end: np.ndarray, code: list[str]
) -> Table:
    rng = ctx.rng(SOURCE, "consultations")
    people = ctx.people
    person = records.person
    age_now = age_years(people.birth[person], end)
    owner = owners(counts(rng, 1 + age_now / 25, cap=30))
    when = at_time_of_day(rng, uniform_days(rng, start[owner], end[owner]), 8, 16, 15)
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    icpc = load("icpc2_common")
    diagnosis = pick_codes(
        rng, "icpc2_common", age_years(people.birth[person[owner]], when), people.female[person[owner]]
    )
    _, notes = note_texts(rng, "gp", len(owner))
    return Table(
        "Consultation",
        {
            "id": _ids([code[o] for o in owner.tolist()], "K"),
            "owner": owner.tolist(),
            "date": fmt(when, "iso_seconds"),
            "code": icpc.arr("code")[diagnosis].tolist(),
            "text": icpc.arr("text")[diagnosis].tolist(),
            "note": notes,
        },
    )


def _prescriptions(
    ctx: Context, records: PersonRecords, start: np.ndarray, end: np.ndarray, code: list[str]
) -> Table:
    rng = ctx.rng(SOURCE, "prescriptions")
    age_now = age_years(ctx.people.birth[records.person], end)
    owner = owners(counts(rng, age_now / 30, cap=12))
    drugs = load("drugs")
    drug = pick_for_age(rng, drugs, age_now[owner])
    day = uniform_days(rng, start[owner], end[owner])
    order = np.lexsort((day, owner))
    owner, day, drug = owner[order], day[order], drug[order]
    return Table(
        "Prescription",
        {
            "id": _ids([code[o] for o in owner.tolist()], "R"),
            "owner": owner.tolist(),
            "date": fmt(day, "iso"),
            "atc": drugs.arr("atc")[drug].tolist(),
            "name": drugs.arr("name")[drug].tolist(),
            "dosage": drugs.arr("dosage")[drug].tolist(),
        },
    )


def _allergies(
    ctx: Context, records: PersonRecords, start: np.ndarray, end: np.ndarray, code: list[str]
) -> Table:
    rng = ctx.rng(SOURCE, "allergies")
    owner = owners(counts(rng, np.full(len(records), 0.12), cap=3))
    substance, reaction = allergy_picks(rng, len(owner))
    allergens, reactions = load("allergens"), load("allergy_reactions")
    return Table(
        "Allergy",
        {
            "id": _ids([code[o] for o in owner.tolist()], "A"),
            "owner": owner.tolist(),
            "date": fmt(uniform_days(rng, start[owner], end[owner]), "iso"),
            "atc": allergens.arr("atc")[substance].tolist(),
            "substance": allergens.arr("substance")[substance].tolist(),
            "reaction": reactions.arr("reaction")[reaction].tolist(),
        },
    )


ENTRIES = (
    ("Consultation", "Diagnosis", "7170", "Note", ("id", "date", "code", "text", "note")),
    ("Prescription", "Drug", "7180", "Dosage", ("id", "date", "atc", "name", "dosage")),
    ("Allergy", "Substance", "7180", "Reaction", ("id", "date", "atc", "substance", "reaction")),
)
"""Clinical entries per patient: element, coded child, Volven code system of its
Concept, free-text child, and the table columns (Id, date, code, code text, free text)."""


class _Writer:
    """Patient elements of one practice file."""

    def __init__(self, records: PersonRecords, tables: dict[str, Table]) -> None:
        self.records = records
        self.birth = fmt(records.birth, "iso")
        self.death = fmt(records.death, "iso")
        self.kommune = dict(
            zip(load("municipalities").col("kommunenr"), load("municipalities").col("name"), strict=True)
        )
        self.entries: list[tuple[str, str, str, str, dict[int, list[tuple[str, ...]]]]] = []
        for element, coded, oid, free, columns in ENTRIES:
            table = tables[element]
            by_owner: dict[int, list[tuple[str, ...]]] = defaultdict(list)
            for owner, *values in zip(
                table.columns["owner"], *(table.columns[c] for c in columns), strict=True
            ):
                by_owner[owner].append(tuple(values))
            self.entries.append((NS[element], NS[coded], OID + oid, NS[free], by_owner))

    def patient(self, parent: etree._Element, row: int) -> None:
        r, sub = self.records, etree.SubElement
        patient = sub(parent, NS["Patient"])
        sub(patient, NS["LocalId"]).text = r.key[row]
        if r.nid[row]:
            ident = sub(patient, NS["Ident"])
            sub(ident, NS["Id"]).text = r.nid[row]
            sub(ident, NS["TypeId"], V=r.nid_type[row], DN=ID_TYPES[r.nid_type[row]], S=OID + "8116")
        sub(patient, NS["FamilyName"]).text = r.family[row]
        sub(patient, NS["GivenName"]).text = r.given[row]
        if r.middle[row]:
            sub(patient, NS["MiddleName"]).text = r.middle[row]
        sub(patient, NS["DateOfBirth"], V=self.birth[row])
        value, text = SEX[r.sex[row]]
        sub(patient, NS["Sex"], V=value, DN=text, S=OID + "3101")
        address = sub(patient, NS["Address"])
        sub(address, NS["Type"], V="H", DN="Bostedsadresse")
        sub(address, NS["StreetAdr"]).text = r.street[row]
        sub(address, NS["PostalCode"]).text = r.postnr[row]
        sub(address, NS["City"]).text = r.poststed[row]
        sub(address, NS["County"], V=r.kommunenr[row], DN=self.kommune[r.kommunenr[row]], S=OID + "3402")
        if self.death[row]:
            sub(patient, NS["DeceasedDate"], V=self.death[row])
        if r.confidential[row]:
            sub(patient, NS["ConfidentialAddress"], V="true")
        date, concept = NS["Date"], NS["Concept"]
        for element, coded, oid, free, by_owner in self.entries:
            for entry_id, when, code, code_text, free_text in by_owner.get(row, ()):
                entry = sub(patient, element, Id=entry_id)
                sub(entry, date, V=when)
                sub(sub(entry, coded), concept, V=code, DN=code_text, S=oid)
                sub(entry, free).text = free_text


def generate(ctx: Context, out: Path, practices: Practices) -> SourceResult:
    """Build, damage and write one export file per practice."""
    records = _patients(ctx, practices)
    people = ctx.people
    start, end = person_window(SOURCE, people.birth[records.person], people.death[records.person])
    code = [k.split("-")[0] for k in records.key.tolist()]
    tables = {
        "Consultation": _consultations(ctx, records, start, end, code),
        "Prescription": _prescriptions(ctx, records, start, end, code),
        "Allergy": _allergies(ctx, records, start, end, code),
    }
    plant_invalid(ctx, SOURCE, tables, TARGETS)
    writer = _Writer(records, tables)
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row in np.argsort(records.key.astype(str), kind="stable").tolist():
        rows_of[code[row]].append(row)
    counts_out = {f"{FOLDER.as_posix()}:{name}": len(t) for name, t in tables.items()}
    for i, practice in enumerate(practices.code):
        root = etree.Element(NS["JournalExport"], nsmap={None: NAMESPACE})
        info = etree.SubElement(root, NS["Practice"])
        etree.SubElement(info, NS["Name"]).text = practices.name[i]
        etree.SubElement(info, NS["HerId"]).text = practices.herid[i]
        for row in rows_of.get(practice, []):
            writer.patient(root, row)
        path = folder / f"{practices.slug[i]}.xml"
        etree.ElementTree(root).write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)
        counts_out[(FOLDER / path.name).as_posix()] = len(rows_of.get(practice, []))
    return SourceResult(SOURCE, records.truth(people), counts_out)
