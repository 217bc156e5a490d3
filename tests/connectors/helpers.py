"""Run a connector and collect its output per entity (test helper)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from connectors.attachments import AttachmentStore
from connectors.base import PROVENANCE, QUARANTINE_COLUMNS, QuarantineBatch, SourceBase, StagingBatch
from connectors.registry import connector_for

_SCRATCH = Path(tempfile.mkdtemp(prefix="enjournal-test-attachments-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


def collect(
    source: SourceBase, store: AttachmentStore | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    staged: dict[str, list[pd.DataFrame]] = {}
    quarantined: list[pd.DataFrame] = []
    store = store or AttachmentStore(_SCRATCH)
    for batch in connector_for(source, "2026-11-23T00:00:00", store).batches():
        if isinstance(batch, StagingBatch):
            assert set(PROVENANCE) <= set(batch.frame.columns), "every staged row carries provenance"
            staged.setdefault(batch.entity, []).append(batch.frame)
        else:
            assert isinstance(batch, QuarantineBatch)
            assert list(batch.frame.columns) == list(QUARANTINE_COLUMNS)
            quarantined.append(batch.frame)
    frames = {entity: pd.concat(parts, ignore_index=True) for entity, parts in staged.items()}
    quarantine = (
        pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    return frames, quarantine
