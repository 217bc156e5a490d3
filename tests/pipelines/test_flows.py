"""The Prefect side of a run: a flow per stage under `migrate`, progress and summary
artifacts, logs without national IDs, a deployable prefect.yaml."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.demo import write_demo
from tests.conftest import REPO

pytestmark = pytest.mark.prefect

STAGES = ["extract", "match", "map", "validate", "load", "reconcile"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("flows"), persons=40, seed=3, error_rate=0.05)


def client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def api_post(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A filter request as the REST API documents it (the 3.8 client sends fields its server refuses)."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    response = httpx.post(f"{PREFECT_API_URL.value()}{path}", json={**body, "limit": 200, "offset": 0})
    response.raise_for_status()
    return response.json()


def test_each_stage_is_a_flow_under_migrate_with_progress_and_books(
    prefect_harness: None, small: Path
) -> None:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    from pipelines.flows import migrate

    state = migrate(str(small), return_state=True)
    assert state.is_completed() and state.result()["balanced"]
    parent = state.state_details.flow_run_id
    with client() as api:
        children = api.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])),
            sort=FlowRunSort.START_TIME_ASC,
            limit=50,
        )
        names = [api.read_flow(run.flow_id).name for run in children]
        runs = [str(run.id) for run in children]
        assert names == STAGES
    artifacts = api_post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [str(parent), *runs]}}})
    progress = [a for a in artifacts if a["type"] == "progress"]
    assert len(progress) == len(STAGES) and all(a["data"] == 100 for a in progress)
    keys = {a["key"] for a in artifacts if a["key"]}
    assert {"reconciliation", "run-summary", "delta"} <= keys


def test_logs_never_carry_a_national_id(prefect_harness: None) -> None:
    from prefect import flow, get_run_logger
    from prefect.logging.handlers import APILogHandler

    import pipelines.flows  # noqa: F401 (installs the masking)

    @flow
    def talkative() -> None:
        get_run_logger().warning("patient 15108695088 (also 151086 95088) has no GP")
        logging.getLogger("enjournal.stages").warning("reading 26111593816")

    state = talkative(return_state=True)
    APILogHandler().flush()
    logs = api_post(
        "/logs/filter", {"logs": {"flow_run_id": {"any_": [str(state.state_details.flow_run_id)]}}}
    )
    messages = " | ".join(log["message"] for log in logs)
    assert "151086*****" in messages and "15108695088" not in messages and "95088" not in messages


def test_prefect_yaml_deploys_the_migrate_flow_with_its_parameters() -> None:
    from prefect.flows import load_flow_from_entrypoint

    project = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    [deployment] = project["deployments"]
    migrate = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
    assert migrate.name == "migrate"
    assert set(deployment["parameters"]) <= set(inspect.signature(migrate.fn).parameters)
    assert (REPO / deployment["parameters"]["config_path"]).exists()
    assert deployment["schedules"][0]["cron"]
