"""`enjournal mappings check|report` on a small CSV source, with and without an earlier run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import EXIT_FAILED, EXIT_USAGE, app
from pipelines.workspace import Workspace

runner = CliRunner()

CONFIG = """\
name: cli-test
sources:
  - name: muni
    kind: csv
    location: legacy
    delimiter: ";"
    mapping: local.yaml
    files:
      - {pattern: brukere.csv, entity: person, key: bruker_id, person_key: bruker_id}
      - {pattern: vurderinger.csv, entity: observation, key: vurdering_id, person_key: bruker_id}
"""

SPEC = """\
entities:
  person:
    fields:
      given_name: fornavn
      family_name: etternavn
      sex: {column: kjonn, map: sex-3101}
  observation:
    coding: {code: variabel, code_map: vitals}
    fields:
      value_num: {column: verdi, parse: number, decimal: ","}
"""


@pytest.fixture
def migration(tmp_path: Path) -> Path:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "brukere.csv").write_text(
        "bruker_id;fornavn;etternavn;kjonn\n1;Kari;Aasen;2\n2;Ola;Haaland;1\n"
    )
    (legacy / "vurderinger.csv").write_text(
        "vurdering_id;bruker_id;variabel;verdi\n10;1;VEKT;72,5\n11;2;HOYDE;180\n12;2;HOYDE;181\n"
    )
    (tmp_path / "codemaps").mkdir()
    (tmp_path / "codemaps" / "vitals.csv").write_text(
        "source_code,source_display,target_system,target_code,target_display,status,set_by\n"
        "VEKT,Vekt,loinc,29463-7,Body weight,approved,steward kari\n"
    )
    (tmp_path / "local.yaml").write_text(SPEC)
    config = tmp_path / "migration.yaml"
    config.write_text(CONFIG)
    return config


def test_check_without_a_run_reads_a_sample_and_passes(migration: Path) -> None:
    result = runner.invoke(app, ["mappings", "check", str(migration)])
    assert result.exit_code == 0, result.output
    assert f"muni: {migration.parent / 'local.yaml'} against a sample read now from" in result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_check_names_the_spec_line_of_a_column_the_source_does_not_stage(migration: Path) -> None:
    spec = migration.parent / "local.yaml"
    spec.write_text(SPEC.replace("given_name: fornavn", "given_name: fornavnet"))
    result = runner.invoke(app, ["mappings", "check", str(migration), "--json"])
    assert result.exit_code == EXIT_FAILED
    report = json.loads(result.output)
    assert report["errors"] == 1
    assert report["findings"][0]["message"] == (
        f"{spec}:4: entities.person.fields.given_name.column: column 'fornavnet' is not in the staging of muni/person"
    )


def test_check_prefers_the_latest_run_and_extract_reads_the_source_again(migration: Path) -> None:
    space = Workspace.create(migration.parent, "20261123T010000-abcd")
    staged = pd.DataFrame(
        {"bruker_id": ["1"], "fornavn": ["Kari"], "etternavn": ["Aasen"], "kjonn_kode": ["2"]}
    )
    space.write_frame(staged, "staging", "muni", "person", "part-00001.parquet")
    from_run = runner.invoke(app, ["mappings", "check", str(migration)])
    assert from_run.exit_code == EXIT_FAILED
    assert "against run 20261123T010000-abcd (staging Parquet schemas)" in from_run.output
    assert "column 'kjonn' is not in the staging of muni/person" in from_run.output
    assert "the spec maps observation but muni staged no observation records" in from_run.output
    fresh = runner.invoke(app, ["mappings", "check", str(migration), "--extract", "--rows", "1"])
    assert fresh.exit_code == 0, fresh.output


def test_a_broken_spec_or_an_unknown_source_exits_2(migration: Path) -> None:
    spec = migration.parent / "local.yaml"
    spec.write_text(SPEC.replace("map: sex-3101", "map: sex-9999"))
    result = runner.invoke(app, ["mappings", "report", str(migration)])
    assert result.exit_code == EXIT_USAGE
    assert f"{spec}:6: entities.person.fields.sex.map: unknown value map 'sex-9999'" in result.output
    unknown = runner.invoke(app, ["mappings", "check", str(migration), "--source", "gp"])
    assert unknown.exit_code == EXIT_USAGE and "no source(s) ['gp']" in unknown.output


def test_report_lists_every_unmapped_code_with_its_count(migration: Path) -> None:
    out = migration.parent / "review"
    result = runner.invoke(app, ["mappings", "report", str(migration), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 source code(s) to resolve, in 2 record(s)" in result.output
    with (out / "unmapped-codes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["code_map"], r["source_code"], r["count"], r["outcome"]) for r in rows] == [
        ("vitals", "HOYDE", "2", "unmapped")
    ]
    assert "HOYDE" in (out / "mappings.html").read_text(encoding="utf-8")
    summary = pd.read_csv(out / "mapping-summary.csv").set_index("entity")
    assert (summary.loc["observation", "mapped"], summary.loc["observation", "unmapped"]) == (1, 2)


def test_mappings_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from pipelines.cli import app; "
        "r = CliRunner().invoke(app, ['mappings', 'check', '--help']); "
        "print(r.exit_code, sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'great_expectations', 'pandas'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"
