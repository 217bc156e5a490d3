"""Person records → comparison columns: what blocking and scoring look at.

Input is the journal's person record shape (given/middle/family name, birth date, sex,
national ID, address, postcode; any of them may be absent). Every derived column is
computed once per distinct value, so a million records cost little more than their
distinct names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from identity.national_id import classify_series
from identity.normalize import (
    clean_identifier,
    clean_postcode,
    clean_sex,
    fold_address,
    fold_names,
    parse_dates,
    sound_keys,
)

ROLES = (
    "given_name",
    "middle_name",
    "family_name",
    "birth_date",
    "sex",
    "national_id",
    "address_line",
    "postcode",
)
"""The fields identity reads from a person record."""

NO_DATE = np.iinfo(np.int32).min
"""Birth dates are compared as day numbers; this one means missing."""


def prepare(persons: pd.DataFrame, plain_ids: bool = False) -> pd.DataFrame:
    """The records with their comparison columns added (index reset to 0..n-1).

    plain_ids: the national_id column holds some other identifier (no Norwegian rules:
    never a valid strong ID, no birth date or sex taken from it).
    """
    out = persons.reset_index(drop=True).copy()
    empty = pd.Series(pd.NA, index=out.index, dtype="string")
    role = {name: out.get(name, empty) for name in ROLES}

    ids = classify_series(empty if plain_ids else role["national_id"])
    if plain_ids:
        ids["id_kind"] = np.where(role["national_id"].notna(), "identifier", ids["id_kind"])
    out = pd.concat([out.drop(columns=[c for c in ids if c in out]), ids], axis=1)
    raw_id = clean_identifier(role["national_id"])
    out["id_value"] = out["id_value"].astype("string").fillna(raw_id)
    # An identifier's two halves: one typo (digit or swap) leaves at least one intact.
    out["id_head"] = out["id_value"].map(lambda v: v[: (len(v) + 1) // 2], na_action="ignore")
    out["id_tail"] = out["id_value"].map(lambda v: v[(len(v) + 1) // 2 :], na_action="ignore")

    birth = parse_dates(role["birth_date"]).fillna(out["id_birth_date"])
    out["birth_date"] = birth
    out["birth_days"] = _days(birth)
    out["birth_year"] = birth.dt.year.astype("Int32").astype("string")
    out["sex"] = clean_sex(role["sex"]).fillna(out["id_sex"].astype("string"))

    given = fold_names(role["given_name"].astype("string").fillna(""))
    middle = fold_names(role["middle_name"].astype("string").fillna(""))
    out["given_key"] = _blank_to_na((given + " " + middle).str.strip())
    out["family_key"] = _blank_to_na(fold_names(role["family_name"].astype("string").fillna("")))
    out["given_first"] = out["given_key"].str.split(" ", n=1).str[0]
    out["given_prefix"] = out["given_key"].str[:3]
    out["family_sound"] = _blank_to_na(sound_keys(out["family_key"].fillna("")))
    first_family = out["family_key"].str.split(" ", n=1).str[0]
    out["name_pair"] = _sorted_pair(out["given_first"], first_family)

    # Records that lack what the main blocking rules use: focus of the narrower rules.
    out["no_birth_date"] = out["birth_date"].isna()
    out["id_broken"] = out["id_value"].notna() & ~out["id_valid"].astype(bool)
    out["given_initial"] = out["given_key"].str[:1]
    out["family_initial"] = out["family_key"].str[:1]
    out["initials"] = _sorted_pair(out["given_initial"], out["family_initial"])

    out["postcode"] = clean_postcode(role["postcode"])
    address = role["address_line"].astype("string")
    out["address_key"] = _blank_to_na(
        address.map(lambda v: fold_address(v) if isinstance(v, str) else "", na_action="ignore").astype(
            "string"
        )
    )
    return out


def _sorted_pair(first: pd.Series, second: pd.Series) -> pd.Series:
    """`a|b` with the smaller first: the same key whichever field a source put a name in."""
    low = first.where(first <= second, second)
    high = second.where(first <= second, first)
    return (low + "|" + high).astype("string")


def _days(dates: pd.Series) -> np.ndarray:
    """Day numbers since 1970 (int32), NO_DATE where missing."""
    days = dates.to_numpy(dtype="datetime64[D]").astype(np.int64)
    return np.where(dates.isna().to_numpy(), NO_DATE, days).astype(np.int32)


def _blank_to_na(values: pd.Series) -> pd.Series:
    values = values.astype("string")
    return values.mask(values.fillna("") == "")
