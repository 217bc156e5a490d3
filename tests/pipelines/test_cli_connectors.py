"""`enjournal extract` and `enjournal profile`: files written, counts printed, clear exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from pipelines.cli import EXIT_USAGE, app
from tests.conftest import CASES

runner = CliRunner()


def test_extract_writes_staging_parquet_per_entity_and_quarantine(tmp_path: Path, shared_data: Path) -> None:
    result = runner.invoke(
        app, ["extract", "--type", "hl7v2", str(shared_data / "hl7v2"), "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)["sources"]["hl7v2"]
    assert counts == {
        "person": 4,
        "encounter": 4,
        "observation": 7,
        "allergy": 3,
        "condition": 3,
        "quarantined": 1,
    }
    persons = pq.read_table(tmp_path / "staging" / "hl7v2" / "person").to_pandas()
    assert len(persons) == 4 and persons["record_hash"].str.len().eq(64).all()
    quarantine = pq.read_table(tmp_path / "quarantine" / "hl7v2" / "extract").to_pandas()
    assert quarantine["rule"].tolist() == ["hl7.attachment"]


def test_extract_again_replaces_what_the_last_extract_wrote(tmp_path: Path, shared_data: Path) -> None:
    args = [
        "extract",
        "--type",
        "kith-xml",
        str(shared_data / "kith" / "Epikrise"),
        "--out",
        str(tmp_path),
        "--name",
        "ep",
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args).exit_code == 0
    persons = pq.read_table(tmp_path / "staging" / "ep" / "person").to_pandas()
    assert len(persons) == 3, "a repeated extract never stages a record twice"
    assert "Extracted into" in runner.invoke(app, args).output


def test_extract_csv_and_sql_need_their_declared_files_or_tables(tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", "--type", "sql", "sqlite:///x.db", "--out", str(tmp_path)])
    assert result.exit_code == EXIT_USAGE
    assert "tables" in result.output and "--config" in result.output
    config = tmp_path / "csv.yaml"
    config.write_text(
        "encoding: auto\ndelimiter: auto\nfiles:\n  - {pattern: '*.csv', entity: person, key: bruker_id, person_key: bruker_id}\n"
    )
    data = CASES / "connectors" / "profile" / "input"
    result = runner.invoke(
        app,
        ["extract", "--type", "csv", str(data), "--out", str(tmp_path), "--config", str(config), "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sources"]["input"] == {"person": 10, "quarantined": 1}


def test_inputs_with_the_same_name_are_staged_side_by_side(tmp_path: Path, shared_data: Path) -> None:
    first, second = tmp_path / "a" / "hl7", tmp_path / "b" / "hl7"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "x.hl7").write_bytes((shared_data / "hl7v2" / "ADT-A01-01.hl7").read_bytes())
    result = runner.invoke(
        app, ["extract", "--type", "hl7v2", str(first), str(second), "--out", str(tmp_path / "o"), "--json"]
    )
    assert set(json.loads(result.output)["sources"]) == {"hl7-1", "hl7-2"}


def test_extract_of_a_missing_location_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["extract", "--type", "hl7v2", str(tmp_path / "nowhere"), "--out", str(tmp_path)]
    )
    assert result.exit_code == EXIT_USAGE and "does not exist" in result.output


def test_profile_writes_html_and_csv_for_mixed_inputs(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "report"
    inputs = [str(CASES / "connectors" / "profile" / "input"), str(shared_data / "hl7v2")]
    result = runner.invoke(app, ["profile", *inputs, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"profile.html", "profile.csv", "profile-tables.csv"}
    tables = (out / "profile-tables.csv").read_text(encoding="utf-8")
    assert "input,brukere.csv,10,6,encoding=cp1252" in tables
    assert "hl7v2,person,4," in tables and "quarantined: hl7.attachment" in tables
