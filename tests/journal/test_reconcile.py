"""The books: by count and by checksum, and checked against what the journal really holds."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from journal import loader
from journal.database import open_journal
from journal.reconcile import account, checksum, verify_journal
from tests.journal.test_loader import conditions, persons


def records(*hashes: str, entity: str = "condition") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_system": "epr",
            "entity": entity,
            "source_record_id": [str(i) for i in range(len(hashes))],
            "record_hash": list(hashes),
        }
    )


H = [f"{i:016x}" + "0" * 48 for i in range(1, 6)]


def test_books_balance_when_every_record_is_accounted_for() -> None:
    extracted = records(*H)
    [acc] = account(
        extracted,
        {"loaded": records(H[0], H[1]), "quarantined": records(H[2]), "merged": records(H[3], H[4])},
    )
    assert acc.balanced and (acc.extracted, acc.loaded, acc.quarantined, acc.merged, acc.out_of_scope) == (
        5,
        2,
        1,
        2,
        0,
    )


def test_a_lost_record_unbalances_the_count() -> None:
    [acc] = account(records(*H), {"loaded": records(*H[:4])})
    assert not acc.balanced and "5 extracted but 4 accounted for" in acc.problems[0]


def test_a_substituted_record_unbalances_the_checksum_though_counts_agree() -> None:
    [acc] = account(records(*H), {"loaded": records(*H[:4], "f" * 64)})
    assert acc.problems == ["checksum of accounted records differs from the extracted ones"]


def test_checksum_is_order_free_and_counts_duplicates() -> None:
    assert checksum(pd.Series(H)) == checksum(pd.Series(H[::-1]))
    assert checksum(pd.Series([H[0], H[0]])) != checksum(pd.Series([H[0]]))


def loaded_journal(url: str) -> tuple[Engine, pd.DataFrame]:
    """A journal with two persons and two conditions, and the records the run says it loaded."""
    engine = open_journal(url)
    loader.load_persons(engine, *persons(), run_id="r1")
    loader.load_clinical(engine, "condition", conditions(), "r1")
    people = persons()[3].assign(entity="person")
    clinical = conditions().assign(entity="condition")
    return engine, pd.concat([people, clinical])[
        ["source_system", "entity", "source_record_id", "record_hash"]
    ]


def verified(engine: Engine, loaded: pd.DataFrame) -> dict[str, list[str]]:
    accounts = account(loaded, {"loaded": loaded})
    verify_journal(engine, accounts, loaded)
    return {acc.entity: acc.problems for acc in accounts}


TAMPERING = {
    "deleted": (
        "DELETE FROM condition WHERE source_record_id = '2'",
        [
            "the journal's condition holds 1 rows from epr, its provenance 2",
            "1 provenance rows have no condition row with their key and record hash",
        ],
    ),
    "duplicated": (
        "INSERT INTO condition (id, source_system, source_record_id, record_hash, row_hash, last_run_id, "
        "journal_person_id) SELECT 99, source_system, '2-copy', record_hash, row_hash, last_run_id, "
        "journal_person_id FROM condition WHERE source_record_id = '2'",
        ["the journal's condition holds 3 rows from epr, its provenance 2"],
    ),
    "altered": (
        "UPDATE condition SET record_hash = 'f00' WHERE source_record_id = '1'",
        ["1 provenance rows have no condition row with their key and record hash"],
    ),
}


def test_an_untouched_journal_verifies(journal_url: str) -> None:
    engine, loaded = loaded_journal(journal_url)
    assert verified(engine, loaded) == {"condition": [], "person": []}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_a_tampered_journal_fails_loudly(journal_url: str, tampering: str) -> None:
    engine, loaded = loaded_journal(journal_url)
    statement, problems = TAMPERING[tampering]
    with engine.begin() as connection:
        connection.execute(text(statement))
    assert verified(engine, loaded) == {"condition": problems, "person": []}


def test_a_lost_person_link_fails_the_persons_books(journal_url: str) -> None:
    engine, loaded = loaded_journal(journal_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM person_link WHERE source_person_id = '20'"))
    assert verified(engine, loaded)["person"] == [
        "the journal's person_link holds 1 rows from epr, its provenance 2",
        "1 provenance rows have no person_link row with their key and record hash",
    ]
