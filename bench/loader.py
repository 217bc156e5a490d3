"""Loader throughput: a first load, a re-load that changes nothing, a load with 10 % corrected.

    python bench/loader.py [--rows 200000] [--pg URL] [--mysql URL]

Loads synthetic mapped observations (one batch transaction per 20,000 rows, with their
provenance rows) into a fresh SQLite file, a fresh PostgreSQL schema and, if given, a
fresh MariaDB database, and prints rows per second. As a yardstick for what COPY and the
set-based merge buy, it also times a plain SQLAlchemy executemany INSERT of the same
rows into the same PostgreSQL table.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url

from journal import loader
from journal.bulk import python_values
from journal.database import open_journal
from journal.schema import Observation, SourceRecord

PERSONS = 10_000


def observations(rows: int, seed: int = 7) -> pd.DataFrame:
    """Mapped observation rows as the gate hands them to the loader."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows)
    return pd.DataFrame(
        {
            "source_system": "bench-lab",
            "source_kind": "sql",
            "source_locator": [f"LABSVAR:{i}" for i in ids],
            "source_record_id": ids.astype(str),
            "source_person_id": (ids % PERSONS).astype(str),
            "record_hash": [f"{secrets.randbits(256):064x}" for _ in ids],
            "journal_person_id": pd.array(ids % PERSONS + 1, dtype="Int64"),
            "code_system": "urn:oid:2.16.578.1.12.4.1.1.7280",
            "code": rng.choice(["NPU02319", "NPU03429", "NPU19748", "NPU01370"], rows),
            "effective_at": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 3650 * 24, rows), "h"),
            "value_num": rng.normal(10, 3, rows).round(1),
            "unit": "mmol/L",
        }
    )


def persons() -> tuple[pd.DataFrame, ...]:
    ids = np.arange(1, PERSONS + 1)
    golden = pd.DataFrame({"journal_person_id": ids, "record_hash": [f"{i:064x}" for i in ids]})
    identifiers = pd.DataFrame(columns=["journal_person_id", "system", "value", "kind", "valid"])
    sources = pd.DataFrame(
        {
            "source_system": "bench-lab",
            "source_person_id": (ids - 1).astype(str),
            "source_record_id": (ids - 1).astype(str),
            "source_kind": "sql",
            "source_locator": "PASIENT",
            "record_hash": golden["record_hash"],
        }
    )
    links = sources[["source_system", "source_person_id", "record_hash"]].assign(
        journal_person_id=ids, link_kind="id_exact", match_weight=None
    )
    return golden, identifiers, links, sources


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def fresh_mysql(url: str) -> Iterator[str]:
    database = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    try:
        yield make_url(url).set(database=database).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE `{database}`"))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench(name: str, url: str, rows: pd.DataFrame) -> list[tuple[str, str, int, float]]:
    engine = open_journal(url)
    loader.load_persons(engine, *persons(), run_id="bench")
    corrected = rows.copy()
    changed = corrected.sample(frac=0.1, random_state=1).index
    corrected.loc[changed, "value_num"] += 1
    corrected.loc[changed, "record_hash"] = [f"{secrets.randbits(256):064x}" for _ in changed]
    results = []
    for label, frame in (("first load", rows), ("re-load, unchanged", rows), ("10 % corrected", corrected)):
        seconds = timed(lambda f=frame: loader.load_clinical(engine, "observation", f, "bench"))
        results.append((name, label, len(frame), seconds))
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(delete(SourceRecord))
            connection.execute(delete(Observation))
        table = Observation.__table__
        batch = rows.assign(row_hash="0", last_run_id="bench", id=np.arange(1, len(rows) + 1))
        columns = [c.name for c in table.columns if c.name in batch]
        data = [python_values(batch[c], table.c[c].type.python_type) for c in columns]
        records = [dict(zip(columns, values, strict=True)) for values in zip(*data, strict=True)]

        def executemany() -> None:
            with engine.begin() as connection:
                connection.execute(insert(table), records)

        results.append((name, "plain executemany INSERT (yardstick)", len(rows), timed(executemany)))
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--mysql", default=None, help="e.g. mysql+pymysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    rows = observations(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results += bench("SQLite", f"sqlite:///{Path(folder) / 'journal.db'}", rows)
    with fresh_postgres(args.pg) as url:
        results += bench("PostgreSQL", url, rows)
    if args.mysql:
        with fresh_mysql(args.mysql) as url:
            results += bench("MariaDB", url, rows)
    print("| database | load | rows | seconds | rows/s |\n|---|---|---:|---:|---:|")
    for database, label, count, seconds in results:
        print(f"| {database} | {label} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} |")


if __name__ == "__main__":
    main()
