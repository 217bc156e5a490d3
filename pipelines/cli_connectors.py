"""`enjournal extract` and `enjournal profile`: the connectors on their own, without a run.

Registered on the main app by importing this module (see the end of `pipelines.cli`);
every heavy import happens inside a command, so `enjournal --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.cli import EXIT_USAGE, app


class Kind(StrEnum):
    sql = "sql"
    hl7v2 = "hl7v2"
    kith_xml = "kith-xml"
    csv = "csv"


Inputs = Annotated[list[str], typer.Argument(help="Files, folders or (for sql) SQLAlchemy URLs.")]
SourceOptions = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML with the source's settings as in a migration config (sql: tables; csv: files).",
        exists=True,
        dir_okay=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")]
TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


@app.command()
def extract(
    inputs: Inputs,
    kind: Annotated[Kind, typer.Option("--type", help="The kind of source.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for staging/ and quarantine/.")],
    config: SourceOptions = None,
    name: Annotated[str | None, typer.Option(help="Source name (default: the input's name).")] = None,
    as_json: AsJson = False,
) -> None:
    """Read legacy sources into staging Parquet (one folder per entity) plus quarantine."""
    from connectors.attachments import AttachmentStore
    from pipelines.stages import stage_source
    from pipelines.workspace import Workspace

    sources = [_source(kind, location, config, name if len(inputs) == 1 else None) for location in inputs]
    names = [source.name for source in sources]
    sources = [
        source.model_copy(update={"name": f"{source.name}-{i}"}) if names.count(source.name) > 1 else source
        for i, source in enumerate(sources, 1)
    ]  # two inputs named alike must not overwrite each other's staging
    space = Workspace(out, "extract")
    extracted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        try:
            counts[source.name] = stage_source(
                source, space, extracted_at, AttachmentStore(space.path("staging", "_attachments"))
            )
        except FileNotFoundError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_USAGE) from error
    if as_json:
        typer.echo(json.dumps({"out": str(out), "sources": counts}, indent=2))
        return
    _print_counts(counts, out)


@app.command()
def profile(
    inputs: Inputs,
    kind: Annotated[
        Kind | None, typer.Option("--type", help="The kind of source (default: guessed).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report.")] = Path("profile"),
    config: SourceOptions = None,
    encoding: Annotated[str, typer.Option(help="CSV encoding, or 'auto'.")] = "auto",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter, or 'auto'.")] = "auto",
    min_count: Annotated[int, typer.Option(help="Never show a value seen fewer times.", min=1)] = 5,
    top_values: Annotated[int, typer.Option(help="Top values shown per field.", min=0)] = 10,
    max_distinct: Annotated[int, typer.Option(help="Distinct values tracked per field.", min=1)] = 100_000,
) -> None:
    """Scan sources and write a scan report (HTML and CSV): per table and field, what is there."""
    import tempfile

    from connectors.attachments import AttachmentStore
    from connectors.base import iter_files
    from connectors.profile import Profile, scan_csv, scan_sql, scan_staged
    from connectors.profile_report import write_report
    from connectors.registry import connector_for

    tables = []
    for location in inputs:
        chosen = kind or _guess(location)
        label = Path(location).name if "://" not in location else _safe_url(location)
        if chosen is Kind.sql and config is None:
            tables += list(scan_sql(location, label, max_distinct))
        elif chosen is Kind.csv and config is None:
            try:
                paths = [p for p in iter_files(location, "**/*") if p.suffix.lower() in TABLE_SUFFIXES]
            except FileNotFoundError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(EXIT_USAGE) from error
            tables += list(scan_csv(paths, label, encoding, delimiter, max_distinct))
        else:
            source = _source(chosen, location, config, None)
            with tempfile.TemporaryDirectory(prefix="enjournal-profile-") as scratch:
                batches = connector_for(source, "profile", AttachmentStore(Path(scratch))).batches()
                try:
                    tables += scan_staged(batches, label, max_distinct)
                except FileNotFoundError as error:
                    typer.echo(f"error: {error}", err=True)
                    raise typer.Exit(EXIT_USAGE) from error
    written = write_report(Profile(tables, min_count, top_values), out)
    for path in written:
        typer.echo(f"wrote {path}")


def _source(kind: Kind, location: str, config: Path | None, name: str | None) -> Any:
    """A source config from --config (if any), --type and the input, checked like a migration's."""
    import yaml
    from pydantic import TypeAdapter, ValidationError

    from connectors.registry import SourceConfig

    data: dict[str, Any] = yaml.safe_load(config.read_text(encoding="utf-8")) if config else {}
    if not isinstance(data, dict):
        typer.echo(f"error: {config}: a source config is a mapping of settings", err=True)
        raise typer.Exit(EXIT_USAGE)
    stem = Path(location).stem if "://" not in location else "database"
    data = {
        "mapping": "-",
        **data,
        "kind": kind.value,
        "location": location,
        "name": name or data.get("name") or stem,
    }
    try:
        return TypeAdapter(SourceConfig).validate_python(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        hint = (
            " (sql sources need --config with tables, csv sources with files)"
            if kind in (Kind.sql, Kind.csv)
            else ""
        )
        typer.echo(f"error: {problems}{hint}", err=True)
        raise typer.Exit(EXIT_USAGE) from error


def _guess(location: str) -> Kind:
    """sql for a URL, else by the files' suffixes: .hl7, .xml, otherwise delimited text."""
    if "://" in location:
        return Kind.sql
    path = Path(location)
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file()]
    suffixes = {p.suffix.lower() for p in files}
    return Kind.hl7v2 if ".hl7" in suffixes else Kind.kith_xml if ".xml" in suffixes else Kind.csv


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_counts(counts: dict[str, dict[str, int]], out: Path) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Extracted into {out}", box=box.SIMPLE_HEAD)
    for column in ("source", "entity", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for source, entities in counts.items():
        for entity, rows in sorted(entities.items()):
            table.add_row(source, entity, str(rows))
    Console().print(table)
