"""`enjournal status CONFIG`: where a migration stands, wave by wave, from its journal.

Runs (with their books), each wave's last run, the journal's persons, the open quarantine
and the person pairs still waiting for a steward: what a migration engineer checks
before the next wave's cut-over.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from journal.schema import MatchDecision, MigrationRun, Person, Quarantine, RunAccount
from pipelines.config import MigrationConfig
from pipelines.workspace import Workspace

RUN_COLUMNS = ("run_id", "wave", "status", "balanced", "started_at", "finished_at")
BOOK_COLUMNS = ("extracted", "loaded", "quarantined", "merged")


def collect(config: MigrationConfig) -> dict[str, Any]:
    """The migration's state as plain data (the `--json` output)."""
    from journal.database import open_journal

    engine = open_journal(config.journal)
    with engine.connect() as connection:
        runs = pd.read_sql(
            select(*(MigrationRun.__table__.c[c] for c in RUN_COLUMNS))
            .where(MigrationRun.migration == config.name)
            .order_by(MigrationRun.started_at, MigrationRun.run_id),
            connection,
        )
        books = pd.read_sql(
            select(
                RunAccount.run_id, *(func.sum(RunAccount.__table__.c[c]).label(c) for c in BOOK_COLUMNS)
            ).group_by(RunAccount.run_id),
            connection,
        )
        persons, merged = connection.execute(
            select(func.count(), func.count(Person.merged_into)).select_from(Person)
        ).one()
        persons -= merged  # live persons: the merged ones are retired into another
        quarantine = connection.execute(
            select(func.count()).select_from(Quarantine).where(Quarantine.status == "open")
        ).scalar_one()
        decided = set(connection.execute(select(MatchDecision.pair_id)).scalars())
    runs = runs.merge(books, on="run_id", how="left")
    records = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in runs.astype(object).to_dict("records")
    ]
    for row in records:
        for column in ("started_at", "finished_at"):
            row[column] = row[column] and pd.Timestamp(row[column]).isoformat(timespec="seconds")
        for column in BOOK_COLUMNS:
            row[column] = None if row[column] is None else int(row[column])
    return {
        "migration": config.name,
        "runs": records,
        "waves": [_wave(wave.name, wave.sources, records) for wave in config.waves],
        "persons": int(persons),
        "merged_persons": int(merged),
        "open_quarantine": int(quarantine),
        "review_pending": _pending_review(config, records, decided),
    }


def _wave(name: str, sources: list[str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [run for run in runs if run["wave"] == name]
    done = [run for run in mine if run["status"] == "completed"]
    return {
        "wave": name,
        "sources": sources,
        "runs": len(mine),
        "last_run": mine[-1]["run_id"] if mine else None,
        "last_status": mine[-1]["status"] if mine else "not started",
        "last_completed": done[-1]["run_id"] if done else None,
    }


def _pending_review(config: MigrationConfig, runs: list[dict[str, Any]], decided: set[str]) -> int:
    """Review pairs of the latest completed run that no steward has decided yet."""
    done = [run["run_id"] for run in runs if run["status"] == "completed"]
    if not done:
        return 0
    space = Workspace(config.workdir / "runs" / done[-1], done[-1])
    review = space.read_frame("identity", "review.parquet", columns=["pair_id"])
    return int((~review["pair_id"].isin(decided)).sum()) if not review.empty else 0


def render(state: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    runs = Table(title=f"Runs of {state['migration']}", box=box.SIMPLE_HEAD)
    for column in ("run", "wave", "status", "books", "started", *BOOK_COLUMNS):
        runs.add_column(column, justify="right" if column in BOOK_COLUMNS else "left", no_wrap=True)
    for run in state["runs"]:
        books = {True: "[green]balance[/]", False: "[red]do NOT balance[/]", None: "-"}[run["balanced"]]
        runs.add_row(
            run["run_id"],
            run["wave"] or "(all)",
            run["status"],
            books,
            run["started_at"] or "",
            *("" if run[c] is None else str(run[c]) for c in BOOK_COLUMNS),
        )
    console.print(runs)
    if state["waves"]:
        waves = Table(title="Waves", box=box.SIMPLE_HEAD)
        for column in ("wave", "sources", "runs", "last run", "status"):
            waves.add_column(column)
        for wave in state["waves"]:
            waves.add_row(
                wave["wave"],
                ", ".join(wave["sources"]),
                str(wave["runs"]),
                wave["last_run"] or "",
                wave["last_status"],
            )
        console.print(waves)
    console.print(
        f"journal persons: {state['persons']} "
        f"({state['merged_persons']} merged into another by a later wave); "
        f"open quarantine: {state['open_quarantine']}; "
        f"person pairs waiting for review: {state['review_pending']}"
    )
