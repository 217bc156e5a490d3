"""The staging contract's row buffer: bounded chunks, whole units, redacted reasons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from connectors.attachments import AttachmentStore
from connectors.base import QuarantineBatch, Record, Rejected, RowBuffer, SourceContext, StagingBatch


def buffer(chunk_size: int) -> RowBuffer:
    return RowBuffer(
        SourceContext("s", "hl7v2", "2026-11-23T00:00:00", AttachmentStore(Path("/nonexistent"))), chunk_size
    )


def record(entity: str, key: str) -> Record:
    return Record(entity, key, {"v": key}, key, f"f:{key}", "p")


def test_at_most_chunk_size_rows_are_held_whatever_the_entities() -> None:
    rows = buffer(3)
    held: list[int] = []
    out = []
    for i, entity in enumerate(
        ["person", "observation", "encounter", "observation", "person", "allergy", "x"]
    ):
        batches = list(rows.put(record(entity, str(i))))
        out += batches
        held.append(sum(len(b.frame) for b in batches))
    out += list(rows.flush())
    assert held == [0, 0, 3, 0, 0, 3, 0], "every third row sends all held rows out"
    staged = pd.concat([b.frame for b in out if isinstance(b, StagingBatch)])
    assert sorted(staged["source_record_id"].astype(int)) == list(range(7))


def test_a_unit_that_breaks_halfway_is_quarantined_whole() -> None:
    rows = buffer(100)

    def half() -> Iterator[Record]:
        yield record("person", "1")
        raise KeyError("PID-99")

    out = list(rows.guard(half, locator="a.hl7#1", label="a.hl7 message 1", payload="MSH|..."))
    out += list(rows.flush())
    assert [type(b) for b in out] == [QuarantineBatch], "nothing of the broken unit is staged"
    row = out[0].frame.iloc[0]
    assert (
        row["rule"] == "record.unreadable"
        and "KeyError" in row["reason"]
        and "a.hl7 message 1" in row["reason"]
    )
    assert row["value"].endswith(".py:" + row["value"].split(":")[-1]), "where in the code it broke"


def test_rejected_reasons_are_redacted_but_payloads_kept() -> None:
    rows = buffer(100)
    list(rows.put(Rejected("id 15108695088 is odd", "x.rule", "PID|1||15108695088", "f")))
    (batch,) = list(rows.flush())
    assert batch.frame["reason"].iloc[0] == "id 151086***** is odd"
    assert "15108695088" in batch.frame["raw_payload"].iloc[0], "the quarantine keeps the evidence"
