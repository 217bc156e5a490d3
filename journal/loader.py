"""Idempotent loading on the natural key, one transaction per batch.

Each batch is merged into the journal by `journal.bulk.upsert`: new rows inserted,
changed rows updated, unchanged rows left alone. A batch and its provenance rows commit
together, so a run killed at any moment leaves whole batches only, and a re-run
converges on the journal a clean run gives.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pandas as pd
from sqlalchemy import Connection, Engine, Table, case, delete, func, insert, select, update

from connectors.attachments import AttachmentStore
from journal.bulk import LoadCounts, upsert
from journal.schema import (
    CLINICAL_TABLES,
    DocumentBlob,
    Person,
    PersonIdentifier,
    PersonLink,
    PersonRecord,
    Quarantine,
    SourceRecord,
)

BATCH_ROWS = 20_000
QUARANTINE_KEY = ["source_system", "entity", "record_key", "rule"]


def existing_links(engine: Engine) -> pd.DataFrame:
    """The journal's person links: what identity must keep stable."""
    with engine.connect() as connection:
        return pd.read_sql(
            select(PersonLink.source_system, PersonLink.source_person_id, PersonLink.journal_person_id),
            connection,
        )


def largest_person_id(engine: Engine) -> int:
    """The largest journal_person_id ever given (merged persons keep theirs, retired)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(Person.journal_person_id))).scalar_one() or 0)


def person_records(engine: Engine, exclude: list[str]) -> pd.DataFrame:
    """Stored source person records (identity's input) of every source but `exclude`."""
    with engine.connect() as connection:
        stored = pd.read_sql(
            select(PersonRecord.source_system, PersonRecord.source_person_id, PersonRecord.namespace)
            .add_columns(PersonRecord.fields)
            .where(PersonRecord.source_system.not_in(exclude))
            .order_by(PersonRecord.source_system, PersonRecord.source_person_id),
            connection,
        )
    if stored.empty:
        return stored.drop(columns="fields")
    lines = io.StringIO("\n".join(stored.pop("fields")))
    fields = pd.read_json(lines, lines=True, dtype=False)  # no type guessing: "0209…" stays text
    return pd.concat([stored, fields.set_axis(stored.index)], axis=1)


def load_persons(
    engine: Engine,
    golden: pd.DataFrame,
    identifiers: pd.DataFrame,
    links: pd.DataFrame,
    sources: pd.DataFrame,
    run_id: str,
    records: pd.DataFrame | None = None,
) -> LoadCounts:
    """Golden persons, their identifiers and the links from source records, in one transaction.

    One transaction because person ids are assigned from the links: a person row must
    never exist without the links that claim its id, nor a link without its person, or a
    re-run after a kill could number people differently from a clean run. A person whose
    every link now points at another (a later wave showed them to be one) is merged into
    it: its clinical rows move there and it keeps its id, retired (`merged_into`).
    `records`: this run's source person records (source keys, namespace, `fields` as JSON),
    kept for matching later waves.
    """
    counts = LoadCounts()
    with engine.begin() as connection:
        moved = _moved_persons(connection, links)
        counts.add(
            upsert(
                connection,
                Person.__table__,
                golden.assign(last_run_id=run_id),
                ["journal_person_id"],
                changed_by=["record_hash"],
            )
        )
        _replace_identifiers(connection, identifiers)
        counts.add(
            upsert(
                connection,
                PersonLink.__table__,
                links.assign(run_id=run_id),
                ["source_system", "source_person_id"],
                changed_by=["record_hash", "journal_person_id", "link_kind"],
            )
        )
        _merge_persons(connection, moved)
        if records is not None:
            upsert(
                connection,
                PersonRecord.__table__,
                records.assign(
                    fields_sha256=[hashlib.sha256(f.encode()).hexdigest() for f in records["fields"]],
                    run_id=run_id,
                ),
                ["source_system", "source_person_id"],
                changed_by=["fields_sha256", "namespace"],
            )
        _record_sources(connection, sources, "person", "person_link", run_id)
    counts.merged = len(moved)
    return counts


def _moved_persons(connection: Connection, links: pd.DataFrame) -> dict[int, int]:
    """Journal persons all of whose links now go to one other person: old id → new id."""
    keys = ["source_system", "source_person_id"]
    before = pd.read_sql(
        select(*(PersonLink.__table__.c[k] for k in [*keys, "journal_person_id"])), connection
    )
    if before.empty:
        return {}
    joined = before.merge(links[[*keys, "journal_person_id"]], on=keys, how="left", suffixes=("", "_new"))
    claimed = set(links["journal_person_id"].astype(int))
    moved = joined[joined["journal_person_id_new"].notna()].groupby("journal_person_id")[
        "journal_person_id_new"
    ]
    return {int(old): int(new.min()) for old, new in moved if int(old) not in claimed and new.nunique() == 1}


def _merge_persons(connection: Connection, moved: dict[int, int]) -> None:
    """Point clinical rows (and earlier merges) of the moved persons at their new persons,
    one statement per table; the moved persons themselves are retired into them."""
    if not moved:
        return
    olds = sorted(moved)
    for model in CLINICAL_TABLES.values():
        column = model.journal_person_id
        connection.execute(
            update(model).where(column.in_(olds)).values(journal_person_id=case(moved, value=column))
        )
    for column in (Person.merged_into, Person.journal_person_id):
        connection.execute(
            update(Person).where(column.in_(olds)).values(merged_into=case(moved, value=column))
        )


def _replace_identifiers(connection: Connection, identifiers: pd.DataFrame) -> None:
    """Every live person's identifiers as identity sees them now (`identifiers` covers all
    persons, earlier waves' too); identifiers no longer a person's are removed."""
    keys = ["journal_person_id", "system", "value"]
    table = PersonIdentifier.__table__
    held = pd.read_sql(select(table.c.id, *(table.c[k] for k in keys)), connection)
    stale = held.merge(identifiers[keys].drop_duplicates(), on=keys, how="left", indicator=True)
    gone = stale.loc[stale["_merge"] == "left_only", "id"].astype(int).tolist()
    for start in range(0, len(gone), BATCH_ROWS):
        connection.execute(
            delete(PersonIdentifier).where(PersonIdentifier.id.in_(gone[start : start + BATCH_ROWS]))
        )
    upsert(connection, table, identifiers, keys)


def load_clinical(
    engine: Engine, entity: str, rows: pd.DataFrame, run_id: str, attachments: AttachmentStore | None = None
) -> LoadCounts:
    """One source's validated rows of one clinical entity, batch by batch.

    Document rows whose `attachment_sha256` is set take their bytes from `attachments`.
    """
    model = CLINICAL_TABLES[entity]
    table = model.__table__
    counts = LoadCounts()
    for batch in _batches(rows):
        with engine.begin() as connection:
            if "content" in batch:
                batch = _store_documents(connection, batch, attachments)
            batch = batch.assign(row_hash=row_hashes(batch, table), last_run_id=run_id)
            counts.add(
                upsert(
                    connection, table, batch, ["source_system", "source_record_id"], changed_by=["row_hash"]
                )
            )
            _record_sources(connection, batch, entity, table.name, run_id)
    return counts


def load_quarantine(engine: Engine, rows: pd.DataFrame, run_id: str, sources: list[str]) -> int:
    """This run's quarantine, keyed by record and rule, and the end of what it no longer holds.

    A re-run refreshes a record's rows instead of doubling them, and reopens a row a
    steward released if the record still fails. A row of these sources that this run did
    not quarantine again (fixed at the source, or a rule no longer broken) is resolved.
    """
    frame = rows.assign(
        record_key=rows["source_record_id"].fillna(rows["source_locator"]).str.slice(0, 255),
        run_id=run_id,
        status="open",
    ).drop_duplicates(QUARANTINE_KEY, keep="last")
    with engine.begin() as connection:
        upsert(
            connection,
            Quarantine.__table__,
            frame,
            QUARANTINE_KEY,
            changed_by=["record_hash", "reason", "run_id", "status"],
        )
        connection.execute(
            update(Quarantine)
            .where(
                Quarantine.source_system.in_(sources),
                Quarantine.status.in_(("open", "released")),
                Quarantine.run_id != run_id,
            )
            .values(status="resolved")
        )
    return len(frame)


def row_hashes(rows: pd.DataFrame, table: Table) -> pd.Series:
    """A 64-bit hash of each row's journal values, as 16 hex digits."""
    columns = sorted(
        c.name for c in table.columns if c.name in rows and c.name not in ("id", "last_run_id", "row_hash")
    )
    hashed = pd.util.hash_pandas_object(rows[columns].astype("string"), index=False)
    return hashed.map("{:016x}".format)


def _batches(rows: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows.iloc[start : start + BATCH_ROWS]


def _store_documents(
    connection: Connection, batch: pd.DataFrame, attachments: AttachmentStore | None
) -> pd.DataFrame:
    """Content-addressed blobs: each distinct content stored once, rows keep its sha256.

    A row's bytes are its stored attachment when `attachment_sha256` is set, else its
    text. Attachments are read and inserted one at a time: a batch may hold gigabytes.
    """
    stored = (
        batch["attachment_sha256"].notna()
        if "attachment_sha256" in batch
        else pd.Series(False, index=batch.index)
    )
    content = batch.loc[~stored, "content"].fillna("").astype(str).map(lambda text: text.encode("utf-8"))
    digests = pd.Series(pd.NA, index=batch.index, dtype="object")
    digests[~stored] = content.map(lambda data: hashlib.sha256(data).hexdigest())
    blobs = pd.DataFrame({"sha256": digests[~stored], "size": content.map(len), "content": content})
    upsert(connection, DocumentBlob.__table__, blobs, ["sha256"])
    if stored.any():
        if attachments is None:
            raise ValueError("document rows reference stored attachments, but no attachment store was given")
        wanted = sorted(set(batch.loc[stored, "attachment_sha256"].astype(str)))
        present = set(
            connection.execute(select(DocumentBlob.sha256).where(DocumentBlob.sha256.in_(wanted))).scalars()
        )
        for sha256 in sorted(set(wanted) - present):
            data = attachments.read(sha256)
            connection.execute(
                insert(DocumentBlob.__table__), {"sha256": sha256, "size": len(data), "content": data}
            )
        digests[stored] = batch.loc[stored, "attachment_sha256"].astype(str)
    extra = [c for c in ("content", "attachment_sha256") if c in batch]
    return batch.drop(columns=extra).assign(content_sha256=digests)


def _record_sources(connection: Connection, rows: pd.DataFrame, entity: str, table: str, run_id: str) -> None:
    """Provenance of every loaded row, in the same transaction as the row itself."""
    record_id = rows["source_record_id"] if "source_record_id" in rows else rows["source_person_id"]
    frame = pd.DataFrame(
        {
            "source_system": rows["source_system"],
            "entity": entity,
            "source_record_id": record_id,
            "source_kind": rows["source_kind"],
            "source_locator": rows["source_locator"].astype(str).str.slice(0, 500),
            "record_hash": rows["record_hash"],
            "journal_table": table,
            "first_run_id": run_id,
            "last_run_id": run_id,
        }
    )
    upsert(
        connection,
        SourceRecord.__table__,
        frame,
        ["source_system", "entity", "source_record_id"],
        changed_by=["record_hash", "source_locator"],
        keep_on_update=["first_run_id"],
    )
