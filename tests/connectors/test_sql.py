"""Legacy SQL databases: the same legacy schema read from SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, create_engine, insert, text

from connectors.attachments import AttachmentStore
from connectors.sql import SqlSource, SqlTable
from tests.connectors.helpers import collect

DOCUMENTS = MetaData()
DOKUMENT = Table(
    "DOKUMENT",
    DOCUMENTS,
    Column("DOK_ID", Integer),
    Column("PAS_ID", Integer),
    Column("TITTEL", String(50)),
    Column("INNHOLD", LargeBinary().with_variant(LargeBinary(2**24), "mysql")),
)
PDF = b"%PDF-1.4 " + bytes(range(256))

LEGACY = [
    'CREATE TABLE "PASIENT" ("PAS_ID" INTEGER PRIMARY KEY, "FNR" VARCHAR(11), "ETTERNAVN" VARCHAR(50), "FODT" VARCHAR(8))',
    'CREATE TABLE "DIAGNOSE" ("DIAG_ID" INTEGER PRIMARY KEY, "PAS_ID" INTEGER, "ICD10" VARCHAR(10), "VEKT" NUMERIC(5,1))',
    "INSERT INTO \"PASIENT\" VALUES (1, '15108695088', 'Løvås', '19861015'), (2, NULL, 'Berg', '19500101')",
    "INSERT INTO \"DIAGNOSE\" VALUES (10, 1, 'E11.9', 72.5), (11, 2, 'I10', NULL), (12, 1, 'J449', 80.0)",
]


def load_legacy(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.execute(text("SET SESSION sql_mode = 'ANSI_QUOTES'"))
        for statement in LEGACY:
            connection.execute(text(statement))
    DOCUMENTS.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(DOKUMENT),
            [
                {"DOK_ID": 1, "PAS_ID": 1, "TITTEL": "Epikrise", "INNHOLD": PDF},
                {"DOK_ID": None, "PAS_ID": 2, "TITTEL": "uten nøkkel", "INNHOLD": None},
            ],
        )
    engine.dispose()


def source(url: str, chunk_size: int = 50_000) -> SqlSource:
    quote = "`" if url.startswith("mysql") else '"'
    return SqlSource(
        name="epr",
        location=url,
        mapping="x.yaml",
        chunk_size=chunk_size,
        tables=[
            SqlTable(entity="person", table="PASIENT", key="PAS_ID", person_key="PAS_ID"),
            SqlTable(
                entity="condition",
                query=f"SELECT * FROM {quote}DIAGNOSE{quote} ORDER BY {quote}DIAG_ID{quote}",
                key=["DIAG_ID"],
                person_key="PAS_ID",
            ),
        ],
    )


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'legacy.db'}"
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = request.getfixturevalue("mysql_url")
    load_legacy(url)
    return url


def test_tables_and_queries_stage_as_text_with_keys_and_hashes(legacy_url: str) -> None:
    frames, quarantine = collect(source(legacy_url))
    assert quarantine.empty
    persons = frames["person"].sort_values("source_record_id")
    assert persons["source_record_id"].tolist() == ["1", "2"]
    assert persons["ETTERNAVN"].tolist() == ["Løvås", "Berg"]
    assert persons["FNR"].isna().tolist() == [False, True]
    conditions = frames["condition"]
    assert conditions["source_person_id"].tolist() == ["1", "2", "1"]
    assert conditions["ICD10"].tolist() == ["E11.9", "I10", "J449"]
    assert float(conditions.loc[0, "VEKT"]) == 72.5
    assert conditions["source_locator"].tolist()[0] == "query:10"
    assert conditions["record_hash"].str.len().eq(64).all() and conditions["record_hash"].is_unique


def test_chunked_reads_give_the_same_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    load_legacy(url)
    whole, _ = collect(source(url))
    chunked, _ = collect(source(url, chunk_size=1))
    assert chunked["condition"]["record_hash"].tolist() == whole["condition"]["record_hash"].tolist()


def test_blobs_go_to_the_store_and_keyless_rows_to_quarantine(legacy_url: str, tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "store")
    documents = SqlSource(
        name="epr",
        location=legacy_url,
        mapping="x.yaml",
        tables=[SqlTable(entity="document", table="DOKUMENT", key="DOK_ID", person_key="PAS_ID")],
    )
    frames, quarantine = collect(documents, store)
    row = frames["document"].iloc[0]
    assert store.read(row["INNHOLD"]) == PDF, "the column holds the sha256 of its bytes"
    assert quarantine["rule"].tolist() == ["sql.no_key"]
    assert "uten nøkkel" in quarantine["reason"].iloc[0]


def test_a_table_that_cannot_be_read_is_quarantined_and_the_next_one_is_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    load_legacy(url)
    config = SqlSource(
        name="epr",
        location=url,
        mapping="x.yaml",
        tables=[
            SqlTable(entity="person", table="PASIENT_SOM_MANGLER", key="PAS_ID", person_key="PAS_ID"),
            SqlTable(entity="person", table="PASIENT", key="PAS_ID", person_key="FODSELSNR"),
            SqlTable(entity="condition", table="DIAGNOSE", key="DIAG_ID", person_key="PAS_ID"),
        ],
    )
    frames, quarantine = collect(config)
    assert quarantine["rule"].tolist() == ["sql.unreadable", "sql.unreadable"]
    assert "PASIENT_SOM_MANGLER: unreadable after 0 row(s)" in quarantine["reason"].iloc[0]
    assert "['FODSELSNR'] are not in the result" in quarantine["reason"].iloc[1]
    assert len(frames["condition"]) == 3
