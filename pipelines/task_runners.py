"""Where a run's per-source work runs: threads in this process, or an existing Dask cluster.

Kept apart from `pipelines.flows` so that the command line can offer the choice without
importing Prefect.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner


class TaskRunnerKind(StrEnum):
    threads = "threads"
    dask = "dask"


def make_task_runner(kind: TaskRunnerKind, dask_address: str | None = None) -> TaskRunner:
    """Threads in this process, or the Dask cluster at `dask_address` (a temporary local
    one when no address is given)."""
    if kind == TaskRunnerKind.dask:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address) if dask_address else DaskTaskRunner()
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner()
