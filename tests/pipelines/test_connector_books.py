"""The books balance for every connector on real samples and on the malformed corpus.

Runs the stage functions directly (no Prefect): extract → match → map → validate → load →
reconcile, with the public KITH and HL7 samples, the other-version fixtures and the
malformed corpus as sources. Every record ends loaded, quarantined, merged or out of scope.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import text

from pipelines import stages
from pipelines.config import load_config
from pipelines.stages import RunContext
from pipelines.workspace import Workspace
from tests.conftest import CASES


def test_books_balance_for_real_samples_and_broken_inputs(tmp_path: Path, shared_data: Path) -> None:
    corpus = CASES / "connectors" / "malformed"
    config = {
        "name": "connector-books",
        "workdir": str(tmp_path),
        "sources": [
            {
                "name": "kith-samples",
                "kind": "kith-xml",
                "location": str(shared_data / "kith"),
                "mapping": "kith-messages.yaml",
            },
            {
                "name": "kith-versions",
                "kind": "kith-xml",
                "location": str(CASES / "connectors" / "kith"),
                "mapping": "kith-messages.yaml",
            },
            {
                "name": "kith-broken",
                "kind": "kith-xml",
                "location": str(corpus / "kith-xml"),
                "mapping": "kith-messages.yaml",
            },
            {
                "name": "hl7-samples",
                "kind": "hl7v2",
                "location": str(shared_data / "hl7v2"),
                "pattern": "*",
                "mapping": "hl7v2.yaml",
            },
            {
                "name": "hl7-broken",
                "kind": "hl7v2",
                "location": str(corpus / "hl7v2"),
                "mapping": "hl7v2.yaml",
            },
        ],
    }
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    migration = load_config(path)
    ctx = RunContext(migration, Workspace.create(migration.workdir, "books"), dt.datetime(2026, 11, 23))
    stages.begin(ctx)
    for name in ctx.source_names:
        stages.extract(ctx, name)
    stages.match_persons(ctx)
    for name in ctx.source_names:
        stages.map_clinical(ctx, name)
        stages.validate_clinical(ctx, name)
    stages.load(ctx)
    summary = stages.reconcile(ctx)

    assert summary["balanced"]
    accounts = pd.DataFrame(summary["accounts"]).set_index(["source_system", "entity"])
    assert (
        accounts["extracted"] == accounts[["loaded", "quarantined", "merged", "out_of_scope"]].sum(axis=1)
    ).all()
    assert accounts.loc[("kith-samples", "person"), "extracted"] == 53
    assert accounts.loc[("kith-broken", "raw"), "quarantined"] >= 10, "broken files are counted, not lost"
    assert accounts.loc[("hl7-broken", "raw"), "quarantined"] >= 10
    assert accounts.loc[("kith-samples", "document"), "loaded"] > 0
    with ctx.engine.connect() as connection:
        blobs = connection.execute(text("SELECT size FROM document_blob ORDER BY size DESC")).scalars().all()
        attachments = connection.execute(
            text("SELECT count(*) FROM document WHERE source_record_id LIKE '%/attachment/%'")
        ).scalar_one()
    assert blobs[0] == 1499321, "the Dialogmelding's PDF is in the journal, byte for byte"
    assert attachments == 2
