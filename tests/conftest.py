"""Shared fixtures: the public sample data, and real PostgreSQL / MariaDB databases.

Database tests use the servers of design §6 through URLs from the environment, each
test in a schema (PostgreSQL) or database (MariaDB) of its own. Locally a missing
server skips them; with ENJOURNAL_REQUIRE_SERVICES=1 (set by .ci/run) it fails them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Property tests check behaviour, never time: a loaded CI machine must not fail them.
settings.register_profile("enjournal", deadline=None)
settings.load_profile("enjournal")

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"
PG_URL = os.environ.get("ENJOURNAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("ENJOURNAL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_SERVICES = os.environ.get("ENJOURNAL_REQUIRE_SERVICES") == "1"


def _shared_data() -> Path:
    """The read-only public samples (../shared/data beside the checkout, or the machine's copy)."""
    candidates = [
        os.environ.get("ENJOURNAL_SHARED_DATA"),
        str(REPO.parent / "shared" / "data"),
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "kith").is_dir():
            return Path(candidate)
    raise RuntimeError("the public sample data (../shared/data) is not on this machine")


SHARED = _shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED


def _unavailable(url: str, error: Exception) -> None:
    message = f"{make_url(url).get_backend_name()} at {make_url(url).host} is not reachable: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; dropped afterwards."""
    schema = f"ej_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - any connection failure means "not reachable"
        _unavailable(PG_URL, error)
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh MariaDB database for one test; dropped afterwards."""
    database = f"ej_{secrets.token_hex(4)}"
    admin = create_engine(MYSQL_URL)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    except Exception as error:  # noqa: BLE001
        _unavailable(MYSQL_URL, error)
    yield (
        make_url(MYSQL_URL)
        .set(database=database)
        .update_query_dict({"charset": "utf8mb4"})
        .render_as_string(hide_password=False)
    )
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE `{database}`"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A journal URL on each database the loader must work on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One ephemeral Prefect server for the whole session, for flow tests only."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
