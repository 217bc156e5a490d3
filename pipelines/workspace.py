"""The run workspace: stages hand data to each other as files, not as in-memory objects.

`<workdir>/runs/<run_id>/{staging,identity,mapped,quarantine,reports}/…` as Parquet
(frames) and JSON/HTML/CSV (reports), so a run can be inspected, resumed and spread
over workers.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STAGES = ("staging", "identity", "mapped", "quarantine", "reports")


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: `20261123T041500-3f9a`."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Workspace:
    root: Path
    run_id: str

    @classmethod
    def create(cls, workdir: Path, run_id: str) -> Workspace:
        space = cls(workdir / "runs" / run_id, run_id)
        for stage in STAGES:
            (space.root / stage).mkdir(parents=True, exist_ok=True)
        return space

    @classmethod
    def latest(cls, workdir: Path) -> Workspace | None:
        """The most recent run that wrote a summary."""
        runs = sorted((workdir / "runs").glob("*/reports/summary.json"))
        if not runs:
            return None
        root = runs[-1].parent.parent
        return cls(root, root.name)

    def path(self, stage: str, *parts: str) -> Path:
        return self.root.joinpath(stage, *parts)

    def write_frame(self, frame: pd.DataFrame, stage: str, *parts: str) -> Path:
        """Write one Parquet part; several parts of one frame share a folder."""
        path = self.path(stage, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        return path

    def read_frame(self, stage: str, *parts: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a Parquet file or a folder of parts; empty frame when absent."""
        path = self.path(stage, *parts)
        if path.is_dir():
            files = sorted(path.glob("*.parquet"))
            if not files:
                return pd.DataFrame(columns=columns or [])
            tables = [pq.read_table(f, columns=columns) for f in files]
            return pa.concat_tables(tables, promote_options="permissive").to_pandas()
        if not path.exists():
            return pd.DataFrame(columns=columns or [])
        return pq.read_table(path, columns=columns).to_pandas()

    def write_json(self, data: Any, stage: str, *parts: str) -> Path:
        path = self.path(stage, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        return path

    def read_json(self, stage: str, *parts: str) -> Any:
        return json.loads(self.path(stage, *parts).read_text(encoding="utf-8"))
