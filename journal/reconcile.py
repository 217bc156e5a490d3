"""The books of a run: every extracted record is loaded, quarantined, merged or out of scope.

Per source and entity, `extracted = loaded + quarantined + merged + out_of_scope` must
hold by count and by checksum (a 64-bit sum of record hashes, so order does not matter
and a duplicate counts twice), and the journal must really hold what was loaded: a
source_record row with the same hash for every loaded record, and exactly as many rows
in the entity's table as its provenance says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Table, func, select

from journal.schema import CLINICAL_TABLES, ENTITIES, PersonLink, SourceRecord

OUTCOMES = ("loaded", "quarantined", "merged", "out_of_scope")
MASK = (1 << 64) - 1


def checksum(hashes: pd.Series) -> int:
    """Order-free 64-bit sum of the first 16 hex digits of each record hash."""
    if hashes.empty:
        return 0
    values = np.array([int(h[:16], 16) for h in hashes.astype(str)], dtype=object)
    return int(values.sum()) & MASK


@dataclass
class Account:
    source_system: str
    entity: str
    extracted: int
    loaded: int
    quarantined: int
    merged: int
    out_of_scope: int
    extracted_checksum: str
    accounted_checksum: str
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "balanced": self.balanced}


def account(extracted: pd.DataFrame, outcomes: dict[str, pd.DataFrame]) -> list[Account]:
    """Balance the books per source and entity.

    Every frame has `source_system`, `entity` and `record_hash`; `outcomes` maps each of
    OUTCOMES to the records that ended that way.
    """
    keys = ["source_system", "entity"]
    pairs = set(map(tuple, extracted[keys].drop_duplicates().to_numpy()))
    for frame in outcomes.values():
        pairs |= set(map(tuple, frame[keys].drop_duplicates().to_numpy()))
    accounts = []
    for source, entity in sorted(pairs):

        def part(frame: pd.DataFrame, s: str = source, e: str = entity) -> pd.DataFrame:
            return frame[(frame["source_system"] == s) & (frame["entity"] == e)]

        mine = part(extracted)
        counts = {name: len(part(outcomes.get(name, extracted.iloc[0:0]))) for name in OUTCOMES}
        sums = (
            sum(checksum(part(outcomes.get(n, extracted.iloc[0:0]))["record_hash"]) for n in OUTCOMES) & MASK
        )
        expected = checksum(mine["record_hash"])
        problems = []
        if sum(counts.values()) != len(mine):
            problems.append(
                f"{len(mine)} extracted but {sum(counts.values())} accounted for "
                f"({', '.join(f'{k} {v}' for k, v in counts.items())})"
            )
        if sums != expected:
            problems.append("checksum of accounted records differs from the extracted ones")
        accounts.append(
            Account(source, entity, len(mine), *counts.values(), f"{expected:016x}", f"{sums:016x}", problems)
        )
    return accounts


def verify_journal(engine: Engine, accounts: list[Account], loaded: pd.DataFrame) -> None:
    """Check the journal holds what the books say was loaded; problems go on the accounts.

    Per source and entity: every record the run loaded has a provenance row with its hash,
    and the entity's table holds exactly one row per provenance row, with the same record
    hash. A deleted row, a duplicated one (under another key) or an altered hash shows.
    """
    with engine.connect() as connection:
        for acc in accounts:
            if acc.entity not in ENTITIES:
                continue
            mine = loaded[(loaded["source_system"] == acc.source_system) & (loaded["entity"] == acc.entity)]
            provenance = (SourceRecord.source_system == acc.source_system) & (
                SourceRecord.entity == acc.entity
            )
            recorded = pd.read_sql(
                select(SourceRecord.source_record_id, SourceRecord.record_hash).where(provenance), connection
            )
            joined = mine[["source_record_id", "record_hash"]].merge(
                recorded, on="source_record_id", how="left", suffixes=("", "_journal")
            )
            missing = joined["record_hash_journal"].isna().sum()
            stale = (
                joined["record_hash_journal"].notna()
                & (joined["record_hash"] != joined["record_hash_journal"])
            ).sum()
            if missing:
                acc.problems.append(f"{missing} loaded records have no provenance row in the journal")
            if stale:
                acc.problems.append(f"{stale} loaded records differ from the journal's provenance hash")
            table, key = _table_of(acc.entity)
            rows = connection.execute(
                select(func.count()).select_from(table).where(table.c.source_system == acc.source_system)
            ).scalar_one()
            if rows != len(recorded):
                acc.problems.append(
                    f"the journal's {table.name} holds {rows} rows from {acc.source_system}, "
                    f"its provenance {len(recorded)}"
                )
            matching = connection.execute(
                select(func.count())
                .select_from(table)
                .join(
                    SourceRecord,
                    (SourceRecord.source_record_id == table.c[key])
                    & (SourceRecord.record_hash == table.c.record_hash),
                )
                .where(table.c.source_system == acc.source_system, provenance)
            ).scalar_one()
            if matching != len(recorded):
                acc.problems.append(
                    f"{len(recorded) - matching} provenance rows have no {table.name} row "
                    "with their key and record hash"
                )


def _table_of(entity: str) -> tuple[Table, str]:
    """The journal table of an entity and the column that holds the source record id."""
    if entity == "person":
        return PersonLink.__table__, "source_person_id"
    return CLINICAL_TABLES[entity].__table__, "source_record_id"
