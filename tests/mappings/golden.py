"""Golden files: staged rows as CSV in, journal rows and quarantine rows as CSV out.

`ENJOURNAL_UPDATE_GOLDEN=1 python -m pytest tests/mappings` rewrites the expected files;
review the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from tests.conftest import CASES

GOLDEN = CASES / "mappings"
UPDATE = os.environ.get("ENJOURNAL_UPDATE_GOLDEN") == "1"
QUARANTINE_SHOWN = ["source_system", "source_record_id", "rule", "field", "value", "reason", "record_hash"]


def read_staging(path: Path) -> pd.DataFrame:
    """Staged rows as a connector hands them over: all text, empty cells missing."""
    return pd.read_csv(path, dtype="string", keep_default_na=False).replace("", pd.NA)


def as_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n", date_format="%Y-%m-%dT%H:%M:%S")


def assert_golden(path: Path, actual: str) -> None:
    """`actual` equals the golden file (written instead when updating)."""
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with ENJOURNAL_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path} differs (ENJOURNAL_UPDATE_GOLDEN=1 rewrites it)"
    )
