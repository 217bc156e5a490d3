"""Data-quality commands: the CI gate, the books of a run, the steward's quarantine.

Registered on the `enjournal` app by importing this module (see the end of
`pipelines.cli`). Heavy imports stay inside the commands, as in `pipelines.cli`. Nothing
here prints a full national ID, and a person record's raw payload (which may hold the
address of someone with a confidential address) only on request.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipelines.cli import EXIT_FAILED, EXIT_USAGE, app

if TYPE_CHECKING:
    from rich.console import Console

    from pipelines.config import MigrationConfig
    from pipelines.stages import RunContext
    from validators.report import Verdict

Config = Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)]
Wave = Annotated[str | None, typer.Option(help="Only this wave's sources.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

quarantine_app = typer.Typer(
    help="Review quarantined records; release those fixed at the source for the next run.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")


@app.command()
def validate(
    config: Config,
    wave: Wave = None,
    junit: Annotated[Path | None, typer.Option(help="Also write the JUnit XML here.", dir_okay=False)] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the verdict as JSON here.", dir_okay=False)
    ] = None,
) -> None:
    """Run the data-quality gate (extract, match, map, validate; nothing is loaded).

    Exits 0 when every critical check is within its threshold, 1 otherwise. Writes JUnit
    XML, the verdict as JSON and Great Expectations Data Docs into the run's reports.
    """
    from rich.console import Console

    from mappings.spec import SpecError
    from pipelines import runner
    from pipelines.stages import gate_checks, gate_results
    from validators.data_docs import build as build_data_docs
    from validators.report import Verdict, junit_xml

    console = Console(stderr=True)
    _preflight(config, wave)
    ctx = runner.new_context(config, wave)
    try:
        with console.status("data-quality gate: extract → match → map → validate"):
            runner.run(ctx, until="validate")
    except SpecError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    verdict = Verdict(gate_checks(ctx))
    reports = ctx.workspace.path("reports")
    verdict_json = json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False) + "\n"
    for text, paths in (
        (junit_xml(verdict), (reports / "junit.xml", junit)),
        (verdict_json, (reports / "gate.json", json_file)),
    ):
        for path in filter(None, paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    with console.status("writing Data Docs"):
        docs = build_data_docs(gate_results(ctx), reports / "data_docs", ctx.run_id, ctx.started_at)
    _show_verdict(verdict, Console())
    typer.echo(f"reports: {reports} (junit.xml, gate.json); Data Docs: {docs}")
    if not verdict.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def reconcile(
    config: Config,
    run: Annotated[str | None, typer.Option(help="The run id; default: the latest finished run.")] = None,
    as_json: AsJson = False,
) -> None:
    """Check a run's books again, against the journal as it is now.

    Per source and entity: extracted = loaded + quarantined + merged + out of scope, by
    count and by a checksum over record hashes, and the journal holds every loaded record.
    Exits 1 when the books do not balance.
    """
    from journal.runs import record_accounts
    from pipelines.stages import books

    ctx = _existing_run(_config(config), run)
    accounts = books(ctx)
    record_accounts(ctx.engine, ctx.run_id, accounts)
    balanced = all(a.balanced for a in accounts)
    if as_json:
        rows = [a.as_dict() for a in accounts]
        typer.echo(json.dumps({"run_id": ctx.run_id, "balanced": balanced, "accounts": rows}, indent=2))
    else:
        from rich.console import Console

        _show_books(ctx.run_id, accounts, Console())
    if not balanced:
        raise typer.Exit(EXIT_FAILED)


@quarantine_app.command("list")
def list_quarantine(
    config: Config,
    status: Annotated[str, typer.Option(help="open, released, resolved or all.")] = "open",
    source: Annotated[str | None, typer.Option(help="Only this source system.")] = None,
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule (e.g. map.start).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.", min=1)] = 500,
    as_json: AsJson = False,
) -> None:
    """List quarantined records with their rule and reason."""
    from journal.quarantine import STATUSES, Selection, find

    if status != "all" and status not in STATUSES:
        typer.echo(f"error: --status is one of {', '.join(STATUSES)}, all", err=True)
        raise typer.Exit(EXIT_USAGE)
    selection = Selection(
        status=None if status == "all" else status, source_system=source, entity=entity, rule=rule
    )
    rows = _shown(find(_journal(config), selection, limit))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Quarantine")
    for name in ("id", "status", "source", "entity", "record", "rule"):
        table.add_column(name, no_wrap=True)
    table.add_column("reason", ratio=1)
    for row in rows:
        record = row["source_record_id"] or row["record_key"]
        cells = (
            row["id"],
            row["status"],
            row["source_system"],
            row["entity"],
            record,
            row["rule"],
            row["reason"],
        )
        table.add_row(*(Text(str(cell)) for cell in cells))
    Console().print(table)
    typer.echo(f"{len(rows)} records")


@quarantine_app.command()
def show(
    config: Config,
    ids: Annotated[list[int], typer.Argument(help="Quarantine ids (from `quarantine list`).")],
    payload: Annotated[
        bool, typer.Option("--payload", help="Also show a person record's raw payload (may hold an address).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show quarantined records in full: where they came from, the rule, the value, the reason."""
    from journal.quarantine import Selection, find

    rows = _shown(find(_journal(config), Selection(ids=tuple(ids))), payload)
    if not rows:
        typer.echo("error: no quarantine rows with those ids", err=True)
        raise typer.Exit(EXIT_USAGE)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    for row in rows:
        typer.echo(
            "\n".join(f"{key:>16}: {'' if value is None else value}" for key, value in row.items()) + "\n"
        )


@quarantine_app.command()
def release(
    config: Config,
    by: Annotated[str, typer.Option("--by", help="Who says the records are fixed at the source.")],
    ids: Annotated[list[int] | None, typer.Argument(help="Quarantine ids to release.")] = None,
    source: Annotated[str | None, typer.Option(help="Release this source's open records.")] = None,
    entity: Annotated[str | None, typer.Option(help="…of this entity.")] = None,
    rule: Annotated[str | None, typer.Option(help="…broken by this rule.")] = None,
) -> None:
    """Release records fixed at the source: the next run re-processes them.

    A released record that loads is resolved; one that still fails is open again.
    """
    from journal.quarantine import Selection
    from journal.quarantine import release as release_rows

    selection = Selection(ids=tuple(ids or ()), status="open", source_system=source, entity=entity, rule=rule)
    if selection.empty:
        typer.echo("error: name quarantine ids, or --source / --entity / --rule", err=True)
        raise typer.Exit(EXIT_USAGE)
    count = release_rows(_journal(config), selection, by, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    typer.echo(f"released {count} records; `enjournal run {config}` re-processes them")


def _preflight(config_path: Path, wave: str | None) -> None:
    """A broken config, wave or mapping spec stops here, before any work (exit 2)."""
    from mappings.spec import SpecError
    from pipelines.config import ConfigError
    from pipelines.stages import preflight

    try:
        preflight(config_path, wave)
    except (ConfigError, SpecError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error


def _config(config_path: Path) -> MigrationConfig:
    from pipelines.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error


def _journal(config_path: Path) -> Any:
    from journal.database import open_journal

    return open_journal(_config(config_path).journal)


def _existing_run(config: MigrationConfig, run_id: str | None) -> RunContext:
    """A finished run's context: its workspace on disk and its wave and start from the journal."""
    from journal.database import open_journal
    from journal.runs import find_run
    from pipelines.stages import RunContext
    from pipelines.workspace import Workspace

    space = (
        Workspace(config.workdir / "runs" / run_id, run_id) if run_id else Workspace.latest(config.workdir)
    )
    if space is None or not space.root.is_dir():
        typer.echo(f"error: no run {run_id or '(finished)'} under {config.workdir / 'runs'}", err=True)
        raise typer.Exit(EXIT_USAGE)
    recorded = find_run(open_journal(config.journal), space.run_id)
    if recorded is None:
        typer.echo(f"error: the journal has no record of run {space.run_id}", err=True)
        raise typer.Exit(EXIT_USAGE)
    return RunContext(config, space, recorded.started_at, recorded.wave)


def _shown(frame: Any, payload: bool = False) -> list[dict[str, Any]]:
    """Quarantine rows fit for a screen: national IDs masked, person payloads only on request."""
    from identity.national_id import redact_ids

    rows = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        for key in ("reason", "value", "raw_payload"):
            row[key] = row[key] and redact_ids(str(row[key]))
        if row["entity"] == "person" and not payload:
            row["raw_payload"] = "(a person record: --payload shows it)"
        rows.append(row)
    return rows


def _show_verdict(verdict: Verdict, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    from identity.national_id import redact_ids
    from validators.report import describe

    checks = verdict.failures + verdict.warnings
    table = Table("", "source", "entity", "column", "result", title="Checks beyond their threshold")
    for check in checks:
        mark = Text(check.severity, style="red" if check.severity == "critical" else "yellow")
        result = redact_ids(check.error) if check.error else describe(check)
        table.add_row(
            mark, *(Text(cell) for cell in (check.source_system, check.entity, check.column, result))
        )
    if checks:
        console.print(table)
    verdict_text = "[green]the gate passes[/]" if verdict.passed else "[red]the gate FAILS[/]"
    console.print(
        f"{verdict_text}: {len(verdict.checks)} checks, {len(verdict.failures)} critical beyond "
        f"threshold, {len(verdict.warnings)} warnings"
    )


def _show_books(run_id: str, accounts: list[Any], console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = ("extracted", "loaded", "quarantined", "merged", "out_of_scope")
    table = Table(title=f"Books of run {run_id}", box=box.SIMPLE_HEAD)
    for name in ("source", "entity", *columns, "checksum", "books"):
        table.add_column(
            name.replace("_", " "), justify="right" if name in columns else "left", no_wrap=name != "books"
        )
    for acc in accounts:
        same = acc.extracted_checksum == acc.accounted_checksum
        checksum = acc.extracted_checksum if same else f"{acc.extracted_checksum} ≠ {acc.accounted_checksum}"
        books = Text("ok", style="green") if acc.balanced else Text("; ".join(acc.problems), style="red")
        cells = (acc.source_system, acc.entity, *(str(getattr(acc, c)) for c in columns), checksum)
        table.add_row(*map(Text, cells), books)
    console.print(table)
    balanced = all(a.balanced for a in accounts)
    console.print("[green]the books balance[/]" if balanced else "[red]the books do NOT balance[/]")
