"""Staged records of a source for `enjournal mappings`: from the latest run, or read now.

The latest run under the config's workdir that staged a source is the default: its
Parquet files are exactly what the next mapping stage reads, and their schemas give the
columns without reading any data. A source no run has staged (or any source, with
`--extract`) is read through its connector instead: a sample for `check`, everything
for `report`. Nothing is written into a run workspace either way.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from connectors.attachments import AttachmentStore
from connectors.base import SourceBase, StagingBatch
from connectors.registry import connector_for
from pipelines.config import MigrationConfig
from pipelines.workspace import Workspace

EXTRACTED_AT = "mappings-review"


@dataclass(frozen=True)
class Staged:
    origin: str
    """Where the records came from, as the report prints it."""
    columns: dict[str, list[str]]
    frames: dict[str, pd.DataFrame]
    """Empty when only the columns were asked for."""


def latest_staging(config: MigrationConfig, source_name: str) -> Workspace | None:
    """The newest run (finished or not) that staged `source_name`."""
    runs = sorted((config.workdir / "runs").glob(f"*/staging/{source_name}"))
    if not runs:
        return None
    root = runs[-1].parent.parent
    return Workspace(root, root.name)


def staged_columns(
    config: MigrationConfig, source_name: str, *, extract: bool, rows: int, wanted: set[str]
) -> Staged:
    """Each staged entity's columns: from the latest run's Parquet schemas, or a sample read now."""
    space = None if extract else latest_staging(config, source_name)
    if space is None:
        return _read(config.source(source_name), sample=rows, wanted=wanted)
    columns: dict[str, list[str]] = {}
    for folder in sorted(p for p in space.path("staging", source_name).iterdir() if p.is_dir()):
        names: dict[str, None] = {}
        for part in sorted(folder.glob("*.parquet")):
            names.update(dict.fromkeys(pq.read_schema(part).names))
        columns[folder.name] = list(names)
    return Staged(f"run {space.run_id} (staging Parquet schemas)", columns, {})


def staged_frames(config: MigrationConfig, source_name: str, *, extract: bool) -> Staged:
    """Every staged record of a source: from the latest run, or the whole source read now."""
    space = None if extract else latest_staging(config, source_name)
    if space is None:
        return _read(config.source(source_name), sample=None, wanted=set())
    folder = space.path("staging", source_name)
    frames = {
        p.name: space.read_frame("staging", source_name, p.name)
        for p in sorted(folder.iterdir())
        if p.is_dir()
    }
    return Staged(f"run {space.run_id}", {e: list(f.columns) for e, f in frames.items()}, frames)


def _read(source: SourceBase, *, sample: int | None, wanted: set[str]) -> Staged:
    """Run the connector: all of it, or until every wanted entity has a batch of `sample` rows."""
    if sample is not None:
        source = source.model_copy(update={"chunk_size": sample})
    parts: dict[str, list[pd.DataFrame]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="enjournal-review-") as scratch:  # attachment bytes, unused
        for batch in connector_for(source, EXTRACTED_AT, AttachmentStore(Path(scratch))).batches():
            if isinstance(batch, StagingBatch):
                parts[batch.entity].append(batch.frame)
                if sample is not None and wanted <= set(parts):
                    break
    frames = {entity: pd.concat(chunks, ignore_index=True) for entity, chunks in sorted(parts.items())}
    columns = {entity: list(frame.columns) for entity, frame in frames.items()}
    origin = f"{'a sample ' if sample else ''}read now from {_shown(source.location)}"
    return Staged(origin, columns, {} if sample else frames)


def _shown(location: str) -> str:
    """A source location fit for a report: a database password, if any, hidden."""
    if "://" not in location:
        return location
    from sqlalchemy.engine import make_url

    return make_url(location).render_as_string(hide_password=True)
