"""`enjournal match` on a synthetic region: the report is written, and steward decisions
stored in the journal are replayed on every later run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from identity import decisions
from identity.match import pair_id
from journal.database import open_journal
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.demo import write_demo

runner = CliRunner()


def _match(config: Path) -> tuple[pd.DataFrame, Path]:
    result = runner.invoke(app, ["match", str(config), "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    identity = Path(run["report"]).parent.parent / "identity"
    return pd.read_parquet(identity / "persons.parquet"), Path(run["report"])


def test_match_writes_the_report_and_replays_decisions_on_every_run(tmp_path: Path) -> None:
    config = write_demo(tmp_path, persons=120, seed=5, error_rate=0.05)
    persons, report = _match(config)
    assert (
        report.exists()
        and (report.parent / "review.csv").exists()
        and (report.parent / "review.json").exists()
    )
    # Two records the engine linked by their shared fødselsnummer: a steward says they are two people.
    shared = persons[persons["link_kind"] == "id_exact"].groupby("id_value").head(2)
    first, second = shared.iloc[0], shared[shared["id_value"] == shared.iloc[0]["id_value"]].iloc[1]
    sides = (
        first["source_system"],
        first["source_person_id"],
        second["source_system"],
        second["source_person_id"],
    )
    decision = pd.DataFrame(
        [
            {
                "pair_id": pair_id(sides[:2], sides[2:]),
                "left_source_system": sides[0],
                "left_source_person_id": sides[1],
                "right_source_system": sides[2],
                "right_source_person_id": sides[3],
                "decision": "reject",
                "decided_by": "kari",
                "decided_at": dt.datetime(2025, 7, 1),
                "reason": "mother and child share a number",
            }
        ]
    )
    decisions.store(open_journal(load_config(config).journal), decision)
    for _ in range(2):
        persons, _ = _match(config)
        keyed = persons.set_index(["source_system", "source_person_id"])["cluster"]
        assert keyed[sides[:2]] != keyed[sides[2:]], "the rejection holds on every run"
