"""Source hospital-epr: the hospital's legacy EPR as a SQLite database
(hospital/epr.sqlite), data 2015-2025, upper-case names, dates as TEXT.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np

from .catalogue import load
from .clinical import allergy_picks, counts, lab_results, owners, pick_for_age
from .context import Context, SourceResult
from .errors import add_duplicates, corrupt_persons
from .hospital import Draws, Stays, diagnoses, draws, icd10_as_written, stays
from .invalid import OrphanTarget, Target, plant_invalid
from .records import PersonRecords, snapshot
from .tables import Table
from .timeline import DAY, REFERENCE_DATE, WINDOWS, age_years, fmt, person_window, uniform_days

SOURCE = "hospital-epr"
PATH = Path("hospital") / "epr.sqlite"
MISSING_PAS_ID = 9_000_001
"""First PAS_ID used by orphan rows: above every real patient number."""

SCHEMA = {
    "PASIENT": "PAS_ID INTEGER PRIMARY KEY, FNR TEXT NULL, ETTERNAVN TEXT, FORNAVN TEXT, "
    "FODT TEXT, KJONN TEXT, ADRESSE TEXT, POSTNR TEXT, POSTSTED TEXT, "
    "DOD_DATO TEXT NULL, SPERRET INTEGER, REG_DATO TEXT",
    "INNLEGGELSE": "INN_ID INTEGER PRIMARY KEY, PAS_ID INTEGER, INN_DATO TEXT, "
    "UT_DATO TEXT NULL, AVDELING TEXT, OMSORGSNIVA TEXT",
    "DIAGNOSE": "DIAG_ID INTEGER PRIMARY KEY, INN_ID INTEGER, PAS_ID INTEGER, ICD10 TEXT, "
    "DIAG_TYPE TEXT, TEKST TEXT",
    "LABSVAR": "LAB_ID INTEGER PRIMARY KEY, PAS_ID INTEGER, INN_ID INTEGER NULL, "
    "PROVE_TID TEXT, ANALYSE_KODE TEXT, ANALYSE_NAVN TEXT, VERDI TEXT, ENHET TEXT, "
    "REF_LAV TEXT NULL, REF_HOY TEXT NULL",
    "LEGEMIDDEL": "LM_ID INTEGER PRIMARY KEY, PAS_ID INTEGER, ATC TEXT, PREPARAT TEXT, "
    "DOSERING TEXT, START_DATO TEXT, SLUTT_DATO TEXT NULL",
    "ALLERGI": "ALLERGI_ID INTEGER PRIMARY KEY, PAS_ID INTEGER, SUBSTANS_ATC TEXT, "
    "SUBSTANS TEXT, REAKSJON TEXT, REG_DATO TEXT",
}

TARGETS = [
    Target(
        "invalid_date",
        "LABSVAR",
        "PROVE_TID",
        "observation",
        "LAB_ID",
        ("2019-13-45 08:15", "2021-02-30 10:00"),
        "LABSVAR.PROVE_TID",
    ),
    Target(
        "invalid_date",
        "LEGEMIDDEL",
        "START_DATO",
        "medication",
        "LM_ID",
        ("20190231", "20171345"),
        "LEGEMIDDEL.START_DATO",
    ),
    Target("invalid_date", "ALLERGI", "REG_DATO", "allergy", "ALLERGI_ID", ("20180230",), "ALLERGI.REG_DATO"),
    Target("unknown_code", "DIAGNOSE", "ICD10", "condition", "DIAG_ID", ("X999", "X99.9"), "DIAGNOSE.ICD10"),
    Target("unknown_code", "LEGEMIDDEL", "ATC", "medication", "LM_ID", ("ZZ99ZZ99",), "LEGEMIDDEL.ATC"),
    Target("bad_number", "LABSVAR", "VERDI", "observation", "LAB_ID", ("abc",), "LABSVAR.VERDI"),
]
ORPHANS = [
    OrphanTarget("LABSVAR", "PAS_ID", "observation", "LAB_ID", "LABSVAR.PAS_ID", clear=("INN_ID",)),
    OrphanTarget("LEGEMIDDEL", "PAS_ID", "medication", "LM_ID", "LEGEMIDDEL.PAS_ID"),
]


def _patients(ctx: Context) -> PersonRecords:
    """EPR patient records (names in upper case, as the EPR stores them), with
    duplicate registrations and person errors planted."""
    person = np.flatnonzero(ctx.coverage.in_epr)
    person = person[np.argsort(ctx.coverage.pas_id[person])]
    keys = np.array([str(p) for p in ctx.coverage.pas_id[person]], dtype=object)
    records = snapshot(SOURCE, ctx.people, keys, person, np.full(len(person), REFERENCE_DATE))
    for name in ("family", "given", "middle"):
        setattr(records, name, np.array([v.upper() for v in getattr(records, name)], dtype=object))
    next_id = itertools.count(int(ctx.coverage.pas_id.max(initial=0)) + 1)
    records = add_duplicates(ctx, records, lambda row: str(next(next_id)))
    corrupt_persons(ctx, records)
    return records


def _ids(n: int) -> list[int]:
    return list(range(1, n + 1))


def _admissions(stay: Stays, pas: list[int]) -> Table:
    return Table(
        "INNLEGGELSE",
        {
            "INN_ID": _ids(len(stay)),
            "PAS_ID": [pas[o] for o in stay.owner.tolist()],
            "INN_DATO": fmt(stay.admit, "iso_time"),
            "UT_DATO": fmt(stay.discharge, "iso_time"),
            "AVDELING": stay.department.tolist(),
            "OMSORGSNIVA": stay.level.tolist(),
        },
    )


def _diagnoses(ctx: Context, stay: Stays, pas: list[int], records: PersonRecords) -> Table:
    rng = ctx.rng(SOURCE, "diagnoses")
    people = ctx.people
    diag = diagnoses(rng, stay, people.birth[records.person], people.female[records.person])
    icd = load("icd10_common")
    return Table(
        "DIAGNOSE",
        {
            "DIAG_ID": _ids(len(diag.stay)),
            "INN_ID": (diag.stay + 1).tolist(),
            "PAS_ID": [pas[o] for o in stay.owner[diag.stay].tolist()],
            "ICD10": icd10_as_written(rng, icd.arr("code")[diag.code], dotted_share=0.5),
            "DIAG_TYPE": np.where(diag.main, "H", "B").tolist(),
            "TEKST": icd.arr("text")[diag.code].tolist(),
        },
    )


def _labs(ctx: Context, draw: Draws, pas: list[int], records: PersonRecords) -> Table:
    people = ctx.people
    person = records.person[draw.owner]
    results = lab_results(
        ctx.rng(SOURCE, "labs"), age_years(people.birth[person], draw.time), people.female[person]
    )
    labs = load("lab_analyses")
    a = results.analysis
    stay_of = draw.stay[results.draw]
    return Table(
        "LABSVAR",
        {
            "LAB_ID": _ids(len(results)),
            "PAS_ID": [pas[o] for o in draw.owner[results.draw].tolist()],
            "INN_ID": [s + 1 if s >= 0 else None for s in stay_of.tolist()],
            "PROVE_TID": fmt(draw.time[results.draw], "iso_time"),
            "ANALYSE_KODE": labs.arr("code")[a].tolist(),
            "ANALYSE_NAVN": labs.arr("name")[a].tolist(),
            "VERDI": results.text,
            "ENHET": labs.arr("unit")[a].tolist(),
            "REF_LAV": [v or None for v in labs.arr("ref_low")[a].tolist()],
            "REF_HOY": [v or None for v in labs.arr("ref_high")[a].tolist()],
        },
    )


def _medications(
    ctx: Context, records: PersonRecords, pas: list[int], start: np.ndarray, end: np.ndarray
) -> Table:
    rng = ctx.rng(SOURCE, "medications")
    people = ctx.people
    age = age_years(people.birth[records.person], end)
    owner = owners(counts(rng, age / 25, cap=10))
    drugs = load("drugs")
    drug = pick_for_age(rng, drugs, age[owner])
    begin = uniform_days(rng, start[owner], end[owner])
    chronic = drugs.num("chronic")[drug] == 1
    length = np.where(
        chronic & (rng.random(len(drug)) < 0.75),
        100_000,
        np.where(chronic, rng.integers(30, 720, len(drug)), rng.integers(3, 30, len(drug))),
    )
    stop = begin + length * DAY
    stop = np.where(stop > end[owner], np.datetime64("NaT"), stop)
    return Table(
        "LEGEMIDDEL",
        {
            "LM_ID": _ids(len(drug)),
            "PAS_ID": [pas[o] for o in owner.tolist()],
            "ATC": drugs.arr("atc")[drug].tolist(),
            "PREPARAT": drugs.arr("preparation")[drug].tolist(),
            "DOSERING": drugs.arr("dosage")[drug].tolist(),
            "START_DATO": fmt(begin, "yyyymmdd"),
            "SLUTT_DATO": fmt(stop, "yyyymmdd"),
        },
    )


def _allergies(ctx: Context, pas: list[int], start: np.ndarray, end: np.ndarray) -> Table:
    rng = ctx.rng(SOURCE, "allergies")
    owner = owners(counts(rng, np.full(len(pas), 0.15), cap=3))
    allergens, reactions = load("allergens"), load("allergy_reactions")
    substance, reaction = allergy_picks(rng, len(owner))
    return Table(
        "ALLERGI",
        {
            "ALLERGI_ID": _ids(len(owner)),
            "PAS_ID": [pas[o] for o in owner.tolist()],
            "SUBSTANS_ATC": allergens.arr("atc")[substance].tolist(),
            "SUBSTANS": allergens.arr("substance")[substance].tolist(),
            "REAKSJON": reactions.arr("reaction")[reaction].tolist(),
            "REG_DATO": fmt(uniform_days(rng, start[owner], end[owner]), "yyyymmdd"),
        },
    )


def _patient_table(records: PersonRecords, pas: list[int], registered: np.ndarray) -> Table:
    given = [f"{g} {m}".strip() for g, m in zip(records.given, records.middle, strict=True)]
    return Table(
        "PASIENT",
        {
            "PAS_ID": pas,
            "FNR": [v or None for v in records.nid.tolist()],
            "ETTERNAVN": records.family.tolist(),
            "FORNAVN": given,
            "FODT": fmt(records.birth, "yyyymmdd"),
            "KJONN": records.sex.tolist(),
            "ADRESSE": records.street.tolist(),
            "POSTNR": records.postnr.tolist(),
            "POSTSTED": records.poststed.tolist(),
            "DOD_DATO": fmt(records.death, "yyyymmdd"),
            "SPERRET": records.confidential.astype(int).tolist(),
            "REG_DATO": fmt(registered, "yyyymmdd"),
        },
    )


def write(tables: dict[str, Table], path: Path) -> None:
    """Write the tables into a fresh SQLite file (no wall-clock data inside)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        for name, columns in SCHEMA.items():
            table = tables[name]
            db.execute(f"CREATE TABLE {name} ({columns})")
            marks = ", ".join("?" * len(table.columns))
            db.executemany(f"INSERT INTO {name} ({', '.join(table.columns)}) VALUES ({marks})", table.rows())
    db.close()


def generate(ctx: Context, out: Path) -> SourceResult:
    """Build, damage and write the EPR."""
    records = _patients(ctx)
    people = ctx.people
    person = records.person
    start, end = person_window(SOURCE, people.birth[person], people.death[person])
    pas = [int(k) for k in records.key.tolist()]
    stay = stays(
        ctx.rng(SOURCE, "stays"),
        people.birth[person],
        people.female[person],
        start,
        end,
        per_year_of_age=1 / 35,
    )
    draw = draws(ctx.rng(SOURCE, "draws"), stay, start, end)
    first_stay = np.full(len(records), WINDOWS[SOURCE][1])
    np.minimum.at(first_stay, stay.owner, stay.admit.astype("datetime64[D]"))
    tables = {
        "PASIENT": _patient_table(records, pas, first_stay),
        "INNLEGGELSE": _admissions(stay, pas),
        "DIAGNOSE": _diagnoses(ctx, stay, pas, records),
        "LABSVAR": _labs(ctx, draw, pas, records),
        "LEGEMIDDEL": _medications(ctx, records, pas, start, end),
        "ALLERGI": _allergies(ctx, pas, start, end),
    }
    plant_invalid(ctx, SOURCE, tables, TARGETS, ORPHANS, lambda i: MISSING_PAS_ID + i)
    write(tables, out / PATH)
    return SourceResult(
        SOURCE, records.truth(people), {f"{PATH.as_posix()}:{name}": len(t) for name, t in tables.items()}
    )
