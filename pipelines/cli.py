"""The `enjournal` command line.

Every heavy import (pandas, Prefect, Great Expectations) happens inside the command
that needs it, so `enjournal --help` answers at once. Exit codes: 0 done, 1 the run
ran but failed its checks (books unbalanced, gate failed), 2 bad input or config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.task_runners import TaskRunnerKind

app = typer.Typer(
    name="enjournal",
    help="Move patient records from legacy systems into one shared patient journal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

EXIT_FAILED = 1
EXIT_USAGE = 2

Workdir = Annotated[Path, typer.Option("--workdir", "-w", help="Folder for data, runs and the journal.")]


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the legacy data to.")],
    persons: Annotated[int, typer.Option(help="True persons in the region.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 42,
    error_rate: Annotated[
        float, typer.Option(help="Share of injected errors (0 = clean).", min=0, max=1)
    ] = 0.05,
) -> None:
    """Write a synthetic region's legacy data (hospital, municipal care, GP) with ground truth."""
    from synthetic import generate

    manifest = generate(out, persons=persons, seed=seed, error_rate=error_rate)
    typer.echo(f"wrote {out} ({manifest.persons} persons, {len(manifest.injected)} injected errors)")


@app.command()
def demo(
    workdir: Workdir = Path("demo-run"),
    persons: Annotated[int, typer.Option(help="True persons in the synthetic region.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 42,
    error_rate: Annotated[float, typer.Option(help="Share of injected errors.", min=0, max=1)] = 0.05,
) -> None:
    """Synthesise three legacy systems and migrate them into a SQLite journal, end to end."""
    from pipelines.demo import write_demo

    config_path = write_demo(workdir, persons=persons, seed=seed, error_rate=error_rate)
    typer.echo(f"legacy data and {config_path} written; migrating…")
    _migrate(config_path, wave=None, as_json=False, task_runner=TaskRunnerKind.threads, dask_address=None)


TaskRunnerOption = Annotated[
    TaskRunnerKind,
    typer.Option("--task-runner", help="Where the per-source work runs: threads here, or a Dask cluster."),
]
DaskAddress = Annotated[
    str | None,
    typer.Option("--dask-address", help="Scheduler of an existing Dask cluster, e.g. tcp://host:8786."),
]


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)],
    wave: Annotated[str | None, typer.Option(help="Migrate only this wave's sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    task_runner: TaskRunnerOption = TaskRunnerKind.threads,
    dask_address: DaskAddress = None,
) -> None:
    """Run a migration (or one wave of it) from its config; a re-run applies only what changed."""
    _migrate(config, wave=wave, as_json=as_json, task_runner=task_runner, dask_address=dask_address)


@app.command()
def status(
    config: Annotated[
        Path | None,
        typer.Argument(help="A migration config: list its runs, waves and reviews.", dir_okay=False),
    ] = None,
    workdir: Workdir = Path("demo-run"),
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Where a migration stands (with CONFIG), or the last run's summary again (with --workdir)."""
    if config is not None:
        from pipelines import status as overview
        from pipelines.config import ConfigError, load_config

        try:
            state = overview.collect(load_config(config))
        except ConfigError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_USAGE) from error
        if as_json:
            typer.echo(json.dumps(state, indent=2, ensure_ascii=False))
        else:
            overview.render(state)
        return
    from pipelines.workspace import Workspace

    space = Workspace.latest(workdir)
    if space is None:
        typer.echo(f"no runs under {workdir}", err=True)
        raise typer.Exit(EXIT_USAGE)
    _show(space.read_json("reports", "summary.json"), as_json)


@app.command()
def serve(
    config: Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)],
    cron: Annotated[str | None, typer.Option(help="Schedule, e.g. '0 2 * * *' (nightly at 02:00).")] = None,
    wave: Annotated[str | None, typer.Option(help="Serve this wave's migration.")] = None,
    task_runner: TaskRunnerOption = TaskRunnerKind.threads,
    dask_address: DaskAddress = None,
) -> None:
    """Serve the migration as a Prefect deployment (scheduled with --cron) until stopped."""
    from pipelines.stages import preflight

    migration = preflight(config, wave)
    _quiet_prefect()
    from pipelines.flows import migrate

    migrate.serve(
        name=f"{migration.name}{f'-{wave}' if wave else ''}",
        parameters={
            "config_path": str(config.resolve()),
            "wave": wave,
            "task_runner": task_runner.value,
            "dask_address": dask_address,
        },
        cron=cron,
    )


@app.command("export-fhir")
def export_fhir(
    config: Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the NDJSON files.")],
) -> None:
    """Export the journal as FHIR R4 bulk NDJSON, one file per resource type, each resource validated."""
    import datetime as dt

    from journal.database import open_journal
    from journal.fhir import export
    from pipelines.config import ConfigError, load_config

    try:
        migration = load_config(config)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    counts = export(open_journal(migration.journal), out, exported_at=dt.datetime.now(dt.UTC))
    for kind, count in counts.items():
        typer.echo(f"{kind:<22}{count:>9}  {out / f'{kind}.ndjson'}")


def _migrate(
    config_path: Path,
    *,
    wave: str | None,
    as_json: bool,
    task_runner: TaskRunnerKind,
    dask_address: str | None,
) -> None:
    from rich.console import Console

    from mappings.spec import SpecError
    from pipelines.config import ConfigError
    from pipelines.stages import preflight

    try:
        preflight(config_path, wave)  # a broken config or spec fails here, before Prefect starts
    except (ConfigError, SpecError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    _quiet_prefect()
    from pipelines.flows import migrate
    from pipelines.stages import BooksDoNotBalance

    try:
        with Console(stderr=True).status("migrating: extract → match → map → validate → load → reconcile"):
            summary = migrate(str(config_path), wave=wave, task_runner=task_runner, dask_address=dask_address)
    except SpecError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    except BooksDoNotBalance as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from error
    _show(summary, as_json)


def _show(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    from pipelines.summary import render

    render(summary)


def _quiet_prefect() -> None:
    """Sensible defaults for an interactive run; explicit settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # the ephemeral server's 20 s default is too short on a busy 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


from pipelines import (  # noqa: E402,F401 (registers commands)
    cli_connectors,
    cli_identity,
    cli_mappings,
    cli_quality,
)
