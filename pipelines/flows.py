"""Prefect flows: thin wrappers that sequence the stage functions and report the run.

Runs ephemeral by default and against a Prefect server when `PREFECT_API_URL` is set.
Only this module imports Prefect, and only the commands that run a migration import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipelines import runner, stages
from pipelines.runner import Phase
from pipelines.stages import RunContext

TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE}


@task(name="extract", retries=2, retry_delay_seconds=[2, 10], **TASK_OPTIONS)
def extract_task(ctx: RunContext, source_name: str) -> dict[str, int]:
    counts = stages.extract(ctx, source_name)
    get_run_logger().info("extracted %s: %s", source_name, counts)
    return counts


@task(name="match", **TASK_OPTIONS)
def match_task(ctx: RunContext) -> dict[str, int]:
    counts = stages.match_persons(ctx)
    get_run_logger().info(
        "identity: %(records)s person records → %(persons)s journal persons, %(review)s pairs for review",
        counts,
    )
    return counts


@task(name="map", **TASK_OPTIONS)
def map_task(ctx: RunContext, source_name: str) -> dict[str, int]:
    return stages.map_clinical(ctx, source_name)


@task(name="validate", **TASK_OPTIONS)
def validate_task(ctx: RunContext, source_name: str) -> dict[str, int]:
    return stages.validate_clinical(ctx, source_name)


@task(name="load", **TASK_OPTIONS)
def load_task(ctx: RunContext) -> dict[str, int]:
    counts = stages.load(ctx)
    get_run_logger().info("loaded: %s", counts)
    return counts


@task(name="reconcile", **TASK_OPTIONS)
def reconcile_task(ctx: RunContext) -> dict[str, Any]:
    return stages.reconcile(ctx)


TASKS = {
    "extract": extract_task,
    "match": match_task,
    "map": map_task,
    "validate": validate_task,
    "load": load_task,
    "reconcile": reconcile_task,
}


def as_tasks(phase: Phase, ctx: RunContext, steps: list[tuple[str, ...]]) -> list[Any]:
    """Run a phase's steps as Prefect tasks, at the same time where the phase allows it."""
    task_ = TASKS[phase.name]
    if phase.concurrent:
        futures = [task_.submit(ctx, *args) for args in steps]
        return [future.result() for future in futures]
    return [task_(ctx, *args) for args in steps]


@flow(name="migrate")
def migrate(config_path: str, wave: str | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Extract → match → map → validate → load → reconcile, one run of one migration."""
    ctx = runner.new_context(Path(config_path), wave, run_id)
    [summary] = runner.run(ctx, as_tasks)["reconcile"]
    _artifacts(summary)
    return summary


def _artifacts(summary: dict[str, Any]) -> None:
    """The run summary and its books, visible in the Prefect UI."""
    rows = [
        {
            k: a[k]
            for k in (
                "source_system",
                "entity",
                "extracted",
                "loaded",
                "quarantined",
                "merged",
                "out_of_scope",
                "balanced",
            )
        }
        for a in summary["accounts"]
    ]
    create_table_artifact(rows, key="reconciliation", description=f"Books of run {summary['run_id']}")
    header = (
        "| source | entity | extracted | loaded | quarantined | merged | out of scope |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = "".join(
        f"| {r['source_system']} | {r['entity']} | {r['extracted']} | {r['loaded']} | {r['quarantined']} "
        f"| {r['merged']} | {r['out_of_scope']} |\n"
        for r in rows
    )
    create_markdown_artifact(
        f"# Migration run {summary['run_id']}\n\nBalanced: **{summary['balanced']}**, "
        f"pairs waiting for review: {summary['review_pairs']}\n\n{header}{lines}",
        key="run-summary",
    )
