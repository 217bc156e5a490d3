"""Identity commands: `enjournal match`, `enjournal review accept|reject|import`, `enjournal match-files`.

Registered on the main app by importing this module (see the end of `pipelines.cli`).
Like every command, they import pandas and the engine only when they run.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli import EXIT_USAGE, app

review_app = typer.Typer(
    help="Record a data steward's decisions on review pairs (replayed on every later run).",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The migration config (YAML).", exists=True, dir_okay=False)
]
By = Annotated[str, typer.Option("--by", help="Who decides (default: the login name).")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why, in a few words.")]


@app.command("match")
def match_command(
    config: Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)],
    wave: Annotated[str | None, typer.Option(help="Match only this wave's sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Extract the sources' person records, link them, and write the match report (no loading)."""
    from mappings.spec import SpecError
    from pipelines.config import ConfigError
    from pipelines.stages import RunContext, extract, match_persons, preflight
    from pipelines.workspace import Workspace, new_run_id

    try:
        loaded = preflight(config, wave)
    except (ConfigError, SpecError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    ctx = RunContext(loaded, Workspace.create(loaded.workdir, new_run_id()), started, wave)
    for name in ctx.source_names:
        extract(ctx, name)
    counts = match_persons(ctx)
    report = ctx.workspace.path("reports", "match_report.html")
    if as_json:
        typer.echo(json.dumps({"run_id": ctx.run_id, **counts, "report": str(report)}, indent=2))
        return
    typer.echo(
        f"{counts['records']} person records → {counts['persons']} journal persons; "
        f"{counts['review']} pairs for review\nmatch report: {report}"
    )


@review_app.command("accept")
def accept(pair_id: str, config: ConfigOption, by: By = "", reason: Reason = None) -> None:
    """These two records are one person: link them on every later run."""
    _decide(
        config,
        [{"pair_id": pair_id, "decision": "accept", "decided_by": by or getpass.getuser(), "reason": reason}],
    )


@review_app.command("reject")
def reject(pair_id: str, config: ConfigOption, by: By = "", reason: Reason = None) -> None:
    """These two records are two people: never link them automatically."""
    _decide(
        config,
        [{"pair_id": pair_id, "decision": "reject", "decided_by": by or getpass.getuser(), "reason": reason}],
    )


@review_app.command("import")
def import_decisions(
    decisions: Annotated[
        Path, typer.Argument(help="CSV: pair_id, decision, decided_by?, decided_at?, reason?")
    ],
    config: ConfigOption,
    by: Annotated[str | None, typer.Option("--by", help="Who decided, for rows that do not say.")] = None,
) -> None:
    """Store a file of decisions (e.g. review.csv with a `decision` column filled in)."""
    from identity.decisions import DecisionError, read_csv

    try:
        rows = read_csv(decisions)
    except (OSError, DecisionError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    if by:
        rows["decided_by"] = rows["decided_by"].where(rows["decided_by"].str.strip() != "", by)
    _decide(config, rows.to_dict("records"))


def _decide(config: Path, rows: list[dict[str, object]]) -> None:
    import pandas as pd

    from identity.decisions import DecisionError, resolve, store
    from journal.database import open_journal
    from pipelines.config import ConfigError, load_config

    try:
        loaded = load_config(config)
        review = _latest_review(loaded.workdir)
        resolved = resolve(pd.DataFrame(rows), review, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    except (ConfigError, DecisionError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    stored = store(open_journal(loaded.journal), resolved)
    counts = resolved["decision"].value_counts().to_dict()
    typer.echo(
        f"stored {stored} decision(s) ({counts.get('accept', 0)} accept, {counts.get('reject', 0)} reject); "
        "they apply from the next run"
    )


def _latest_review(workdir: Path) -> object:
    """The review pairs of the latest run that matched identities."""
    import pandas as pd

    from identity.decisions import DecisionError

    found = sorted((workdir / "runs").glob("*/identity/review.parquet"))
    if not found:
        raise DecisionError(f"no match report under {workdir / 'runs'}: run `enjournal match` first")
    return pd.read_parquet(found[-1])


@app.command("match-files")
def match_files(
    first: Annotated[Path, typer.Argument(help="A CSV file of records.", exists=True, dir_okay=False)],
    second: Annotated[
        Path | None, typer.Argument(help="A second CSV file to link against the first.", dir_okay=False)
    ] = None,
    roles: Annotated[
        str,
        typer.Option(
            help="role=COLUMN,... with roles given_name, middle_name, family_name, birth_date, sex, "
            "postcode, address, national_id, record_id (any may be left out)."
        ),
    ] = "",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for links.csv and clusters.csv.")] = Path(
        "match-out"
    ),
    auto_match: Annotated[float, typer.Option(help="Match probability that links.", min=0, max=1)] = 0.999,
    review: Annotated[float, typer.Option(help="Match probability that asks a person.", min=0, max=1)] = 0.5,
    delimiter: Annotated[str | None, typer.Option(help="Field separator (default: sniffed).")] = None,
    encoding: Annotated[str, typer.Option(help="File encoding.")] = "utf-8",
) -> None:
    """Deduplicate one CSV file or link two, with no training labels: links.csv and clusters.csv."""
    from identity.files import RoleError, match_csv

    try:
        result = match_csv(
            [first, *([second] if second else [])],
            roles,
            out,
            auto_match=auto_match,
            review=review,
            delimiter=delimiter,
            encoding=encoding,
        )
    except (OSError, RoleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    typer.echo(
        f"{result['records']} records, {result['auto']} auto links, {result['review']} for review, "
        f"{result['clusters']} clusters → {out}/links.csv, {out}/clusters.csv"
    )
