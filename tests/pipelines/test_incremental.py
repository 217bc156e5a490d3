"""Incremental re-runs: an unchanged source is not read again, unchanged records are not
mapped or loaded again, and the run says what was new, changed and unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from journal.database import open_journal
from journal.schema import CLINICAL_TABLES, Observation, Person, PersonLink, SourceRecord
from pipelines import runner
from pipelines.demo import write_demo
from pipelines.stages import RunContext

CHANGED_SHARE = 0.01


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("incremental"), persons=150, seed=11, error_rate=0.02)


def migrate(config: Path) -> tuple[RunContext, dict[str, list[dict[str, int]]]]:
    ctx = runner.new_context(config)
    return ctx, runner.run(ctx)


def change_lab_results(epr: Path, share: float) -> list[str]:
    """A correction at the source of `share` of the EPR's lab results; their ids."""
    with sqlite3.connect(epr) as db:
        ids = [
            str(i)
            for (i,) in db.execute("SELECT LAB_ID FROM LABSVAR WHERE VERDI GLOB '[0-9]*' ORDER BY LAB_ID")
        ]
        chosen = ids[:: round(1 / share)]
        db.executemany("UPDATE LABSVAR SET VERDI = VERDI || '1' WHERE LAB_ID = ?", [(i,) for i in chosen])
    return chosen


def touched(config: Path, run_id: str) -> dict[str, set[str]]:
    """Per journal table, the source records a run inserted or changed."""
    engine = open_journal(f"sqlite:///{config.parent / 'journal.db'}")
    out: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for model in (*CLINICAL_TABLES.values(), SourceRecord):
            rows = pd.read_sql(select(model.source_record_id).where(model.last_run_id == run_id), connection)
            out[model.__tablename__] = set(rows["source_record_id"])
        out["person"] = set(
            pd.read_sql(select(Person.journal_person_id).where(Person.last_run_id == run_id), connection)[
                "journal_person_id"
            ].astype(str)
        )
        out["person_link"] = set(
            pd.read_sql(select(PersonLink.source_person_id).where(PersonLink.run_id == run_id), connection)[
                "source_person_id"
            ]
        )
    return {table: keys for table, keys in out.items() if keys}


def test_a_re_run_after_changing_one_percent_touches_only_those_and_says_so(region: Path) -> None:
    first, _ = migrate(region)
    books = first.workspace.read_json("reports", "summary.json")
    assert books["balanced"]
    [failed] = [
        a["quarantined"]
        for a in books["accounts"]
        if (a["source_system"], a["entity"]) == ("hospital-epr", "observation")
    ]
    changed = change_lab_results(region.parent / "legacy" / "hospital" / "epr.sqlite", CHANGED_SHARE)
    assert len(changed) >= 5

    second, results = migrate(region)
    summary = second.workspace.read_json("reports", "summary.json")
    assert summary["balanced"], "skipped records are accounted for as loaded"
    verdict = {k: summary["gate"][k] for k in ("passed", "critical_failures")}
    assert verdict == {k: books["gate"][k] for k in verdict}, "skipped records count as passing rows"
    assert touched(region, second.run_id) == {"observation": set(changed), "source_record": set(changed)}

    delta = {(d["source_system"], d["entity"]): d for d in summary["delta"]}
    lab = delta[("hospital-epr", "observation")]
    assert (lab["new"], lab["changed"]) == (0, len(changed))
    assert lab["skipped"] == lab["unchanged"] - failed > 0, "what failed last time is checked again"
    others = [d for key, d in delta.items() if key != ("hospital-epr", "observation")]
    assert all(d["new"] == 0 and d["changed"] == 0 for d in others), others

    cached = {
        name
        for name, counts in zip(second.source_names, results["extract"], strict=True)
        if counts.get("cached")
    }
    assert cached == set(second.source_names) - {"hospital-epr"}, "only the changed source is read again"


def test_a_changed_mapping_spec_maps_every_record_again(region: Path, tmp_path: Path) -> None:
    """Skipping holds only while the journal's rows were made by the same spec and suites."""
    migrate(region)
    spec = Path(region.parent / "municipal.yaml")
    from mappings.spec import SPECS_DIR

    spec.write_text(
        (SPECS_DIR / "synthetic-municipal-care.yaml").read_text(encoding="utf-8") + "\n# revised\n",
        encoding="utf-8",
    )
    text = region.read_text(encoding="utf-8").replace(
        "mapping: synthetic-municipal-care.yaml", "mapping: municipal.yaml"
    )
    region.write_text(text, encoding="utf-8")
    ctx, _ = migrate(region)
    delta = {
        (d["source_system"], d["entity"]): d
        for d in ctx.workspace.read_json("reports", "summary.json")["delta"]
    }
    assert delta[("municipal-care", "observation")]["skipped"] == 0
    assert delta[("municipal-care", "observation")]["unchanged"] > 0
    assert delta[("hospital-epr", "observation")]["skipped"] > 0


def test_observation_rows_keep_their_values_when_skipped(region: Path) -> None:
    """A skipped record's journal row is the row a full mapping makes (here: unchanged)."""
    engine = open_journal(f"sqlite:///{region.parent / 'journal.db'}")
    with engine.connect() as connection:
        before = pd.read_sql(select(Observation).order_by(Observation.id), connection)
    migrate(region)
    with engine.connect() as connection:
        after = pd.read_sql(select(Observation).order_by(Observation.id), connection)
    pd.testing.assert_frame_equal(before, after)
