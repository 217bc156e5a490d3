"""A merge the source system made itself (HL7 ADT^A40) joins two person records in the
journal, even where the records alone would never link."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select

from journal.database import open_journal
from journal.schema import PersonLink
from pipelines import runner

A01 = (
    "MSH|^~\\&|DIPS|STOLAV|EPJ|HN|{at}||ADT^A01^ADT_A01|{control}|P|2.5\r"
    "EVN|A01|{at}\r"
    "PID|1||{pid}^^^STOLAV^PI{fnr}||{family}^{given}||{birth}|F\r"
    "PV1|1|I|MED^101^1\r"
)
A40 = (
    "MSH|^~\\&|DIPS|STOLAV|EPJ|HN|20130101120000||ADT^A40^ADT_A39|M9|P|2.5\r"
    "EVN|A40|20130101115900\r"
    "PID|1||4711^^^STOLAV^PI{fnr}||Løvås^Kari||19500101|F\r"
    "MRG|4799^^^STOLAV^PI||||||Hansen^Kari\r"
)


def migrate(tmp_path: Path, *, with_merge: bool, fnr: tuple[str, str] = ("", "")) -> pd.DataFrame:
    archive = tmp_path / "hl7"
    archive.mkdir(parents=True)
    people = [
        ("20100101080000", "M1", "4711", "Løvås", "Kari", "19500101", fnr[0]),
        ("20110101080000", "M2", "4799", "Hansen", "Kari", "19510607", fnr[1]),
        ("20110101090000", "M3", "5000", "Berg", "Per", "19600202", ""),
    ]
    keys = ("at", "control", "pid", "family", "given", "birth", "fnr")
    messages = [A01.format(**dict(zip(keys, person, strict=True))) for person in people]
    (archive / "adt.hl7").write_text(
        "\n".join(messages + [A40.format(fnr=fnr[0])] * with_merge), encoding="utf-8"
    )
    config = tmp_path / "migration.yaml"
    config.write_text(
        "name: merges\nsources:\n  - {name: hospital-hl7, kind: hl7v2, location: hl7, mapping: hl7v2.yaml}\n",
        encoding="utf-8",
    )
    runner.run(runner.new_context(config))
    with open_journal(f"sqlite:///{tmp_path / 'journal.db'}").connect() as connection:
        return pd.read_sql(select(PersonLink), connection).set_index("source_person_id")


def test_an_a40_merge_joins_two_records_the_matcher_keeps_apart(tmp_path: Path) -> None:
    apart = migrate(tmp_path / "without", with_merge=False)
    assert apart["journal_person_id"].nunique() == 3, (
        "a new surname and birth date: never linked on their own"
    )
    merged = migrate(tmp_path / "with", with_merge=True)
    assert merged.loc["4711", "journal_person_id"] == merged.loc["4799", "journal_person_id"]
    assert merged.loc["5000", "journal_person_id"] != merged.loc["4711", "journal_person_id"]
    assert "merge" in set(merged.loc[["4711", "4799"], "link_kind"])


def test_an_a40_between_two_different_valid_numbers_is_not_forced(tmp_path: Path) -> None:
    """Two different valid fødselsnumre never merge without a steward, whoever asks."""
    ids = ("~15108695088^^^NOR^NNNOR", "~26111593816^^^NOR^NNNOR")
    merged = migrate(tmp_path, with_merge=True, fnr=ids)
    assert merged.loc["4711", "journal_person_id"] != merged.loc["4799", "journal_person_id"]
