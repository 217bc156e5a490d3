"""Prefect flows: a flow per stage under the parent `migrate` flow, stage functions as tasks.

Runs ephemeral by default and against a Prefect server when `PREFECT_API_URL` is set;
`enjournal serve` (or `prefect deploy` with the repository's prefect.yaml) schedules it.
The partitioned work (sources read, mapped and validated side by side) runs on the flow's
task runner: threads here, or an existing Dask cluster (`task_runner="dask"`). Only this
module imports Prefect, and only the commands that run a migration import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from pipelines import log_privacy, runner, stages
from pipelines.runner import PHASES, Phase
from pipelines.stages import RunContext
from pipelines.task_runners import TaskRunnerKind, make_task_runner

log_privacy.install()

TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE}
"""Prefect's result cache stays off: stages hand data over as files in the run workspace,
and `pipelines.incremental` decides what a re-run may reuse (an unchanged source's extract)."""
CONNECTOR_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
}
"""A legacy database restarting or a network share hiccuping: 5 s, 10 s, 20 s, jittered."""


@task(name="extract", **CONNECTOR_RETRIES, **TASK_OPTIONS)
def extract_task(ctx: RunContext, source_name: str) -> dict[str, int]:
    counts = stages.extract(ctx, source_name)
    get_run_logger().info("extracted %s: %s", source_name, counts)
    return counts


@task(name="match", **TASK_OPTIONS)
def match_task(ctx: RunContext) -> dict[str, int]:
    counts = stages.match_persons(ctx)
    get_run_logger().info(
        "identity: %(records)s person records (and %(earlier_records)s from earlier waves) → "
        "%(persons)s journal persons, %(review)s pairs for review",
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


def _stage_flow(phase: Phase) -> Flow[..., list[Any]]:
    """The flow of one stage: its steps as tasks, with a progress artifact as they finish."""

    @flow(name=phase.name, log_prints=False)
    def stage(ctx: RunContext, steps: list[tuple[str, ...]]) -> list[Any]:
        task_ = TASKS[phase.name]
        progress = create_progress_artifact(0.0, description=f"{phase.name}: 0 of {len(steps)} steps")
        if phase.concurrent:
            futures = [task_.submit(ctx, *args) for args in steps]
            pending = (future.result() for future in futures)
        else:
            pending = (task_(ctx, *args) for args in steps)
        results = []
        for done, result in enumerate(pending, 1):
            results.append(result)
            update_progress_artifact(
                progress, 100 * done / len(steps), description=f"{phase.name}: {done} of {len(steps)} steps"
            )
        return results

    return stage


STAGE_FLOWS = {phase.name: _stage_flow(phase) for phase in PHASES}


def as_stage_flows(kind: TaskRunnerKind, dask_address: str | None) -> runner.Executor:
    """Run each phase as its stage flow on the chosen task runner."""

    def execute(phase: Phase, ctx: RunContext, steps: list[tuple[str, ...]]) -> list[Any]:
        stage = STAGE_FLOWS[phase.name].with_options(task_runner=make_task_runner(kind, dask_address))
        return stage(ctx, steps)

    return execute


@flow(name="migrate")
def migrate(
    config_path: str,
    wave: str | None = None,
    run_id: str | None = None,
    task_runner: TaskRunnerKind = TaskRunnerKind.threads,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Extract → match → map → validate → load → reconcile, one run of one migration (or wave)."""
    ctx = runner.new_context(Path(config_path), wave, run_id)
    [summary] = runner.run(ctx, as_stage_flows(task_runner, dask_address))["reconcile"]
    _artifacts(summary)
    return summary


def _artifacts(summary: dict[str, Any]) -> None:
    """The run summary, its books and its delta, visible in the Prefect UI."""
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
    if summary.get("delta"):
        create_table_artifact(summary["delta"], key="delta", description="New, changed and unchanged records")
    header = (
        "| source | entity | extracted | loaded | quarantined | merged | out of scope |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = "".join(
        f"| {r['source_system']} | {r['entity']} | {r['extracted']} | {r['loaded']} | {r['quarantined']} "
        f"| {r['merged']} | {r['out_of_scope']} |\n"
        for r in rows
    )
    wave = f", wave {summary['wave']}" if summary.get("wave") else ""
    create_markdown_artifact(
        f"# Migration run {summary['run_id']}{wave}\n\nBalanced: **{summary['balanced']}**, "
        f"pairs waiting for review: {summary['review_pairs']}\n\n{header}{lines}",
        key="run-summary",
    )
