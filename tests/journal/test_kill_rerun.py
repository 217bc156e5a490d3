"""A run killed at any moment (SIGKILL) and run again ends in exactly the journal a clean run gives.

The killed run is a separate process (`killed_run.py`) that dies just before a chosen
write to the journal: at its start, inside the persons' transaction, inside a clinical
batch, between batches, inside the quarantine's transaction, after loading but before
its books. The re-run is a whole fresh run in this process (no Prefect server), which
must give every table, ids included, exactly as a clean run into an empty journal does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from journal.database import open_journal
from journal.schema import Base, MigrationRun
from pipelines import runner
from pipelines.demo import write_demo
from tests.journal.snapshots import assert_same_journal, snapshot

KILLER = Path(__file__).with_name("killed_run.py")
BATCH_ROWS = "40"
KILL_POINTS = [
    # (journal table, its n-th write to die before, the whole pipeline runs in the killed process)
    ("migration_run", 1, False),  # at the very start, before the run is even recorded
    ("person_link", 1, True),  # inside the persons' transaction: persons written, links not
    ("source_record", 4, False),  # inside the first clinical batch: rows written, provenance not
    ("source_record", 39, False),  # inside a batch of the second source, many batches committed
    ("quarantine", 2, False),  # inside the quarantine's transaction
    ("run_account", 1, False),  # everything loaded, the books not yet recorded
]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small region with planted errors, from two of the legacy systems (SQL and CSV)."""
    config = write_demo(tmp_path_factory.mktemp("kill"), persons=60, seed=13, error_rate=0.05)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["name"] in ("hospital-epr", "municipal-care")]
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


def test_a_killed_run_reruns_to_the_journal_a_clean_run_gives(
    region: Path, journal_url: str, tmp_path: Path
) -> None:
    data = yaml.safe_load(region.read_text(encoding="utf-8"))
    config = region.with_name(f"migration-{tmp_path.name}.yaml")
    config.write_text(yaml.safe_dump({**data, "journal_url": journal_url, "workdir": str(tmp_path)}))
    engine = open_journal(journal_url)
    clean_run = runner.new_context(config)
    runner.run(clean_run)
    clean = snapshot(engine)
    assert len(clean["person"]) > 20 and len(clean["quarantine"]) > 3

    for table, occurrence, whole in KILL_POINTS:
        point = f"killed before write {occurrence} to {table}"
        Base.metadata.drop_all(engine)
        prepared = [] if whole else [str(clean_run.workspace.root)]
        died = subprocess.run(
            [sys.executable, str(KILLER), str(config), table, str(occurrence), BATCH_ROWS, *prepared],
            capture_output=True,
            text=True,
            check=False,
        )
        assert died.returncode == -signal.SIGKILL, f"{point}: {died.stderr[-3000:]}"
        rerun = runner.new_context(config)
        [summary] = runner.run(rerun)["reconcile"]
        assert summary["balanced"], point
        assert_same_journal(clean, snapshot(engine), note=point)
        with engine.connect() as connection:
            runs = dict(connection.execute(select(MigrationRun.run_id, MigrationRun.status)).all())
        assert runs.pop(rerun.run_id) == "completed", point
        assert set(runs.values()) <= {"interrupted"}, (
            f"{point}: the killed run is marked when the next starts"
        )
