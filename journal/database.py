"""Open a journal database on any SQLAlchemy URL and make sure schema v1 exists."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from journal.schema import Base


def open_journal(url: str, *, create: bool = True) -> Engine:
    """An engine for the journal at `url`, with the schema created when asked."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        Base.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL survives a killed writer; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
