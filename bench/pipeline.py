"""Pipeline: clinical rows per second end to end, per stage, beside a raw copy of the same rows.

    python bench/pipeline.py                                  # 10k, 100k, 1M rows; SQLite and PostgreSQL
    python bench/pipeline.py --rows 100000 --journals sqlite --json result.json

For each size a synthetic region (`pipelines.demo.write_demo`: the demo's five legacy
sources — EPR database, HL7 archive, municipal CSV, GP journal and lab XML) is drawn with
enough persons for about that many clinical rows, then migrated by a fresh process with
`pipelines.runner` (no Prefect), into a fresh SQLite file and a fresh PostgreSQL schema:
extract → match → map → validate → load → reconcile, each stage timed. Rows per second
are clinical rows staged (everything but persons and extract quarantine) over the run's
seconds; peak memory is the process's `ru_maxrss`.

The raw copy is the yardstick: a fresh process reads the run's staged Parquet files (what
the connectors wrote, persons too) with pyarrow and bulk-inserts them untransformed, one
table per source and entity (SQLite: one executemany per file; PostgreSQL: COPY). It has
no legacy formats to parse, so the overhead ratio is given twice: the whole run over the
copy, and the run after extract (match → reconcile, which reads the same files) over it.

Sizes 1×, 10× and 100× give the scaling table: seconds and peak memory, and the growth
exponent between sizes (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# As a script, this file's folder would shadow the identity package (bench/identity.py).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

CLINICAL_ROWS_PER_PERSON = 26.2
"""Clinical rows staged per person of a synthetic region at the default error rate."""
STAGES = ("extract", "match", "map", "validate", "load", "reconcile")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def child_run(config_path: Path) -> dict[str, object]:
    """Migrate one region in this process, timing each phase of `pipelines.runner`."""
    from pipelines import runner

    seconds: dict[str, float] = {}

    def timed(phase: runner.Phase, ctx: runner.RunContext, steps: list[tuple[str, ...]]) -> list[object]:
        started = time.perf_counter()
        results = runner.in_process(phase, ctx, steps)
        seconds[phase.name] = time.perf_counter() - started
        return results

    ctx = runner.new_context(config_path)
    results = runner.run(ctx, timed)
    staged: list[dict[str, int]] = results["extract"]
    clinical = sum(
        n for counts in staged for entity, n in counts.items() if entity not in ("person", "quarantined")
    )
    return {
        "seconds": seconds,
        "clinical_rows": clinical,
        "person_records": sum(counts.get("person", 0) for counts in staged),
        "staging": str(ctx.workspace.path("staging")),
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_copy(staging: Path, url: str) -> dict[str, object]:
    """Read every staged Parquet file with pyarrow and bulk-insert it as it is: the yardstick."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from sqlalchemy import create_engine

    started = time.perf_counter()
    engine = create_engine(url)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    rows = 0
    for folder in sorted(p for p in staging.glob("*/*") if p.is_dir() and not p.parent.name.startswith("_")):
        table = pq.read_table(folder)
        table = table.select([f.name for f in table.schema if not pa.types.is_null(f.type)])
        name = f"raw_{folder.parent.name}_{folder.name}".replace("-", "_")
        columns = ", ".join(f'"{field.name}" {_sql_type(field.type)}' for field in table.schema)
        cursor.execute(f'CREATE TABLE "{name}" ({columns})')
        sqlite = engine.dialect.name == "sqlite"
        # sqlite3 takes no datetimes: they go in as ISO text, as SQLite keeps them anyway.
        values = [
            pc.cast(c, pa.string()) if sqlite and pa.types.is_timestamp(c.type) else c for c in table.columns
        ]
        records = zip(*(c.to_pylist() for c in values), strict=True)
        if sqlite:
            cursor.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * table.num_columns)})', records)
        else:
            with cursor.copy(f'COPY "{name}" FROM STDIN') as copy:
                for record in records:
                    copy.write_row(record)
        rows += table.num_rows
    connection.commit()
    connection.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _sql_type(kind: object) -> str:
    import pyarrow as pa

    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    return "TEXT"


@contextmanager
def fresh_journal(kind: str, folder: Path, label: str) -> Iterator[str]:
    """A journal URL nobody has written to: a new SQLite file or a new PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{label}.db'}"
        return
    from bench.loader import fresh_postgres  # the schema is dropped afterwards

    with fresh_postgres(PG_URL) as url:
        yield url


def _child(*args: str) -> dict[str, object]:
    command = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)


def measure(rows: int, journals: list[str], root: Path, seed: int) -> list[dict[str, object]]:
    """One region of about `rows` clinical rows, migrated into each journal and raw-copied beside it."""
    from pipelines.demo import write_demo

    persons = max(1, round(rows / CLINICAL_ROWS_PER_PERSON))
    region = root / f"region-{rows}"
    started = time.perf_counter()
    template = write_demo(region, persons=persons, seed=seed, error_rate=0.05)
    synth = time.perf_counter() - started
    results = []
    for kind in journals:
        with fresh_journal(kind, region, "journal") as url:
            config = region / f"migration-{kind}.yaml"
            config.write_text(
                template.read_text(encoding="utf-8") + f"journal_url: '{url}'\n", encoding="utf-8"
            )
            run = _child("--child-run", str(config))
        with fresh_journal(kind, region, "raw-copy") as url:
            copy = _child("--child-copy", str(run["staging"]), url)
        results.append(
            {"rows": rows, "persons": persons, "journal": kind, "synth_seconds": synth, **run, "copy": copy}
        )
        print(_line(results[-1]), flush=True)
    return results


def _line(r: dict[str, object]) -> str:
    stages = r["seconds"]
    total = sum(stages.values())
    after_extract = total - stages["extract"]
    copy = r["copy"]["seconds"]
    per_stage = " | ".join(f"{stages[name]:.1f}" for name in STAGES)
    return (
        f"| {r['journal']} | {r['clinical_rows']:,} | {total:.1f} | {r['clinical_rows'] / total:,.0f} "
        f"| {per_stage} | {r['peak_memory_mib']:,.0f} | {copy:.1f} | {r['clinical_rows'] / copy:,.0f} "
        f"| {total / copy:.1f} | {after_extract / copy:.1f} |"
    )


def scaling(results: list[dict[str, object]]) -> None:
    """Cost against size, per journal: seconds and peak memory, and how fast each grows."""
    print("\n| journal | clinical rows | × | seconds | growth exponent | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in dict.fromkeys(r["journal"] for r in results):
        runs = sorted((r for r in results if r["journal"] == kind), key=lambda r: r["clinical_rows"])
        base = runs[0]["clinical_rows"]
        previous = None
        for r in runs:
            seconds = sum(r["seconds"].values())
            exponent = "–"
            if previous:
                exponent = (
                    f"{math.log(seconds / previous[1]) / math.log(r['clinical_rows'] / previous[0]):.2f}"
                )
            print(
                f"| {kind} | {r['clinical_rows']:,} | {r['clinical_rows'] / base:.0f} | {seconds:.1f} "
                f"| {exponent} | {r['peak_memory_mib']:,.0f} |"
            )
            previous = (r["clinical_rows"], seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--journals", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument("--child-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-copy", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_run:
        print(json.dumps(child_run(args.child_run)))
        return
    if args.child_copy:
        print(json.dumps(child_copy(Path(args.child_copy[0]), args.child_copy[1])))
        return
    stages = " | ".join(STAGES)
    print(
        f"| journal | clinical rows | seconds | rows/s | {stages} | peak MiB | raw copy s | raw copy rows/s "
        "| × raw copy | × raw copy after extract |"
    )
    print("|---" * (9 + len(STAGES)) + "|")
    results = []
    with tempfile.TemporaryDirectory(prefix="enjournal-bench-") as name:
        for rows in args.rows:
            results += measure(rows, args.journals, Path(name), args.seed)
    if len(args.rows) > 1:
        scaling(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
