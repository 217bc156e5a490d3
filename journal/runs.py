"""Migration runs and their books, recorded in the journal's operations tables."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from journal.bulk import upsert
from journal.schema import MigrationRun, RunAccount, SourceState

if TYPE_CHECKING:
    from journal.reconcile import Account
    from pipelines.config import MigrationConfig


def start_run(
    engine: Engine, run_id: str, config: MigrationConfig, wave: str | None, started: dt.datetime
) -> None:
    with engine.begin() as connection:
        # one run writes a journal at a time: a run still "running" was killed
        connection.execute(
            update(MigrationRun)
            .where(MigrationRun.migration == config.name, MigrationRun.status == "running")
            .values(status="interrupted")
        )
        connection.execute(
            MigrationRun.__table__.insert().values(
                run_id=run_id,
                migration=config.name,
                wave=wave,
                config_sha256=config.config_sha256,
                started_at=started.replace(tzinfo=None),
                status="running",
            )
        )


def finish_run(engine: Engine, run_id: str, status: str, balanced: bool | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(MigrationRun)
            .where(MigrationRun.run_id == run_id)
            .values(
                status=status, balanced=balanced, finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)
            )
        )


def record_source_state(engine: Engine, source_system: str, mapping_sha256: str, run_id: str) -> None:
    """The mapping fingerprint a source's rows in the journal now carry."""
    with engine.begin() as connection:
        upsert(
            connection,
            SourceState.__table__,
            pd.DataFrame(
                [{"source_system": source_system, "mapping_sha256": mapping_sha256, "run_id": run_id}]
            ),
            ["source_system"],
            changed_by=["mapping_sha256", "run_id"],
        )


def find_run(engine: Engine, run_id: str) -> MigrationRun | None:
    """A run as the journal recorded it (wave, start, status), if it did."""
    with Session(engine) as session:
        return session.get(MigrationRun, run_id)


def record_accounts(engine: Engine, run_id: str, accounts: list[Account]) -> None:
    """The run's books, replacing any earlier reconciliation of the same run, and its verdict."""
    with engine.begin() as connection:
        connection.execute(
            update(MigrationRun)
            .where(MigrationRun.run_id == run_id)
            .values(balanced=all(a.balanced for a in accounts))
        )
        connection.execute(delete(RunAccount).where(RunAccount.run_id == run_id))
        if accounts:
            connection.execute(
                RunAccount.__table__.insert(),
                [
                    {
                        "run_id": run_id,
                        "source_system": a.source_system,
                        "entity": a.entity,
                        "extracted": a.extracted,
                        "loaded": a.loaded,
                        "quarantined": a.quarantined,
                        "merged": a.merged,
                        "out_of_scope": a.out_of_scope,
                        "extracted_checksum": a.extracted_checksum,
                        "accounted_checksum": a.accounted_checksum,
                        "balanced": a.balanced,
                        "detail": {"problems": a.problems},
                    }
                    for a in accounts
                ],
            )
