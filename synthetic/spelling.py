"""How names get spelled wrong in legacy systems: typing errors, æøå written in 7-bit
ASCII, UTF-8 bytes read as Windows-1252."""

from __future__ import annotations

import random

NORWEGIAN = "æøåÆØÅ"
TYPO_LETTERS = "abcdefghijklmnopqrstuvwxyzæøå"
ASCII_FOLD = {"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"}


def typo(value: str, rnd: random.Random) -> str:
    """One substitution, transposition of neighbours, or deletion (keeps >= 2 letters)."""
    letters = [i for i, c in enumerate(value) if c.isalpha()]
    if len(letters) < 3:
        return value
    op = rnd.choice(("substitute", "transpose", "delete"))
    pos = rnd.choice(letters[1:])
    chars = list(value)
    if op == "substitute":
        new = rnd.choice([c for c in TYPO_LETTERS if c != chars[pos].lower()])
        chars[pos] = new.upper() if chars[pos].isupper() else new
    elif op == "transpose" and pos + 1 < len(chars) and chars[pos + 1] != chars[pos]:
        chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
    else:
        del chars[pos]
    return "".join(chars)


def ascii_fold(value: str) -> str:
    """Sæther -> Saether, LØVÅS -> LOEVAAS (as 7-bit systems wrote them)."""
    if value.isupper():
        return "".join(ASCII_FOLD.get(c, c).upper() for c in value)
    return "".join(ASCII_FOLD.get(c, c) for c in value)


def mojibake(value: str) -> str:
    """UTF-8 bytes read as Windows-1252 (Løvås -> LÃ¸vÃ¥); unchanged where the bytes
    have no cp1252 character."""
    try:
        return value.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:
        return value


def match_case(template: str, value: str) -> str:
    """value in upper case when the source writes template in upper case."""
    return value.upper() if template.isupper() else value
