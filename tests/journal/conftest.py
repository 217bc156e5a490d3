"""The loader must work on every database a journal may live in."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A journal URL on SQLite, PostgreSQL (the COPY path) and MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
