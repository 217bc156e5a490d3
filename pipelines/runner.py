"""The one sequence of a migration run, for the Prefect flow and for plain processes alike.

`run` walks the phases in order and hands each phase's steps to an executor: the flow's
executor submits them as Prefect tasks; `in_process` calls the stage functions directly,
for the quality gate command and for tests that run (and kill) a migration in a
subprocess without starting a Prefect server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import stages
from pipelines.config import load_config
from pipelines.stages import RunContext
from pipelines.workspace import Workspace, new_run_id


@dataclass(frozen=True)
class Phase:
    name: str
    function: Callable[..., Any]
    per_source: bool = False
    concurrent: bool = False
    """Its steps may run at the same time, on the flow's task runner (threads or Dask
    workers): each source's steps write only that source's files."""


PHASES: tuple[Phase, ...] = (
    Phase("extract", stages.extract, per_source=True, concurrent=True),
    Phase("match", stages.match_persons),
    Phase("map", stages.map_clinical, per_source=True, concurrent=True),
    Phase("validate", stages.validate_clinical, per_source=True, concurrent=True),
    Phase("load", stages.load),
    Phase("reconcile", stages.reconcile),
)

Executor = Callable[[Phase, RunContext, list[tuple[str, ...]]], list[Any]]


def in_process(phase: Phase, ctx: RunContext, steps: list[tuple[str, ...]]) -> list[Any]:
    """Run a phase's steps one after the other in this process."""
    return [phase.function(ctx, *args) for args in steps]


def new_context(config_path: Path, wave: str | None = None, run_id: str | None = None) -> RunContext:
    """A fresh run of a migration config: its workspace created, its start time fixed."""
    config = load_config(config_path)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    return RunContext(config, Workspace.create(config.workdir, run_id or new_run_id()), started, wave)


def run(ctx: RunContext, execute: Executor = in_process, until: str = "reconcile") -> dict[str, list[Any]]:
    """The phases up to `until`, each phase's results by name.

    A run to the end is recorded in the journal (`migration_run`) and marked failed if a
    phase raises; a run that stops early (the gate) leaves the journal as it was.
    """
    names = [phase.name for phase in PHASES]
    recorded = until == names[-1]
    if recorded:
        stages.begin(ctx)
    results: dict[str, list[Any]] = {}
    try:
        for phase in PHASES[: names.index(until) + 1]:
            steps = [(name,) for name in ctx.source_names] if phase.per_source else [()]
            results[phase.name] = execute(phase, ctx, steps)
    except BaseException:
        if recorded:
            stages.fail(ctx)
        raise
    return results
