"""Normalise what identity compares: names folded the Norwegian way, mojibake repaired.

Folding maps every spelling of a letter to one ASCII form, in both directions: Løvås,
Lovaas, Loevaas and LØVÅS all compare as `lovas`-like strings close enough for
Jaro-Winkler; Aasen and Åsen fold to the same key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pandas as pd

MOJIBAKE_MARKERS = re.compile("[ÃÂ][\u0080-\u00ff\u0152-\u2122]")

LETTERS = str.maketrans(
    {
        "æ": "ae",
        "ä": "ae",
        "ø": "o",
        "ö": "o",
        "å": "a",
        "ü": "u",
        "ß": "ss",
    }
)
DIGRAPH = re.compile(r"([ao])e")
DOUBLED = re.compile(r"([a-z])\1+")
"""After letters are folded, double spellings collapse: å, aa and a meet at `a`."""

NON_LETTERS = re.compile(r"[^a-z ]+")
SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1 << 18)
def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252 (`SÃ¦ther` → `Sæther`) where that is what happened."""
    if not MOJIBAKE_MARKERS.search(text):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


@lru_cache(maxsize=1 << 18)
def fold_name(text: str) -> str:
    """A comparison key: lower case, no accents, æøå folded, hyphens as spaces."""
    text = repair_mojibake(text).lower().translate(LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = NON_LETTERS.sub(" ", text.replace("-", " "))
    while True:
        collapsed = DOUBLED.sub(r"\1", DIGRAPH.sub(r"\1", text))
        if collapsed == text:
            break
        text = collapsed
    return SPACES.sub(" ", text).strip()


def fold_names(values: pd.Series) -> pd.Series:
    """`fold_name` over a column (each distinct value folded once)."""
    return values.map(lambda v: fold_name(v) if isinstance(v, str) else "", na_action=None).astype(str)


def clean_postcode(values: pd.Series) -> pd.Series:
    """Norwegian postcodes as four digits (leading zeros restored), other countries' as
    their 5-6 digits; anything else is missing."""
    digits = values.astype("string").str.replace(r"\D", "", regex=True)
    digits = digits.mask(digits == "")
    digits = digits.where(digits.str.len() > 4, digits.str.zfill(4))
    return digits.where(digits.str.fullmatch(r"\d{4,6}").fillna(False).astype(bool))


STREET_WORDS = re.compile(r"(ve(i|g)(en)?|vn)\b")


@lru_cache(maxsize=1 << 18)
def fold_address(text: str) -> str:
    """An address key: folded like names but keeping house numbers; veien/vegen/vn as `vei`."""
    text = repair_mojibake(text).lower().translate(LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"(\d)([a-z])\b", r"\1 \2", STREET_WORDS.sub("vei", text))
    return SPACES.sub(" ", text).strip()


SOUNDS = (
    (re.compile(r"sch|sj|skj|kj"), "s"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"th"), "t"),
    (re.compile(r"ck|ch|c|q|g"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"z"), "s"),
    (re.compile(r"w"), "v"),
    (re.compile(r"dt|d$"), "t"),
    (re.compile(r"(?<=[a-z])h"), ""),
)
"""A coarse sound key for blocking: Kristiansen/Christiansen, Schmidt/Smidt, Mathiesen/Matiesen."""


@lru_cache(maxsize=1 << 18)
def sound_key(text: str) -> str:
    """The sound of the first word of a folded name (soft and silent spellings unified)."""
    first = fold_name(text).split(" ", 1)[0]
    for pattern, replacement in SOUNDS:
        first = pattern.sub(replacement, first)
    return DOUBLED.sub(r"\1", first)


def sound_keys(values: pd.Series) -> pd.Series:
    return values.map(lambda v: sound_key(v) if isinstance(v, str) and v else "").astype(str)


DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y%m%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d.%m.%y",
    "%m/%d/%Y",
    "%d %b %Y",
    "%d %B %Y",
)
"""Day-first before month-first: a Norwegian 03/04/1950 is the 3rd of April."""


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates written in any common way (ISO, YYYYMMDD, DD.MM.YYYY, ...) → datetime64; else NaT.

    Each format is tried over the whole column at once; the first that reads a value wins.
    A time of day after an ISO date is ignored. Two-digit years go to the latest century
    that does not put the date in the future.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    text = values.astype("string").str.strip().str.replace(r"[T ]\d{1,2}:\d{2}.*$", "", regex=True)
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        todo = result.isna() & text.notna()
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        if fmt.endswith("%y"):
            parsed = parsed.where(parsed <= pd.Timestamp.today(), parsed - pd.DateOffset(years=100))
        result[todo] = parsed
    return result


SEX_WORDS = {
    "m": "male",
    "male": "male",
    "mann": "male",
    "1": "male",
    "f": "female",
    "k": "female",
    "female": "female",
    "kvinne": "female",
    "2": "female",
}


def clean_sex(values: pd.Series) -> pd.Series:
    """male / female from the usual codes (M/F/K, 1/2, words); anything else is missing."""
    return values.astype("string").str.strip().str.lower().map(SEX_WORDS).astype("string")


def clean_identifier(values: pd.Series) -> pd.Series:
    """An identifier compared as text: upper case, separators and spaces gone."""
    cleaned = values.astype("string").str.upper().str.replace(r"[\s\-./]", "", regex=True)
    return cleaned.mask(cleaned == "")
