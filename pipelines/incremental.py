"""What a re-run can skip: sources that did not change, records the journal already holds.

Legacy systems stay in use until cut-over, so the same migration runs again and again.
Two savings, both checked by the books like any other outcome:

- **extract cache**: a source's staging output is kept under `<workdir>/cache/extract/`
  keyed by a fingerprint of its input (file names, sizes and modification times; for a
  database, a `fingerprint_query` the config names). An unchanged source is not read again.
- **unchanged records**: a staged record whose key and payload hash the journal already
  holds, mapped by the same spec and tied to the same journal person, is not mapped,
  validated or loaded again; it counts as loaded (the reconciliation checks the journal
  still holds it with that hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, create_engine, make_url, select, text

from connectors.base import SourceBase
from connectors.sql import SqlSource
from journal.schema import Quarantine, SourceRecord, SourceState

CACHE = ("cache", "extract")


def source_fingerprint(source: SourceBase) -> str | None:
    """A hash that changes whenever the source's input may have; None when it cannot be known."""
    digest = hashlib.sha256(source.model_dump_json().encode())
    if isinstance(source, SqlSource):
        url = make_url(source.location)
        if url.get_backend_name() == "sqlite" and url.database:
            database = Path(url.database)
            _stat_files(digest, database.parent, [database, Path(f"{database}-wal")])
        elif source.fingerprint_query:
            engine = create_engine(source.location)
            try:
                with engine.connect() as connection:
                    rows = connection.execute(text(source.fingerprint_query)).all()
            finally:
                engine.dispose()
            digest.update(repr([tuple(row) for row in rows]).encode())
        else:
            return None
    else:
        root = Path(source.location)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        _stat_files(digest, root, files)
    return digest.hexdigest()


def _stat_files(digest: hashlib._Hash, root: Path, files: list[Path]) -> None:
    for path in files:
        if path.exists():
            stat = path.stat()
            name = path.relative_to(root) if path.is_relative_to(root) and path != root else path.name
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())


class ExtractCache:
    """Staging output of earlier extracts, one entry per source (the latest), hard-linked."""

    def __init__(self, workdir: Path) -> None:
        self.root = workdir.joinpath(*CACHE)

    def restore(self, source: str, fingerprint: str, targets: dict[str, Path]) -> dict[str, int] | None:
        """Link a cached extract into the run's folders; its counts, or None on a miss."""
        entry = self.root / source / fingerprint
        manifest = entry / "counts.json"
        if not manifest.exists():
            return None
        for name, target in targets.items():
            shutil.rmtree(target, ignore_errors=True)
            if (entry / name).exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(entry / name, target, copy_function=_link)
        return json.loads(manifest.read_text(encoding="utf-8"))

    def store(self, source: str, fingerprint: str, folders: dict[str, Path], counts: dict[str, int]) -> None:
        """Keep this extract as the source's only cache entry."""
        shutil.rmtree(self.root / source, ignore_errors=True)
        entry = self.root / source / fingerprint
        for name, folder in folders.items():
            if folder.exists():
                shutil.copytree(folder, entry / name, copy_function=_link)
        entry.mkdir(parents=True, exist_ok=True)
        (entry / "counts.json").write_text(json.dumps(counts), encoding="utf-8")


def _link(source: str, target: str) -> None:
    """A hard link where the file system allows one (no bytes copied), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def mapping_fingerprint(*parts: Path | None) -> str:
    """A hash of everything that decides how a source's rows map and validate (spec, suites)."""
    digest = hashlib.sha256()
    for part in parts:
        if part is None:
            continue
        files = [part] if part.is_file() else sorted(p for p in part.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" not in path.parts:  # compiled on import: not what maps the rows
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def recorded_fingerprint(engine: Engine, source: str) -> str | None:
    """The mapping fingerprint the source's rows in the journal were loaded with."""
    with engine.connect() as connection:
        return connection.execute(
            select(SourceState.mapping_sha256).where(SourceState.source_system == source)
        ).scalar_one_or_none()


def journal_hashes(engine: Engine, source: str, entity: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(source_record_id, record_hash) of a source's records of one entity: loaded, and in open quarantine."""
    with engine.connect() as connection:
        loaded = pd.read_sql(
            select(SourceRecord.source_record_id, SourceRecord.record_hash).where(
                SourceRecord.source_system == source, SourceRecord.entity == entity
            ),
            connection,
        )
        quarantined = pd.read_sql(
            select(Quarantine.source_record_id, Quarantine.record_hash)
            .where(
                Quarantine.source_system == source,
                Quarantine.entity == entity,
                Quarantine.status == "open",
                Quarantine.source_record_id.is_not(None),
            )
            .distinct(),  # one row per broken rule of a record
            connection,
        )
    return loaded, quarantined


def delta(staged: pd.DataFrame, journal: pd.DataFrame) -> pd.Series:
    """Per staged record: `new`, `changed` or `unchanged` against `journal`'s
    (source_record_id, record_hash) rows, one per record."""
    known = staged[["source_record_id", "record_hash"]].merge(
        journal,
        on="source_record_id",
        how="left",
        suffixes=("", "_journal"),
    )
    journal_hash = known["record_hash_journal"].astype(object)
    same = (known["record_hash"].astype(object) == journal_hash).to_numpy(dtype=bool)
    kind = pd.Series("changed", index=staged.index, dtype=object)
    kind[journal_hash.isna().to_numpy()] = "new"
    kind[same] = "unchanged"
    return kind
