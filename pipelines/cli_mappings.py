"""`enjournal mappings check|report`: specs against the data, and the review stewards complete.

Both read staged records from the latest run under the config's workdir that staged
each source, or through the source's connector when no run has (or with `--extract`):
see `pipelines.staged`. Exit codes as everywhere: 0 fine, 1 the check found errors,
2 a bad config, spec or argument.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from pipelines.cli import EXIT_FAILED, EXIT_USAGE, app

if TYPE_CHECKING:
    from mappings.spec import MappingSpec
    from pipelines.config import MigrationConfig

T = TypeVar("T")

mappings = typer.Typer(
    name="mappings",
    help="Check mapping specs against staged data; review what they map for data stewards.",
    no_args_is_help=True,
)
app.add_typer(mappings, name="mappings")

Config = Annotated[Path, typer.Argument(help="A migration config (YAML).", exists=True, dir_okay=False)]
Sources = Annotated[
    list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable); default all.")
]
Extract = Annotated[
    bool,
    typer.Option(
        "--extract", help="Read the sources through their connectors, not the latest run's staging."
    ),
]


@mappings.command()
def check(
    config: Config,
    source: Sources = None,
    extract: Extract = False,
    rows: Annotated[
        int, typer.Option(help="Records per entity to sample when reading a source.", min=1)
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check each spec against the journal schema and the columns its source really stages."""
    from mappings.check import check_staging
    from pipelines.staged import staged_columns

    migration, specs = _load(config, source)
    origins, findings = [], []
    for name, spec in specs.items():
        staged = _guarded(
            staged_columns, migration, name, extract=extract, rows=rows, wanted=set(spec.entities)
        )
        origins.append({"source_system": name, "spec": str(spec.path), "staging": staged.origin})
        findings += check_staging(name, spec, staged.columns)
    errors = sum(f.severity == "error" for f in findings)
    if as_json:
        payload = {"sources": origins, "findings": [f.as_dict() for f in findings], "errors": errors}
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for origin in origins:
            typer.echo(f"{origin['source_system']}: {origin['spec']} against {origin['staging']}")
            for finding in (f for f in findings if f.source_system == origin["source_system"]):
                typer.echo(f"  {finding.severity:<7} {finding.entity:<11} {finding.message}")
        warnings = sum(f.severity == "warning" for f in findings)
        typer.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        raise typer.Exit(EXIT_FAILED)


@mappings.command()
def report(
    config: Config,
    source: Sources = None,
    extract: Extract = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the report; default <workdir>/mapping-review."),
    ] = None,
) -> None:
    """Write the mapping review (HTML + CSV): what mapped, what fell back, every unmapped code with counts."""
    from mappings.review import combine, review_source
    from mappings.review_html import write_html
    from mappings.terminology import terminology
    from pipelines.staged import staged_frames

    migration, specs = _load(config, source)
    reviews = []
    for name, spec in specs.items():
        staged = _guarded(staged_frames, migration, name, extract=extract)
        reviews.append(review_source(name, spec, staged.frames, staged.origin, terminology()))
    review = combine(reviews)
    folder = out or migration.workdir / "mapping-review"
    written = [write_html(review, folder / "mappings.html", f"Mapping review: {migration.name}")]
    written += review.write_csv(folder)
    worklist = review.worklist()
    typer.echo(
        f"{len(worklist)} source code(s) to resolve, in {int(worklist['count'].sum())} record(s); "
        f"{int(review.quarantine['count'].sum())} record(s) quarantined at mapping"
    )
    for path in written:
        typer.echo(f"wrote {path}")


def _load(config_path: Path, sources: list[str] | None) -> tuple[MigrationConfig, dict[str, MappingSpec]]:
    """The config and every selected source's spec; all problems at once, exit 2 on any."""
    from mappings.spec import SpecError, load_spec, resolve_spec
    from pipelines.config import ConfigError, load_config

    try:
        migration = load_config(config_path)
    except ConfigError as error:
        _usage(str(error))
    names = [s.name for s in migration.sources]
    unknown = sorted(set(sources or []) - set(names))
    if unknown:
        _usage(f"no source(s) {unknown} in {config_path} (sources: {', '.join(names)})")
    specs, problems = {}, []
    base = migration.config_path.parent if migration.config_path else None
    for name in sources or names:
        try:
            specs[name] = load_spec(resolve_spec(migration.source(name).mapping, base))
        except SpecError as error:
            problems.append(str(error))
    if problems:
        _usage("\n".join(problems))
    return migration, specs


def _guarded(read: Callable[..., T], *args: object, **kwargs: object) -> T:
    """A source that cannot be read is a usage error (exit 2), not a traceback."""
    try:
        return read(*args, **kwargs)
    except (OSError, ValueError) as error:
        _usage(f"cannot read the source: {error}")


def _usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)
