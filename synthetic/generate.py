"""Orchestration: draw the region's people, decide who is registered where, let each
source write its legacy files, then write the ground truth and the manifest.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import coverage, epr, gp_journal, gp_messages, hl7_archive, municipal, population
from .context import Context, SourceResult, stream
from .manifest import InjectionLog, Manifest
from .population import Population
from .practices import assign_practices
from .timeline import REFERENCE_DATE, fmt

OUTPUT_FOLDERS = ("hospital", "municipal", "gp")
OUTPUT_FILES = ("truth.csv", "persons.csv", "manifest.json")

SourceGenerator = Callable[[Context, Path], SourceResult]


def _persons_csv(people: Population, path: Path) -> int:
    """The true people, one row each (dates ISO, booleans 0/1, missing = empty)."""
    columns = people.column_names()
    values = []
    for name in columns:
        column = getattr(people, name)
        if np.issubdtype(column.dtype, np.datetime64):
            values.append([v or "" for v in fmt(column, "iso")])
        elif column.dtype == bool:
            values.append(column.astype(int).tolist())
        else:
            values.append(column.tolist())
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*values, strict=True))
    return len(people)


def _truth_csv(results: list[SourceResult], path: Path) -> int:
    """source_system, source_person_id, person_id for every source person record."""
    rows = [(r.source, key, person) for r in results for key, person in r.truth]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("source_system", "source_person_id", "person_id"))
        writer.writerows(rows)
    return len(rows)


def _clear(out: Path) -> None:
    """Remove what an earlier run wrote here, so that stale files never survive."""
    for folder in OUTPUT_FOLDERS:
        shutil.rmtree(out / folder, ignore_errors=True)
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)


def generate(out: Path, persons: int = 1000, seed: int = 42, error_rate: float = 0.05) -> Manifest:
    """Write a synthetic region of `persons` people into `out` and return its manifest.

    Same arguments give byte-identical files. error_rate=0 plants no errors.
    """
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if not 0 <= error_rate <= 1:
        raise ValueError("error_rate must be between 0 and 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    people = population.build(stream(seed, "population"), persons)
    ctx = Context(
        seed=seed,
        error_rate=error_rate,
        people=people,
        coverage=coverage.assign(stream(seed, "coverage"), people),
        log=InjectionLog(),
    )
    practices = assign_practices(ctx)
    generators: list[SourceGenerator] = [
        epr.generate,
        hl7_archive.generate,
        municipal.generate,
        lambda c, o: gp_journal.generate(c, o, practices),
        lambda c, o: gp_messages.generate(c, o, practices),
    ]
    results = [make(ctx, out) for make in generators]
    counts = {key: n for r in results for key, n in r.counts.items()}
    counts["persons.csv"] = _persons_csv(people, out / "persons.csv")
    counts["truth.csv"] = _truth_csv(results, out / "truth.csv")
    manifest = Manifest(
        seed=seed,
        persons=persons,
        error_rate=error_rate,
        reference_date=str(REFERENCE_DATE),
        source_person_records={r.source: len(r.truth) for r in results},
        counts=dict(sorted(counts.items())),
        injected=ctx.log.sorted(),
    )
    manifest.write(out / "manifest.json")
    return manifest
