"""Steward decisions through the CLI: stored in the journal with who, when and why;
a later decision on a pair replaces the earlier one; unknown pairs are refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import decisions
from identity.match import pair_id
from journal.database import open_journal
from pipelines.cli import EXIT_USAGE, app

runner = CliRunner()
PAIR = pair_id(("gp-journal", "LK01-000001"), ("municipal-care", "100007"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A migration whose latest match run left one review pair."""
    path = tmp_path / "migration.yaml"
    path.write_text(
        "name: t\nworkdir: .\nsources:\n"
        "  - {name: gp-journal, kind: kith-xml, location: gp, mapping: gp-journal-export.yaml}\n",
        encoding="utf-8",
    )
    review = pd.DataFrame(
        {
            "pair_id": [PAIR],
            "left_source_system": ["gp-journal"],
            "left_source_person_id": ["LK01-000001"],
            "right_source_system": ["municipal-care"],
            "right_source_person_id": ["100007"],
        }
    )
    folder = tmp_path / "runs" / "20250630T120000-abcd" / "identity"
    folder.mkdir(parents=True)
    review.to_parquet(folder / "review.parquet")
    return path


def _stored(config: Path) -> pd.DataFrame:
    return decisions.load(open_journal(f"sqlite:///{config.parent / 'journal.db'}"))


def test_accept_is_stored_with_who_and_why(config: Path) -> None:
    result = runner.invoke(
        app, ["review", "accept", PAIR, "--config", str(config), "--by", "kari", "--reason", "same person"]
    )
    assert result.exit_code == 0, result.output
    row = _stored(config).iloc[0]
    assert (row["pair_id"], row["decision"], row["decided_by"], row["reason"]) == (
        PAIR,
        "accept",
        "kari",
        "same person",
    )
    assert (row["left_source_system"], row["right_source_person_id"]) == ("gp-journal", "100007")


def test_a_later_decision_replaces_the_earlier_one(config: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["review", "accept", PAIR, "--config", str(config), "--by", "kari"])
    sheet = tmp_path / "decisions.csv"
    sheet.write_text(f"pair_id,decision,reason\n{PAIR},reject,twins\n", encoding="utf-8")
    result = runner.invoke(app, ["review", "import", str(sheet), "--config", str(config), "--by", "ola"])
    assert result.exit_code == 0, result.output
    stored = _stored(config)
    assert (
        len(stored) == 1 and stored.iloc[0]["decision"] == "reject" and stored.iloc[0]["decided_by"] == "ola"
    )


def test_unknown_pair_or_verdict_is_refused(config: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["review", "accept", "0123456789abcdef", "--config", str(config), "--by", "kari"]
    )
    assert result.exit_code == EXIT_USAGE and "0123456789abcdef" in result.output
    sheet = tmp_path / "decisions.csv"
    sheet.write_text(f"pair_id,decision,decided_by\n{PAIR},maybe,kari\n", encoding="utf-8")
    result = runner.invoke(app, ["review", "import", str(sheet), "--config", str(config)])
    assert result.exit_code == EXIT_USAGE and "accept or reject" in result.output
    assert _stored(config).empty
