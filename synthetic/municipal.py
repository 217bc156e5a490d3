"""Source municipal-care: the municipal care system's CSV export (municipal/*.csv),
2010-2025, in Windows-1252 with ';' separators, CRLF line ends, dd.mm.yyyy dates,
decimal commas and double-quoted fields where needed (notes contain ';', quotes and
line breaks). Sex is written 1 = mann / 2 = kvinne as in IPLOS.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from .catalogue import load, pick
from .clinical import counts, decimal_comma, note_texts, owners, staff_names
from .context import Context, SourceResult
from .errors import add_duplicates, corrupt_persons
from .invalid import OrphanTarget, Target, plant_invalid
from .records import PersonRecords, snapshot
from .tables import Table
from .timeline import (
    DAY,
    REFERENCE_DATE,
    age_years,
    at_time_of_day,
    fmt,
    person_window,
    uniform_days,
)

SOURCE = "municipal-care"
FOLDER = Path("municipal")
ENCODING = "cp1252"
FIRST_USER_ID = 100_001
MISSING_USER_ID = 900_001
AT_HOME, SHORT_TERM, LONG_TERM = 0, 1, 2
"""Values of the institution column of municipal_services.csv."""
"""First bruker_id used by orphan rows: above every real user id."""

TARGETS = [
    Target(
        "invalid_date",
        "tjenester",
        "fra_dato",
        "encounter",
        "vedtak_id",
        ("31.02.2019", "45.13.2018"),
        "tjenester.csv:fra_dato",
    ),
    Target(
        "invalid_date",
        "vurderinger",
        "dato",
        "observation",
        "vurdering_id",
        ("30.02.2020", "00.00.2017"),
        "vurderinger.csv:dato",
    ),
    Target(
        "unknown_code",
        "tjenester",
        "tjenestekode",
        "encounter",
        "vedtak_id",
        ("99",),
        "tjenester.csv:tjenestekode",
    ),
    Target(
        "unknown_code",
        "vurderinger",
        "variabel",
        "observation",
        "vurdering_id",
        ("IPLOS99",),
        "vurderinger.csv:variabel",
    ),
    Target(
        "bad_number", "vurderinger", "verdi", "observation", "vurdering_id", ("abc",), "vurderinger.csv:verdi"
    ),
]
ORPHANS = [
    OrphanTarget("tjenester", "bruker_id", "encounter", "vedtak_id", "tjenester.csv:bruker_id"),
    OrphanTarget("vurderinger", "bruker_id", "observation", "vurdering_id", "vurderinger.csv:bruker_id"),
    OrphanTarget("notater", "bruker_id", "document", "notat_id", "notater.csv:bruker_id"),
]


def _users(ctx: Context) -> PersonRecords:
    """Care users as registered today, with duplicates and person errors planted."""
    person = np.flatnonzero(ctx.coverage.in_municipal)
    person = person[ctx.rng(SOURCE, "order").permutation(len(person))]
    keys = np.array([str(FIRST_USER_ID + i) for i in range(len(person))], dtype=object)
    records = snapshot(SOURCE, ctx.people, keys, person, np.full(len(person), REFERENCE_DATE))
    next_id = itertools.count(FIRST_USER_ID + len(person))
    records = add_duplicates(ctx, records, lambda row: str(next(next_id)))
    corrupt_persons(ctx, records)
    return records


def _number(values: np.ndarray, decimals: np.ndarray) -> list[str]:
    return [decimal_comma(f"{v:.{d}f}") for v, d in zip(values.tolist(), decimals.tolist(), strict=True)]


def _services(
    ctx: Context, user: list[int], care_start: np.ndarray, end: np.ndarray, alive: np.ndarray
) -> Table:
    rng = ctx.rng(SOURCE, "services")
    services = load("municipal_services")
    owner = owners(counts(rng, np.full(len(user), 1.0), cap=6, minimum=1))
    kind = pick(rng, services.num("weight"), len(owner))
    begin = uniform_days(rng, care_start[owner], end[owner])
    order = np.lexsort((begin, owner))
    owner, kind, begin = owner[order], kind[order], begin[order]
    institution = services.num("institution")[kind]
    ongoing = alive[owner] & (
        (institution == LONG_TERM) | ((institution == AT_HOME) & (rng.random(len(kind)) < 0.35))
    )
    days = np.where(
        institution == SHORT_TERM, rng.integers(7, 60, len(kind)), rng.integers(14, 700, len(kind))
    )
    stop = np.minimum(begin + days * DAY, end[owner])
    stop = np.where(ongoing | (stop >= REFERENCE_DATE), np.datetime64("NaT"), stop)
    low, high = services.num("hours_low")[kind], services.num("hours_high")[kind]
    hours = np.round((low + rng.random(len(kind)) * (high - low)) * 2) / 2
    return Table(
        "tjenester",
        {
            "vedtak_id": list(range(1, len(kind) + 1)),
            "bruker_id": [user[o] for o in owner.tolist()],
            "tjenestekode": services.arr("code")[kind].tolist(),
            "tjeneste": services.arr("name")[kind].tolist(),
            "fra_dato": fmt(begin, "no"),
            "til_dato": fmt(stop, "no"),
            "timer_per_uke": ["" if np.isnan(h) else decimal_comma(f"{h:.1f}") for h in hours],
        },
    )


def _assessments(
    ctx: Context, user: list[int], age: np.ndarray, care_start: np.ndarray, end: np.ndarray
) -> Table:
    """IPLOS function scores (all variables at each assessment) and measurements."""
    rng = ctx.rng(SOURCE, "assessments")
    obs = load("municipal_observations")
    scores = np.flatnonzero(obs.arr("kind") == "score")
    measures = np.flatnonzero(obs.arr("kind") == "measure")
    frailty = rng.normal(0, 0.6, len(user)) + (age - 80) * 0.03
    assessment_owner = owners(counts(rng, np.ones(len(user)), cap=4, minimum=1))
    assessment_day = uniform_days(rng, care_start[assessment_owner], end[assessment_owner])
    score_owner = np.repeat(assessment_owner, len(scores))
    score_day = np.repeat(assessment_day, len(scores))
    score_var = np.tile(scores, len(assessment_owner))
    measure_owner = owners(counts(rng, np.full(len(user), 3.0), cap=12))
    measure_day = uniform_days(rng, care_start[measure_owner], end[measure_owner])
    measure_var = measures[rng.integers(0, len(measures), len(measure_owner))]

    owner = np.concatenate([score_owner, measure_owner])
    day = np.concatenate([score_day, measure_day])
    var = np.concatenate([score_var, measure_var])
    shift = np.where(obs.arr("kind")[var] == "score", frailty[owner], 0.0)
    value = obs.num("mean")[var] + shift + obs.num("sd")[var] * rng.standard_normal(len(var))
    value = np.clip(value, obs.num("low")[var], obs.num("high")[var])
    order = np.lexsort((var, day, owner))
    owner, day, var, value = owner[order], day[order], var[order], value[order]
    return Table(
        "vurderinger",
        {
            "vurdering_id": list(range(1, len(var) + 1)),
            "bruker_id": [user[o] for o in owner.tolist()],
            "dato": fmt(day, "no"),
            "variabel": obs.arr("code")[var].tolist(),
            "variabelnavn": obs.arr("name")[var].tolist(),
            "verdi": _number(value, obs.num("decimals")[var].astype(np.int64)),
            "enhet": obs.arr("unit")[var].tolist(),
        },
    )


def _notes(ctx: Context, user: list[int], care_start: np.ndarray, end: np.ndarray) -> Table:
    rng = ctx.rng(SOURCE, "notes")
    owner = owners(counts(rng, np.full(len(user), 4.0), cap=20))
    when = at_time_of_day(rng, uniform_days(rng, care_start[owner], end[owner]), 7, 23, 1)
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    titles, texts = note_texts(rng, "municipal", len(owner))
    return Table(
        "notater",
        {
            "notat_id": list(range(1, len(owner) + 1)),
            "bruker_id": [user[o] for o in owner.tolist()],
            "dato": fmt(when, "no_time"),
            "forfatter": staff_names(rng, len(owner)),
            "tittel": titles,
            "tekst": texts,
        },
    )


def _user_table(records: PersonRecords, user: list[int]) -> Table:
    return Table(
        "brukere",
        {
            "bruker_id": user,
            "fodselsnummer": records.nid.tolist(),
            "fornavn": [f"{g} {m}".strip() for g, m in zip(records.given, records.middle, strict=True)],
            "etternavn": records.family.tolist(),
            "fodselsdato": fmt(records.birth, "no"),
            "kjonn": np.where(records.sex == "K", "2", "1").tolist(),
            "adresse": records.street.tolist(),
            "postnr": records.postnr.tolist(),
            "poststed": records.poststed.tolist(),
            "kommunenr": records.kommunenr.tolist(),
            "dodsdato": [v or "" for v in fmt(records.death, "no")],
            "sperret_adresse": np.where(records.confidential, "J", "N").tolist(),
        },
    )


def write(table: Table, path: Path) -> None:
    """One CSV file as the municipal export writes it."""
    with open(path, "w", encoding=ENCODING, newline="") as handle:
        writer = csv.writer(
            handle, delimiter=";", quotechar='"', lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
        )
        writer.writerow(table.columns)
        writer.writerows([["" if v is None else v for v in row] for row in table.rows()])


def generate(ctx: Context, out: Path) -> SourceResult:
    """Build, damage and write the municipal export."""
    records = _users(ctx)
    people = ctx.people
    person = records.person
    start, end = person_window(SOURCE, people.birth[person], people.death[person])
    care_start = uniform_days(ctx.rng(SOURCE, "care-start"), start, end)
    user = [int(k) for k in records.key.tolist()]
    alive = np.isnat(people.death[person])
    tables = {
        "brukere": _user_table(records, user),
        "tjenester": _services(ctx, user, care_start, end, alive),
        "vurderinger": _assessments(ctx, user, age_years(people.birth[person], end), care_start, end),
        "notater": _notes(ctx, user, care_start, end),
    }
    plant_invalid(ctx, SOURCE, tables, TARGETS, ORPHANS, lambda i: MISSING_USER_ID + i)
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write(table, folder / f"{name}.csv")
    return SourceResult(
        SOURCE,
        records.truth(people),
        {f"{(FOLDER / name).as_posix()}.csv": len(t) for name, t in tables.items()},
    )
