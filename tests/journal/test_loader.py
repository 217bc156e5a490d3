"""Loading is idempotent on the natural key, on SQLite, PostgreSQL (COPY) and MariaDB."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, event, func, select, update

from journal import loader
from journal.bulk import upsert
from journal.database import open_journal
from journal.schema import (
    Condition,
    Document,
    DocumentBlob,
    Person,
    PersonIdentifier,
    PersonLink,
    Quarantine,
    SourceRecord,
)


def persons() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    golden = pd.DataFrame(
        {
            "journal_person_id": [1, 2],
            "given_name": ["Kari", "Ola"],
            "family_name": ["Berg", "Dahl"],
            "birth_date": pd.to_datetime(["1950-01-01", "1960-02-02"]),
            "sex": ["female", "male"],
            "deceased_date": pd.to_datetime([None, None]),
            "confidential_address": [False, True],
            "record_hash": ["g1", "g2"],
        }
    )
    identifiers = pd.DataFrame(
        {
            "journal_person_id": [1],
            "system": ["urn:oid:2.16.578.1.12.4.1.4.1"],
            "value": ["15108695088"],
            "kind": ["fnr"],
            "valid": [True],
        }
    )
    sources = pd.DataFrame(
        {
            "source_system": ["epr", "epr"],
            "source_person_id": ["10", "20"],
            "source_record_id": ["10", "20"],
            "source_kind": ["sql", "sql"],
            "source_locator": ["PASIENT:10", "PASIENT:20"],
            "record_hash": ["a10", "a20"],
        }
    )
    links = sources[["source_system", "source_person_id", "record_hash"]].assign(
        journal_person_id=[1, 2], link_kind="single", match_weight=None
    )
    return golden, identifiers, links, sources


def conditions(code: str = "E119", hash_: str = "c01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_system": ["epr", "epr"],
            "source_kind": ["sql", "sql"],
            "source_locator": ["DIAGNOSE:1", "DIAGNOSE:2"],
            "source_record_id": ["1", "2"],
            "source_person_id": ["10", "20"],
            "source_timestamp": [None, None],
            "record_hash": [hash_, "c02"],
            "journal_person_id": pd.array([1, 2], dtype="Int64"),
            "code_system": ["urn:oid:2.16.578.1.12.4.1.1.7110"] * 2,
            "code": [code, "I10"],
            "code_valid": [True, True],
            "recorded_at": pd.to_datetime(["2020-01-01 10:00", "2021-01-01 00:00"]),
        }
    )


def test_second_load_changes_nothing_and_a_corrected_record_updates(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    counts = loader.load_persons(engine, *persons(), run_id="r1")
    assert (counts.inserted, counts.updated) == (4, 0)
    assert loader.load_clinical(engine, "condition", conditions(), "r1").inserted == 2
    again = loader.load_clinical(engine, "condition", conditions(), "r2")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert loader.load_persons(engine, *persons(), run_id="r2").inserted == 0
    fixed = loader.load_clinical(engine, "condition", conditions(code="E110", hash_="c01b"), "r3")
    assert (fixed.inserted, fixed.updated, fixed.unchanged) == (0, 1, 1)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Condition.source_record_id, Condition.code, Condition.last_run_id).order_by(
                Condition.source_record_id
            )
        ).all()
        assert [tuple(r) for r in rows] == [("1", "E110", "r3"), ("2", "I10", "r1")]
        provenance = connection.execute(
            select(SourceRecord.record_hash, SourceRecord.first_run_id, SourceRecord.last_run_id).where(
                SourceRecord.entity == "condition", SourceRecord.source_record_id == "1"
            )
        ).one()
        assert tuple(provenance) == ("c01b", "r1", "r3")
        assert connection.execute(select(func.count()).select_from(Person)).scalar_one() == 2
        assert connection.execute(select(func.count()).select_from(PersonLink)).scalar_one() == 2
        assert (
            connection.execute(
                select(Person.confidential_address).where(Person.journal_person_id == 2)
            ).scalar_one()
            is True
        )


def test_documents_are_stored_once_by_content(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    loader.load_persons(engine, *persons(), run_id="r1")
    documents = pd.DataFrame(
        {
            "source_system": ["muni"] * 3,
            "source_kind": ["csv"] * 3,
            "source_locator": ["n:1", "n:2", "n:3"],
            "source_record_id": ["1", "2", "3"],
            "record_hash": ["d1", "d2", "d3"],
            "journal_person_id": pd.array([1, 1, 2], dtype="Int64"),
            "title": ["a", "b", "c"],
            "content": ["Samme tekst æøå", "Samme tekst æøå", "Annen"],
        }
    )
    assert loader.load_clinical(engine, "document", documents, "r1").inserted == 3
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(DocumentBlob)).scalar_one() == 2
        blob = connection.execute(
            select(DocumentBlob.content)
            .join(Document, Document.content_sha256 == DocumentBlob.sha256)
            .where(Document.source_record_id == "1")
        ).scalar_one()
        assert blob.decode("utf-8") == "Samme tekst æøå"


def quarantined(*records: tuple[str, str, str], source: str = "muni") -> pd.DataFrame:
    """Quarantine rows of (record id, rule, value)."""
    return pd.DataFrame(
        {
            "source_system": source,
            "source_kind": "csv",
            "entity": "encounter",
            "source_locator": [f"t.csv:{r}" for r, _, _ in records],
            "source_record_id": [r for r, _, _ in records],
            "stage": "map",
            "rule": [rule for _, rule, _ in records],
            "field": "start",
            "value": [value for _, _, value in records],
            "reason": [f"start: {value!r} is not a valid date" for _, _, value in records],
            "raw_payload": "{}",
            "record_hash": [f"q{r}" for r, _, _ in records],
        }
    )


def statuses(engine: Engine) -> dict[tuple[str, str, str], str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Quarantine.source_system, Quarantine.record_key, Quarantine.rule, Quarantine.status)
        )
        return {(s, k, rule): status for s, k, rule, status in rows}


def test_quarantine_is_refreshed_not_doubled_and_resolved_when_fixed(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    loader.load_quarantine(
        engine, quarantined(("7", "map.start", "31.02.2019"), ("8", "map.start", "x")), "r1", ["muni"]
    )
    loader.load_quarantine(engine, quarantined(("9", "map.start", "y"), source="epr"), "r1", ["epr"])
    loader.load_quarantine(engine, quarantined(("7", "map.start", "31.02.2019")), "r2", ["muni"])
    assert statuses(engine) == {
        ("muni", "7", "map.start"): "open",
        ("muni", "8", "map.start"): "resolved",  # fixed at the source: r2 did not quarantine it
        ("epr", "9", "map.start"): "open",  # another source, not part of r2
    }


def test_a_released_record_that_still_fails_is_open_again(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    rows = quarantined(("7", "map.start", "31.02.2019"), ("8", "map.start", "x"))
    loader.load_quarantine(engine, rows, "r1", ["muni"])
    with engine.begin() as connection:
        connection.execute(update(Quarantine).values(status="released", released_by="steward"))
    loader.load_quarantine(engine, rows.iloc[:1], "r2", ["muni"])
    with engine.connect() as connection:
        rows_now = connection.execute(
            select(Quarantine.record_key, Quarantine.status, Quarantine.released_by).order_by(
                Quarantine.record_key
            )
        ).all()
    assert [tuple(r) for r in rows_now] == [("7", "open", "steward"), ("8", "resolved", "steward")]


def test_ids_follow_load_order_without_gaps_after_a_rolled_back_batch(any_journal_url: str) -> None:
    """A killed transaction must not shift the ids of the rows a re-run loads (sequences would)."""
    engine = open_journal(any_journal_url)
    loader.load_persons(engine, *persons(), run_id="r1")
    first, second = conditions().iloc[:1], conditions().iloc[1:]
    loader.load_clinical(engine, "condition", first, "r1")
    with pytest.raises(RuntimeError), engine.begin() as connection:
        upsert(
            connection,
            Condition.__table__,
            second.assign(row_hash="x", last_run_id="r2"),
            ["source_system", "source_record_id"],
        )
        raise RuntimeError("killed")
    loader.load_clinical(engine, "condition", second, "r2")
    with engine.connect() as connection:
        ids = connection.execute(
            select(Condition.source_record_id, Condition.id).order_by(Condition.id)
        ).all()
    assert [tuple(r) for r in ids] == [("1", 1), ("2", 2)]


def test_each_batch_commits_with_its_provenance(
    any_journal_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_journal(any_journal_url)
    loader.load_persons(engine, *persons(), run_id="r1")
    monkeypatch.setattr(loader, "BATCH_ROWS", 1)
    statements: list[str] = []
    event.listen(engine, "commit", lambda connection: statements.append("commit"))
    counts = loader.load_clinical(engine, "condition", conditions(), "r1")
    assert (counts.inserted, statements) == (2, ["commit", "commit"])
    with engine.connect() as connection:
        provenance = connection.execute(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.entity == "condition")
        ).scalar_one()
    assert provenance == 2


def test_a_person_moved_to_another_journal_person_updates_its_rows(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    loader.load_persons(engine, *persons(), run_id="r1")
    loader.load_clinical(engine, "condition", conditions(), "r1")
    moved = conditions().assign(journal_person_id=pd.array([2, 2], dtype="Int64"))
    counts = loader.load_clinical(engine, "condition", moved, "r2")
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 1)


def test_a_person_whose_every_link_moves_is_merged_and_its_rows_follow(any_journal_url: str) -> None:
    """A later wave shows persons 1 and 2 to be one: 2 is retired into 1, its rows move."""
    engine = open_journal(any_journal_url)
    golden, identifiers, links, sources = persons()
    loader.load_persons(engine, golden, identifiers, links, sources, "r1")
    loader.load_clinical(engine, "condition", conditions(), "r1")
    one = golden[golden["journal_person_id"] == 1]
    relinked = links.assign(journal_person_id=[1, 1])
    counts = loader.load_persons(engine, one, identifiers, relinked, sources, "r2")
    assert counts.merged == 1
    with engine.connect() as connection:
        merged = dict(connection.execute(select(Person.journal_person_id, Person.merged_into)).all())
        assert merged == {1: None, 2: 1}, "person 2 is kept, retired into 1: its id is never given again"
        owners = connection.execute(select(Condition.journal_person_id)).scalars().all()
        assert owners == [1, 1], "the merged person's rows now belong to the surviving one"
    assert loader.largest_person_id(engine) == 2


def test_identifiers_that_are_no_longer_a_persons_are_removed(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    golden, identifiers, links, sources = persons()
    loader.load_persons(engine, golden, identifiers, links, sources, "r1")
    moved = identifiers.assign(journal_person_id=[2])  # the number turned out to be Ola's
    loader.load_persons(engine, golden, moved, links, sources, "r2")
    with engine.connect() as connection:
        held = connection.execute(select(PersonIdentifier.journal_person_id, PersonIdentifier.value)).all()
    assert [tuple(h) for h in held] == [(2, "15108695088")]


def test_person_records_are_kept_for_later_waves(any_journal_url: str) -> None:
    engine = open_journal(any_journal_url)
    golden, identifiers, links, sources = persons()
    records = sources[["source_system", "source_person_id"]].assign(
        namespace="hospital", fields=['{"given_name": "Kari", "birth_date": "1950-01-01T00:00:00.000"}', "{}"]
    )
    loader.load_persons(engine, golden, identifiers, links, sources, "r1", records)
    stored = loader.person_records(engine, exclude=[])
    assert stored[["source_person_id", "namespace", "given_name"]].to_dict("records")[0] == {
        "source_person_id": "10",
        "namespace": "hospital",
        "given_name": "Kari",
    }
    assert loader.person_records(engine, exclude=["epr"]).empty
