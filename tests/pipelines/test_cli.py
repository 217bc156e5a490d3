"""The command line: fast help, clear errors with meaningful exit codes, the last run's summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import EXIT_USAGE, app

runner = CliRunner()

SUMMARY = {
    "run_id": "20261123T010000-abcd",
    "migration": "m",
    "wave": None,
    "journal": "sqlite:///j.db",
    "started_at": "x",
    "finished_at": "y",
    "balanced": True,
    "review_pairs": 3,
    "reports": "r",
    "accounts": [
        {
            "source_system": "epr",
            "entity": "person",
            "extracted": 5,
            "loaded": 3,
            "quarantined": 1,
            "merged": 1,
            "out_of_scope": 0,
            "balanced": True,
            "problems": [],
        }
    ],
}


def test_help_imports_neither_prefect_nor_great_expectations() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from pipelines.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); "
        "print(r.exit_code, sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'great_expectations', 'pandas'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"


def test_broken_config_exits_2_naming_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text("name: x\nsources:\n  - {name: a, kind: ftp, location: x, mapping: y}\n")
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == EXIT_USAGE
    assert str(config) in result.output and "sources.0" in result.output


def test_unknown_mapping_spec_fails_before_any_work(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text(
        "name: x\nsources:\n  - {name: a, kind: hl7v2, location: ., mapping: no-such-spec.yaml}\n"
    )
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == EXIT_USAGE and "no-such-spec.yaml" in result.output
    assert not (tmp_path / "runs").exists()


def test_status_without_runs_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--workdir", str(tmp_path)])
    assert result.exit_code == EXIT_USAGE and "no runs" in result.output


def test_status_shows_the_latest_run(tmp_path: Path) -> None:
    for run_id in ("20261122T000000-0000", SUMMARY["run_id"]):
        reports = tmp_path / "runs" / run_id / "reports"
        reports.mkdir(parents=True)
        (reports / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": run_id}))
    result = runner.invoke(app, ["status", "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["run_id"] == SUMMARY["run_id"]
    table = runner.invoke(app, ["status", "--workdir", str(tmp_path)], terminal_width=160)
    assert "the books balance; 3 person pairs wait for review" in table.output and "epr" in table.output
