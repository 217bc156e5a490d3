"""Scale-out: the migration on an existing Dask cluster (a scheduler and two workers on
loopback) gives the journal a local run gives."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal.database import open_journal
from pipelines import runner
from pipelines.config import load_config
from pipelines.demo import write_demo
from tests.journal.snapshots import assert_same_journal, snapshot

pytestmark = pytest.mark.prefect


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Dask scheduler and two single-threaded worker processes, as a cluster outside the test."""
    from distributed import Client
    from prefect.settings import PREFECT_API_URL

    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    logs = tmp_path_factory.mktemp("dask")
    common = ["--no-dashboard"]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                address.rsplit(":", 1)[1],
                *common,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "scheduler.log").open("wb"),
        )
    ]
    for worker in range(2):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(logs / f"worker-{worker}.log").open("wb"),
            )
        )
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_a_run_on_a_dask_cluster_gives_the_journal_a_local_run_gives(cluster: str, tmp_path: Path) -> None:
    from distributed import Client, get_task_stream

    from pipelines.flows import migrate

    config = write_demo(tmp_path, persons=60, seed=5, error_rate=0.05)
    runner.run(runner.new_context(config))
    journal = load_config(config).journal
    expected = snapshot(open_journal(journal))
    for produced in ("journal.db", "journal.db-wal", "journal.db-shm", "runs", "cache", "attachments"):
        path = tmp_path / produced  # the same folder again, so that source locators agree
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    with Client(cluster) as client, get_task_stream(client) as stream:
        summary = migrate(str(config), task_runner="dask", dask_address=cluster)
    assert summary["balanced"]
    workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2, "both workers took a share of the extract and map tasks"
    assert len(stream.data) >= 2 * len(load_config(config).sources)
    assert_same_journal(expected, snapshot(open_journal(journal)), "dask vs local")
