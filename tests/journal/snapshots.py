"""A journal's content as frames, for comparing two journals row by row."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from journal.schema import Base

RUN_COLUMNS = {"last_run_id", "run_id", "first_run_id"}
"""Columns naming the run that wrote a row: they differ between any two runs."""
OPERATIONS = {"migration_run", "run_account"}
"""Tables about runs rather than patients: a killed run leaves its own row there."""


def snapshot(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every journal table's content, without the columns that name the run that wrote it."""
    tables = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in OPERATIONS:
                continue
            columns = [c for c in table.columns if c.name not in RUN_COLUMNS]
            frame = pd.read_sql(select(*columns), connection)
            tables[table.name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return tables


def assert_same_journal(
    expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame], note: str = ""
) -> None:
    assert expected.keys() == actual.keys()
    for name in expected:
        pd.testing.assert_frame_equal(expected[name], actual[name], check_dtype=False, obj=f"{name} {note}")
