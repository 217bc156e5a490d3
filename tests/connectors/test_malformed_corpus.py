"""The malformed corpus (tests/cases/connectors/malformed): quarantine with reasons, no crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.base import SourceBase
from connectors.flatfile import FlatFile, FlatFileSource
from connectors.hl7v2 import Hl7Source
from connectors.kith_xml import KithSource
from tests.conftest import CASES
from tests.connectors.helpers import collect

CORPUS = CASES / "connectors" / "malformed"
EXPECTED: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
CASES_LIST = [(kind, name, spec) for kind, files in EXPECTED.items() for name, spec in files.items()]


def source(kind: str, path: Path) -> SourceBase:
    if kind == "hl7v2":
        return Hl7Source(name="corpus", location=str(path), mapping="-")
    if kind == "kith-xml":
        return KithSource(name="corpus", location=str(path), mapping="-")
    files = [FlatFile(pattern="*", entity="person", key="id", person_key="id")]
    return FlatFileSource(name="corpus", location=str(path), mapping="-", files=files)


def test_the_corpus_is_big_enough_and_every_file_is_listed() -> None:
    on_disk = {(p.parent.name, p.name) for p in CORPUS.glob("*/*") if p.is_file()}
    listed = {(kind, name) for kind, name, _ in CASES_LIST}
    assert on_disk == listed
    assert len(listed) >= 30


@pytest.mark.parametrize(("kind", "name", "spec"), CASES_LIST, ids=[f"{k}/{n}" for k, n, _ in CASES_LIST])
def test_malformed_input_ends_in_quarantine_with_a_reason(kind: str, name: str, spec: dict[str, Any]) -> None:
    frames, quarantine = collect(source(kind, CORPUS / kind / name))
    assert quarantine["rule"].tolist() == spec["rules"]
    assert quarantine["reason"].str.startswith(name).all(), "every reason names its file"
    assert spec["says"] in quarantine["reason"].iloc[0]
    assert quarantine["record_hash"].str.fullmatch(r"[0-9a-f]{64}").all(), "counted in the books by checksum"
    assert quarantine["source_locator"].str.contains(name, regex=False).all()
    assert {entity: len(frame) for entity, frame in frames.items()} == spec.get("staged", {})
