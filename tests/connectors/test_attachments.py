"""The content-addressed attachment store, and the loader taking document bytes from it."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.attachments import AttachmentStore, BadAttachment
from journal import loader
from journal.database import open_journal
from journal.schema import Document, DocumentBlob


def test_bytes_are_stored_once_under_their_sha256(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    first = store.put(b"%PDF-1.4 x")
    again = store.put(b"%PDF-1.4 x")
    digest = hashlib.sha256(b"%PDF-1.4 x").hexdigest()
    assert first == again and first.sha256 == digest and first.size == 10
    assert store.path(digest) == tmp_path / digest[:2] / digest
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest], "no temporary files left"


@given(st.binary(max_size=300))
def test_property_base64_with_line_breaks_decodes_to_the_same_bytes(data: bytes) -> None:
    encoded = base64.encodebytes(data)  # 76-character lines, as KITH messages carry them
    with tempfile.TemporaryDirectory() as folder:
        store = AttachmentStore(Path(folder))
        assert store.read(store.put_base64(encoded.decode()).sha256) == data


@pytest.mark.parametrize("text", ["@@@@", "QUJD=QUJD", "QUJ"])
def test_broken_base64_is_refused_not_guessed(tmp_path: Path, text: str) -> None:
    with pytest.raises(BadAttachment, match="not valid base64"):
        AttachmentStore(tmp_path).put_base64(text)


def test_a_tampered_file_fails_its_hash(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    stored = store.put(b"original")
    store.path(stored.sha256).write_bytes(b"changed")
    with pytest.raises(BadAttachment, match="does not match"):
        store.read(stored.sha256)
    with pytest.raises(BadAttachment):
        store.path("../../etc/passwd")


def test_loader_takes_document_bytes_from_the_store(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "store")
    pdf = store.put(b"%PDF-1.4 attachment bytes")
    engine = open_journal(f"sqlite:///{tmp_path / 'journal.db'}")
    with engine.begin() as connection:
        connection.execute(
            loader.Person.__table__.insert(), {"journal_person_id": 1, "record_hash": "h", "last_run_id": "r"}
        )
    rows = pd.DataFrame(
        {
            "source_system": ["kith", "kith"],
            "source_kind": ["kith-xml", "kith-xml"],
            "source_locator": ["a.xml", "a.xml"],
            "source_record_id": ["m/attachment/1", "m/text"],
            "source_person_id": ["m", "m"],
            "record_hash": ["h1", "h2"],
            "journal_person_id": [1, 1],
            "title": ["EKG", "Notat"],
            "content_type": ["application/pdf", "text/plain"],
            "content": [pdf.describe("EKG", "application/pdf"), "Kontroll."],
            "attachment_sha256": [pdf.sha256, None],
        }
    )
    counts = loader.load_clinical(engine, "document", rows, "run-1", store)
    assert counts.inserted == 2
    with engine.connect() as connection:
        documents = dict(connection.execute(select(Document.source_record_id, Document.content_sha256)).all())
        blobs = dict(connection.execute(select(DocumentBlob.sha256, DocumentBlob.content)).all())
    assert documents["m/attachment/1"] == pdf.sha256
    assert blobs[pdf.sha256] == b"%PDF-1.4 attachment bytes"
    assert blobs[documents["m/text"]] == b"Kontroll."
    again = loader.load_clinical(engine, "document", rows, "run-2", store)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2), "a re-run changes nothing"
