"""The whole migration under Prefect's test harness: books balance, re-runs change nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import inspect, text

from journal.database import open_journal
from pipelines import stages
from pipelines.config import load_config
from pipelines.demo import write_demo
from pipelines.stages import BooksDoNotBalance, RunContext
from pipelines.workspace import Workspace
from tests.journal.snapshots import assert_same_journal, snapshot

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo"), persons=300, seed=7, error_rate=0.05)


def test_demo_migrates_all_three_systems_and_a_rerun_changes_nothing(
    prefect_harness: None, demo: Path
) -> None:
    from pipelines.flows import migrate

    summary = migrate(str(demo))
    assert summary["balanced"]
    config = load_config(demo)
    engine = open_journal(config.journal)
    with engine.connect() as connection:
        for table in ("encounter", "condition", "observation", "medication_statement"):
            systems = {
                row[0] for row in connection.execute(text(f"SELECT DISTINCT source_system FROM {table}"))
            }
            assert {"hospital-epr", "gp-journal"} <= systems or table == "observation", (table, systems)
        observation_systems = {
            r[0] for r in connection.execute(text("SELECT DISTINCT source_system FROM observation"))
        }
        assert {"hospital-epr", "municipal-care", "gp-messages"} <= observation_systems
        reasons = [r[0] for r in connection.execute(text("SELECT reason FROM quarantine"))]
    assert reasons and all(len(reason) > 20 for reason in reasons)
    accounts = pd.DataFrame(summary["accounts"])
    assert (
        accounts["extracted"] == accounts[["loaded", "quarantined", "merged", "out_of_scope"]].sum(axis=1)
    ).all()

    before = snapshot(engine)
    again = migrate(str(demo))
    assert again["balanced"] and again["run_id"] != summary["run_id"]
    assert_same_journal(before, snapshot(engine))


def test_tampered_journal_fails_the_books(prefect_harness: None, demo: Path) -> None:
    from pipelines.flows import migrate

    summary = migrate(str(demo))
    config = load_config(demo)
    ctx = RunContext(
        config,
        Workspace(config.workdir / "runs" / summary["run_id"], summary["run_id"]),
        dt.datetime.now(),
        None,
    )
    engine = open_journal(config.journal)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM condition WHERE id = (SELECT MIN(id) FROM condition)"))
    with pytest.raises(BooksDoNotBalance, match="condition"):
        stages.reconcile(ctx)


def test_migration_into_postgresql_balances(
    prefect_harness: None, demo: Path, pg_url: str, tmp_path: Path
) -> None:
    from pipelines.flows import migrate

    config = yaml.safe_load(demo.read_text())
    config["journal_url"] = pg_url
    path = demo.parent / "migration-pg.yaml"
    path.write_text(yaml.safe_dump(config))
    summary = migrate(str(path))
    assert summary["balanced"]
    engine = open_journal(pg_url)
    assert set(inspect(engine).get_table_names()) >= {"person", "condition", "source_record", "quarantine"}
    with engine.connect() as connection:
        persons = connection.execute(text("SELECT COUNT(*) FROM person")).scalar_one()
    assert 250 <= persons <= 330, "about one journal person per true person"
