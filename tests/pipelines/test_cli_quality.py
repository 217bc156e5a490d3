"""The quality commands on synthetic regions with planted errors: the gate, the books, the quarantine.

The planted errors are listed in each region's manifest.json; a correct pipeline
quarantines exactly those records (and the records derived from them) with readable
reasons, loads the rest, and its gate fails exactly on the checks they push beyond their
thresholds.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import select, text
from typer.testing import CliRunner

from journal import loader
from journal.database import open_journal
from journal.schema import MigrationRun, Quarantine, SourceRecord
from pipelines import demo, runner
from pipelines.cli import EXIT_FAILED, EXIT_USAGE, app
from pipelines.demo import write_demo
from pipelines.stages import RunContext
from synthetic.manifest import INVALID_KINDS, Manifest
from validators.gate import SUITES_DIR

cli = CliRunner()
GATE_KIND = {"code_valid": "unknown_code", "journal_person_id": "orphan_record"}
"""The gate's checks that can catch a planted kind; no other critical check may fail."""
NLK_GAP = ("gp-messages", "observation", "unknown_code")
"""NLK lab codes are checked by format only (no code list in the repository): NPU99999 passes."""


def planted(config: Path) -> pd.DataFrame:
    manifest = Manifest.read(config.parent / "legacy" / "manifest.json")
    rows = [e.model_dump() for e in manifest.injected if e.kind in INVALID_KINDS]
    return pd.DataFrame(rows)


def only(config: Path, *sources: str) -> Path:
    """The config with only these sources."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["name"] in sources]
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("planted"), persons=120, seed=21, error_rate=0.05)


@pytest.fixture(scope="module")
def migrated(region: Path) -> RunContext:
    """The planted region migrated once into its SQLite journal (without Prefect)."""
    ctx = runner.new_context(region)
    runner.run(ctx)
    return ctx


def test_the_gate_fails_exactly_on_the_checks_planted_rows_break(region: Path, tmp_path: Path) -> None:
    junit, verdict_file = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "gate.json"
    result = cli.invoke(app, ["validate", str(region), "--junit", str(junit), "--json", str(verdict_file)])
    assert result.exit_code == EXIT_FAILED, result.output
    assert "the gate FAILS" in result.output
    verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    bad = planted(region)
    counts = Counter(zip(bad["source_system"], bad["entity"], bad["kind"], strict=True))
    for check in verdict["results"]:
        if check["severity"] != "critical":
            continue
        kind = GATE_KIND.get(check["column"])
        planted_rows = counts.get((check["source_system"], check["entity"], kind), 0)
        if kind == "orphan_record":  # only the gate can see that a person is missing
            assert check["failed"] == planted_rows, check
        else:  # a code check may find a planted code the mapping has not quarantined already
            assert check["failed"] <= planted_rows, check
        assert check["within_threshold"] == (
            check["failed"] <= check["rows"] * (1 - check["threshold"]) + 1e-9
        )
    failures = {
        (case.get("classname"), case.get("name").split()[0])
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    expected_failures = {
        (f"{c['source_system']}.{c['entity']}", c["column"])
        for c in verdict["results"]
        if c["severity"] == "critical" and not c["within_threshold"]
    }
    assert failures == expected_failures and failures, "JUnit lists the failed critical checks"
    assert verdict["passed"] is False and verdict["critical_failures"] == len(failures)
    docs = list(region.parent.glob("runs/*/reports/data_docs/index.html"))
    assert docs, "Great Expectations Data Docs are written beside the JUnit file"


def test_the_gate_passes_a_clean_region(tmp_path: Path) -> None:
    config = only(write_demo(tmp_path, persons=60, seed=22, error_rate=0), "hospital-epr", "municipal-care")
    result = cli.invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    [reports] = list(tmp_path.glob("runs/*/reports"))
    root = ET.parse(reports / "junit.xml").getroot()
    assert (root.get("failures"), root.get("errors")) == ("0", "0") and int(root.get("tests")) > 50
    quarantined = [pd.read_parquet(p) for p in reports.parent.glob("quarantine/**/*.parquet")]
    assert sum(map(len, quarantined)) == 0, "nothing is quarantined in clean data"


def test_validate_with_a_broken_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text("name: x\nsources: []\nwaves: [{name: w, sources: [nope]}]\n")
    result = cli.invoke(app, ["validate", str(config)])
    assert result.exit_code == EXIT_USAGE and "nope" in result.output


def test_a_run_loads_the_good_records_and_quarantines_exactly_the_planted_ones(migrated: RunContext) -> None:
    gate = migrated.workspace.read_json("reports", "summary.json")["gate"]
    assert not gate["passed"] and gate["critical_failures"] > 0, (
        "the run's summary carries the gate's verdict"
    )
    engine = open_journal(migrated.config.journal)
    with engine.connect() as connection:
        quarantine = pd.read_sql(select(Quarantine).where(Quarantine.status == "open"), connection)
        loaded = pd.read_sql(
            select(SourceRecord.source_system, SourceRecord.entity, SourceRecord.source_record_id), connection
        )
    bad = planted(migrated.config.config_path)
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in quarantine.to_dict("records"):
        record = row["source_record_id"]
        # a GP consultation's diagnoses and note carry its id as prefix: one bad date, three records
        key = next(
            (s, r)
            for s, r in zip(bad["source_system"], bad["record_id"], strict=True)
            if s == row["source_system"] and (record == r or record.startswith(f"{r}/"))
        )
        found.setdefault(key, []).append(row)
    for entry in bad.to_dict("records"):
        rows = found.get((entry["source_system"], entry["record_id"]), [])
        if (entry["source_system"], entry["entity"], entry["kind"]) == NLK_GAP:
            continue
        assert rows, f"planted but not quarantined: {entry}"
        for row in rows:
            assert entry["value"].replace(".", "") in row["reason"].replace(".", ""), (entry, row["reason"])
            assert len(row["reason"]) > 25 and row["rule"].split(".")[0] in ("map", "gx")

    staged = pd.concat(
        pd.read_parquet(path, columns=["source_system", "source_record_id"]).assign(entity=path.parent.name)
        for path in migrated.workspace.path("staging").glob("*/*/*.parquet")
    )

    def keys(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
        return set(zip(frame["source_system"], frame["entity"], frame["source_record_id"], strict=True))

    # older versions of a record share its key: they merge into the version that loads
    assert keys(loaded) == keys(staged) - keys(quarantine), "every other record is loaded"


def copy_journal(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite journal (its WAL included)."""
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def reconciled(config: Path, *options: str) -> Any:
    return cli.invoke(app, ["reconcile", str(config), *options], env={"COLUMNS": "300"})


def test_reconcile_balances_and_fails_loudly_on_a_tampered_journal(
    migrated: RunContext, tmp_path: Path
) -> None:
    """On a copy of the migrated journal, with the run's workspace where it is."""
    original = migrated.config.config_path
    copy = tmp_path / "journal.db"
    copy_journal(original.parent / "journal.db", copy)
    config = tmp_path / "migration.yaml"
    data = migrated.config.model_dump(mode="json")
    config.write_text(yaml.safe_dump({**data, "journal_url": f"sqlite:///{copy}"}), encoding="utf-8")

    result = reconciled(config)
    assert result.exit_code == 0, result.output
    assert migrated.run_id in result.output and "the books balance" in result.output
    books = json.loads(reconciled(config, "--json").output)
    assert books["balanced"] and all(
        a["extracted_checksum"] == a["accounted_checksum"] for a in books["accounts"]
    )

    engine = open_journal(f"sqlite:///{copy}")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM observation WHERE id = (SELECT MAX(id) FROM observation)"))
    result = reconciled(config)
    assert result.exit_code == EXIT_FAILED and "the books do NOT balance" in result.output
    assert "provenance rows have no observation row" in result.output
    with engine.connect() as connection:
        assert (
            connection.execute(
                select(MigrationRun.balanced).where(MigrationRun.run_id == migrated.run_id)
            ).scalar_one()
            is False
        )

    copy_journal(original.parent / "journal.db", copy)
    engine.dispose()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO condition (id, source_system, source_record_id, record_hash, row_hash, last_run_id, "
                "journal_person_id, code) SELECT (SELECT MAX(id) + 1 FROM condition), source_system, "
                "source_record_id || '-copy', record_hash, row_hash, last_run_id, journal_person_id, code "
                "FROM condition WHERE id = 1"
            )
        )
    result = reconciled(config, "--json")
    assert result.exit_code == EXIT_FAILED
    problems = [p for a in json.loads(result.output)["accounts"] for p in a["problems"]]
    assert len(problems) == 1 and "condition holds" in problems[0]

    assert reconciled(config, "--run", "19990101T000000-0000").exit_code == EXIT_USAGE


def fix_at_source(config: Path, entry: dict[str, Any], value: str) -> None:
    """Correct one planted value in a municipal CSV export, as the municipality would."""
    file_name, column = entry["location"].split(":")
    path = config.parent / "legacy" / "municipal" / file_name
    with path.open(encoding="cp1252", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    key = next(iter(rows[0]))
    [row] = [r for r in rows if r[key] == entry["record_id"]]
    assert row[column] == entry["value"]
    row[column] = value
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_steward_releases_records_fixed_at_the_source_and_the_next_run_reprocesses_them(
    tmp_path: Path,
) -> None:
    config = only(write_demo(tmp_path, persons=60, seed=23, error_rate=0.05), "municipal-care")
    runner.run(runner.new_context(config))
    bad = planted(config).query("source_system == 'municipal-care'")
    fixed = bad[(bad["kind"] == "invalid_date") & (bad["entity"] == "encounter")].iloc[0].to_dict()
    unfixed = bad[bad["kind"] == "bad_number"].iloc[0].to_dict()

    listed = json.loads(cli.invoke(app, ["quarantine", "list", str(config), "--json"]).output)
    ids = {row["source_record_id"]: row["id"] for row in listed}
    assert set(ids) == set(bad["record_id"]), "the list holds exactly the planted records"
    table = cli.invoke(app, ["quarantine", "list", str(config)], env={"COLUMNS": "300"}).output
    assert fixed["value"] in table and f"{len(listed)} records" in table

    assert cli.invoke(app, ["quarantine", "release", str(config), "--by", "x"]).exit_code == EXIT_USAGE
    result = cli.invoke(
        app,
        [
            "quarantine",
            "release",
            str(config),
            str(ids[fixed["record_id"]]),
            str(ids[unfixed["record_id"]]),
            "--by",
            "steward",
        ],
    )
    assert result.exit_code == 0 and "released 2 records" in result.output
    released = json.loads(
        cli.invoke(app, ["quarantine", "list", str(config), "--status", "released", "--json"]).output
    )
    assert {r["released_by"] for r in released} == {"steward"} and len(released) == 2

    fix_at_source(config, fixed, "28.02.2019")
    runner.run(runner.new_context(config))
    everything = json.loads(
        cli.invoke(app, ["quarantine", "list", str(config), "--status", "all", "--json"]).output
    )
    status = {r["source_record_id"]: (r["status"], r["released_by"]) for r in everything}
    assert status[fixed["record_id"]] == ("resolved", "steward"), "fixed at the source: loaded"
    assert status[unfixed["record_id"]] == ("open", "steward"), "released but still broken: open again"
    engine = open_journal(runner.new_context(config).config.journal)
    with engine.connect() as connection:
        start = connection.execute(
            text(
                "SELECT start FROM encounter WHERE source_system = 'municipal-care' AND source_record_id = :id"
            ),
            {"id": fixed["record_id"]},
        ).scalar_one()
    assert str(start).startswith("2019-02-28")


def test_quarantine_show_masks_national_ids_and_hides_person_payloads(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text("name: q\nsources: []\n")
    engine = open_journal(f"sqlite:///{tmp_path / 'journal.db'}")
    loader.load_quarantine(
        engine,
        pd.DataFrame(
            {
                "source_system": ["gp-journal"],
                "source_kind": ["kith-xml"],
                "entity": ["person"],
                "source_locator": ["x.xml#3"],
                "source_record_id": ["LK01-000001"],
                "stage": ["validate"],
                "rule": ["gx.expect_column_values_to_be_between.birth_date"],
                "field": ["national_id"],
                "value": ["15108695088"],
                "reason": ["person.national_id '15108695088' is not plausible"],
                "raw_payload": ['{"national_id": "15108695088", "address_line": "Skjult vei 1"}'],
                "record_hash": ["ab"],
            }
        ),
        "r1",
        ["gp-journal"],
    )
    with engine.connect() as connection:
        [row_id] = connection.execute(select(Quarantine.id)).scalars().all()
    shown = cli.invoke(app, ["quarantine", "show", str(config), str(row_id)]).output
    assert "151086*****" in shown and "15108695088" not in shown and "Skjult vei" not in shown
    with_payload = cli.invoke(
        app, ["quarantine", "show", str(config), str(row_id), "--payload", "--json"]
    ).output
    assert "Skjult vei" in with_payload and "15108695088" not in with_payload
    assert cli.invoke(app, ["quarantine", "show", str(config), "999"]).exit_code == EXIT_USAGE


def test_a_broken_suite_stops_the_gate_before_any_work(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, suites)
    condition = json.loads((suites / "condition.json").read_text(encoding="utf-8"))
    condition["expectations"][0]["type"] = "expect_column_values_to_be_tied_to_a_person"
    (suites / "condition.json").write_text(json.dumps(condition), encoding="utf-8")
    config = yaml.safe_load(
        (Path(demo.__file__).with_name("demo_migration.yaml")).read_text(encoding="utf-8")
    )
    (tmp_path / "migration.yaml").write_text(yaml.safe_dump({**config, "validation": {"suites": "suites"}}))
    result = cli.invoke(app, ["validate", str(tmp_path / "migration.yaml")])
    assert result.exit_code == EXIT_USAGE
    assert "condition.json: expectation 1" in result.output and "not found" in result.output
    assert not (tmp_path / "runs").exists()
