"""Norwegian national identity numbers: classify, validate, derive birth date and sex.

Built on python-stdnum's fødselsnummer check digits (design §5); on top of it: D-, H-
and FH-numbers, synthetic test numbers (+40 Dolly / +80 Tenor / +65 SyntPop on the
month) and the 2032 rule, under which k1 may make the weighted sum 0–3 mod 11 and new
numbers carry neither sex nor century.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import numpy as np
import pandas as pd
from stdnum.no import fodselsnummer

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
SEPARATORS = str.maketrans("", "", " -.")

OID = "urn:oid:2.16.578.1.12.4.1.4"
SYSTEMS = {"fnr": f"{OID}.1", "dnr": f"{OID}.2", "fh": f"{OID}.3"}
"""FHIR identifier systems of the national kinds (design §5); H-numbers are local."""


class IdKind(StrEnum):
    FNR = "fnr"
    DNR = "dnr"
    HNR = "hnr"
    FH = "fh"
    SYNTHETIC = "synthetic"
    INVALID = "invalid"
    MISSING = "missing"


STRONG_KINDS = frozenset({IdKind.FNR, IdKind.DNR, IdKind.FH})
"""Kinds issued nationally to one person: two different valid ones are two people."""


@dataclass(frozen=True)
class NationalId:
    """What a national-ID string says, and whether it can be trusted."""

    value: str | None
    kind: IdKind
    valid: bool
    birth_date: dt.date | None = None
    sex: str | None = None
    rule_2032: bool = False
    problem: str | None = None

    @property
    def strong(self) -> bool:
        return self.valid and self.kind in STRONG_KINDS

    @property
    def system(self) -> str | None:
        return SYSTEMS.get(self.kind)


def mask(value: str | None) -> str:
    """Only the birth-date part of an ID may appear in logs and reports: `150786*****`."""
    if value is None or pd.isna(value):
        return ""
    text = str(value).translate(SEPARATORS)
    return text[:6] + "*" * max(len(text) - 6, 0) if len(text) > 6 else "*" * len(text)


ID_SHAPE = re.compile(r"(?<![0-9])[0-9]{6}[ -]?[0-9]{5}(?![0-9])")
"""An 11-digit national-ID shape, also written 6 + 5 with a space or a hyphen."""


def redact_ids(text: str) -> str:
    """Free text fit for a log or a report: every ID-shaped number masked like `mask`.

    Legacy free text can hold a national ID anywhere (typed into a name, a note, a reason)."""
    return ID_SHAPE.sub(lambda match: mask(match.group()), text)


@lru_cache(maxsize=1 << 16)
def classify(raw: str | None) -> NationalId:
    """Classify one ID string (cached: the same numbers recur across sources)."""
    if raw is None or not str(raw).strip():
        return NationalId(None, IdKind.MISSING, False)
    value = str(raw).strip().translate(SEPARATORS)
    if len(value) != 11 or not value.isdigit():
        return NationalId(value, IdKind.INVALID, False, problem="not 11 digits")
    classic = _classic_checks(value)
    rule_2032 = not classic and _checks_2032(value)
    if not (classic or rule_2032):
        return NationalId(value, IdKind.INVALID, False, problem="check digits do not match")
    day, month = int(value[0:2]), int(value[2:4])
    if value[0] in "89":
        return NationalId(value, IdKind.FH, True, rule_2032=rule_2032)
    kind = IdKind.FNR
    if day > 40:
        kind, day = IdKind.DNR, day - 40
    if 41 <= month <= 52:
        kind, month = IdKind.HNR, month - 40
    elif 81 <= month <= 92 or 66 <= month <= 77:
        kind, month = IdKind.SYNTHETIC, month - (80 if month > 80 else 65)
    birth = _birth_date(day, month, int(value[4:6]), int(value[6:9]), rule_2032)
    if birth is None:
        return NationalId(value, IdKind.INVALID, False, problem="no such birth date")
    if birth > dt.date.today():
        return NationalId(value, IdKind.INVALID, False, problem="birth date in the future")
    sex = None if rule_2032 else ("male" if int(value[8]) % 2 else "female")
    return NationalId(value, kind, True, birth, sex, rule_2032)


def classify_series(values: pd.Series) -> pd.DataFrame:
    """Classification columns for a column of IDs: kind, valid, strong, birth date, sex.

    Each distinct value is classified once (a person's number recurs across sources).
    """
    text = values.astype("string").str.strip()
    distinct = text.dropna().unique()
    results = [classify(value) for value in distinct]
    table = pd.DataFrame(
        {
            "id_value": pd.array([r.value for r in results], dtype="string"),
            "id_kind": [str(r.kind) for r in results],
            "id_valid": [r.valid for r in results],
            "id_strong": [r.strong for r in results],
            "id_birth_date": pd.to_datetime([r.birth_date for r in results]),
            "id_sex": pd.array([r.sex for r in results], dtype="string"),
        },
        index=pd.Index(distinct, dtype="string"),
    )
    missing = pd.DataFrame(
        {
            "id_value": pd.array([None], dtype="string"),
            "id_kind": [str(IdKind.MISSING)],
            "id_valid": [False],
            "id_strong": [False],
            "id_birth_date": pd.to_datetime([None]),
            "id_sex": pd.array([None], dtype="string"),
        }
    )
    position = pd.Index(distinct, dtype="string").get_indexer(text.fillna(""))
    table = pd.concat([table, missing], ignore_index=True)
    out = table.iloc[np.where(position < 0, len(table) - 1, position)].reset_index(drop=True)
    out.index = values.index
    return out


def _classic_checks(value: str) -> bool:
    return value[9] == fodselsnummer.calc_check_digit1(value) and value[10] == (
        fodselsnummer.calc_check_digit2(value)
    )


def _checks_2032(value: str) -> bool:
    """From 2032, k1 may leave a remainder 0–3 (S1 + k1 mod 11); k2 is computed as before."""
    digits = [int(c) for c in value]
    remainder = (sum(w * d for w, d in zip(K1_WEIGHTS, digits, strict=False)) + digits[9]) % 11
    return remainder in (0, 1, 2, 3) and value[10] == fodselsnummer.calc_check_digit2(value)


def _birth_date(day: int, month: int, year: int, individual: int, rule_2032: bool) -> dt.date | None:
    # Numbers under the 2032 rule carry no century: the latest one not in the future.
    centuries = (2000, 1900) if rule_2032 else _centuries(year, individual)
    for century in centuries:
        date = _date(century + year, month, day)
        if date is not None and (not rule_2032 or date <= dt.date.today()):
            return date
    return None


def _centuries(year: int, individual: int) -> list[int]:
    if individual < 500:
        return [1900]
    if individual < 750 and year >= 54:
        return [1800]
    if year < 40:
        return [2000]
    if individual >= 900:
        return [1900]
    return []


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
