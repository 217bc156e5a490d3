"""The three-wave example: wave by wave into one journal, people matched across waves,
journal person ids never renumbered, and the end state that of migrating all at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from journal.database import open_journal
from journal.schema import CLINICAL_TABLES, Person, PersonLink, SourceRecord
from pipelines import runner
from pipelines.cli import app
from synthetic import generate
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "three-waves" / "migration.yaml"
WAVES = ("trondheim-municipality", "st-olavs-hospital", "gp-offices")


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("legacy")
    generate(out, persons=150, seed=7, error_rate=0.05)
    return out


def example(folder: Path, legacy: Path) -> Path:
    """The example config beside a copy of the synthetic legacy data."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(legacy, folder / "legacy")
    return Path(shutil.copy(EXAMPLE, folder / "migration.yaml"))


def links(config: Path) -> pd.DataFrame:
    engine = open_journal(f"sqlite:///{config.parent / 'journal.db'}")
    with engine.connect() as connection:
        return pd.read_sql(select(PersonLink), connection).set_index(["source_system", "source_person_id"])


def partition(frame: pd.DataFrame) -> set[frozenset[tuple[str, str]]]:
    """Which source person records are one person, whatever the persons are numbered."""
    return {frozenset(group.index) for _, group in frame.groupby("journal_person_id")}


@pytest.fixture(scope="module")
def waves(legacy: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[pd.DataFrame]]:
    """The example migrated wave by wave; the person links after each wave."""
    config = example(tmp_path_factory.mktemp("waves"), legacy)
    after = []
    for wave in WAVES:
        runner.run(runner.new_context(config, wave))
        after.append(links(config))
    return config, after


def test_people_keep_their_journal_person_id_through_later_waves(
    waves: tuple[Path, list[pd.DataFrame]],
) -> None:
    _, after = waves
    for earlier, later in zip(after, after[1:], strict=False):
        kept = later.loc[earlier.index, "journal_person_id"]
        moved = kept != earlier["journal_person_id"]
        # an id changes only when a later wave shows two earlier persons to be one
        merged = earlier.loc[moved, "journal_person_id"]
        assert set(merged).isdisjoint(set(later["journal_person_id"])), "a merged person's id is retired"
        assert moved.mean() < 0.02


def test_wave_by_wave_links_people_as_one_run_over_all_sources_does(
    waves: tuple[Path, list[pd.DataFrame]], legacy: Path, tmp_path: Path
) -> None:
    config, after = waves
    at_once = example(tmp_path / "at-once", legacy)
    runner.run(runner.new_context(at_once))
    assert partition(after[-1]) == partition(links(at_once))

    truth = pd.read_csv(legacy / "truth.csv", dtype=str).set_index(["source_system", "source_person_id"])
    people = after[-1].join(truth, how="inner")
    split = people.groupby("person_id")["journal_person_id"].nunique()
    assert (split > 1).mean() < 0.02, "people met in several waves are found again"
    assert people.groupby("journal_person_id")["person_id"].nunique().max() == 1, "nobody merged wrongly"


def test_merged_persons_are_retired_and_no_row_points_at_them(waves: tuple[Path, list[pd.DataFrame]]) -> None:
    config, _ = waves
    engine = open_journal(f"sqlite:///{config.parent / 'journal.db'}")
    with engine.connect() as connection:
        persons = pd.read_sql(select(Person.journal_person_id, Person.merged_into), connection)
        linked = set(pd.read_sql(select(PersonLink.journal_person_id), connection)["journal_person_id"])
        retired = set(persons.loc[persons["merged_into"].notna(), "journal_person_id"])
        assert retired.isdisjoint(linked)
        assert set(persons.loc[persons["merged_into"].isna(), "journal_person_id"]) == linked
        for model in CLINICAL_TABLES.values():
            used = set(pd.read_sql(select(model.journal_person_id), connection)["journal_person_id"])
            assert used <= linked, f"{model.__tablename__} rows point at retired persons"


def test_re_running_an_earlier_wave_changes_nobody(waves: tuple[Path, list[pd.DataFrame]]) -> None:
    config, after = waves
    ctx = runner.new_context(config, WAVES[0])
    runner.run(ctx)
    assert links(config)["journal_person_id"].equals(after[-1]["journal_person_id"])
    summary = ctx.workspace.read_json("reports", "summary.json")
    assert summary["balanced"] and summary["wave"] == WAVES[0]
    engine = open_journal(f"sqlite:///{config.parent / 'journal.db'}")
    with engine.connect() as connection:
        touched = pd.read_sql(select(SourceRecord).where(SourceRecord.last_run_id == ctx.run_id), connection)
    assert touched.empty, "an unchanged wave re-run touches no journal row"


def test_status_lists_runs_waves_and_what_waits(waves: tuple[Path, list[pd.DataFrame]]) -> None:
    config, after = waves
    cli = CliRunner()
    state = json.loads(cli.invoke(app, ["status", str(config), "--json"]).output)
    assert [w["wave"] for w in state["waves"]] == list(WAVES)
    assert all(w["last_status"] == "completed" and w["runs"] >= 1 for w in state["waves"])
    assert [r["wave"] for r in state["runs"][:3]] == list(WAVES)
    assert state["persons"] == after[-1]["journal_person_id"].nunique()
    assert all(r["balanced"] and r["extracted"] > 0 for r in state["runs"])
    table = cli.invoke(app, ["status", str(config)], env={"COLUMNS": "200"}).output
    assert "st-olavs-hospital" in table and "hospital-epr, hospital-hl7" in table
    assert f"journal persons: {state['persons']}" in table
