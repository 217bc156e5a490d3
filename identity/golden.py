"""Golden person records: one row per journal person, built by survivorship rules.

The rules are data (`identity/specs/survivorship.yaml`): each field is `trusted` (the
most trusted source that has it, then the most recent record) or `any_true` (a flag
any record sets). Two lessons of real roll-outs follow from them: a death recorded in
any source survives the merge, and a confidential-address flag set anywhere wins (its
address is never shown in a report).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict

from identity.national_id import SYSTEMS

SURVIVORSHIP = Path(__file__).with_name("specs") / "survivorship.yaml"
ID_PREFERENCE = {"fnr": 0, "dnr": 1, "fh": 2, "hnr": 3, "synthetic": 4}


class Survivorship(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Literal["trusted", "any_true"]]


@cache
def survivorship(path: Path = SURVIVORSHIP) -> Survivorship:
    return Survivorship.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def golden_records(persons: pd.DataFrame, trust: list[str], rules: Path = SURVIVORSHIP) -> pd.DataFrame:
    """Persons (prepared, with `journal_person_id`) → one golden row per journal person."""
    ranked = _ranked(persons, trust)
    grouped = ranked.groupby("journal_person_id", sort=True)
    golden = pd.DataFrame(
        index=pd.Index(sorted(ranked["journal_person_id"].unique()), name="journal_person_id")
    )
    for field, rule in survivorship(rules).fields.items():
        if field not in ranked:
            golden[field] = False if rule == "any_true" else None
        elif rule == "trusted":
            golden[field] = grouped[field].first()
        else:
            golden[field] = (
                ranked[field]
                .astype("boolean")
                .fillna(False)
                .astype(bool)
                .groupby(ranked["journal_person_id"])
                .any()
            )
    golden = golden.reset_index()
    golden["record_hash"] = [_hash(row) for row in golden.astype("string").itertuples(index=False)]
    return golden


def identifiers(persons: pd.DataFrame) -> pd.DataFrame:
    """Every national ID and local id seen per journal person, valid or not."""
    national = persons[persons["id_value"].notna()]
    national = pd.DataFrame(
        {
            "journal_person_id": national["journal_person_id"],
            "system": national["id_kind"]
            .map(SYSTEMS)
            .fillna("urn:enjournal:national-id:" + national["id_kind"]),
            "value": national["id_value"],
            "kind": national["id_kind"],
            "valid": national["id_valid"].astype(bool),
        }
    )
    local = pd.DataFrame(
        {
            "journal_person_id": persons["journal_person_id"],
            "system": "urn:enjournal:local-id:" + persons["namespace"],
            "value": persons["source_person_id"],
            "kind": "local",
            "valid": True,
        }
    )
    both = pd.concat([national, local], ignore_index=True)
    both["rank"] = both["kind"].map(ID_PREFERENCE).fillna(9)
    both = both.sort_values(["journal_person_id", "rank", "system", "value"])
    return (
        both.drop_duplicates(["journal_person_id", "system", "value"])
        .drop(columns="rank")
        .reset_index(drop=True)
    )


def _ranked(persons: pd.DataFrame, trust: list[str]) -> pd.DataFrame:
    """Members ordered best first: trusted source, then most recent record."""
    rank = {name: position for position, name in enumerate(trust)}
    ordered = persons.assign(
        _trust=persons["source_system"].map(rank).fillna(len(rank)),
        _recent=persons["source_timestamp"].fillna(""),
    )
    return ordered.sort_values(
        ["_trust", "_recent", "source_system", "source_person_id"],
        ascending=[True, False, True, True],
        kind="stable",
    )


def _hash(row: tuple[object, ...]) -> str:
    return hashlib.sha256("\x1f".join("" if pd.isna(v) else str(v) for v in row).encode()).hexdigest()
