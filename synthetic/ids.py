"""Norwegian national identity numbers for synthetic people (design §5).

Numbers are DDMMYY + individual number iii + check digits k1 k2. The individual
number encodes the century (000-499: 1900s; 500-749: 1854-1899; 500-999: 2000s;
900-999 also 1940-1999) and the sex (odd 9th digit = male). D-numbers add 4 to the
first digit, H-numbers add 40 to the month. A draw whose check digit comes out as 10
cannot exist and is redrawn; every number handed out is unique.
"""

from __future__ import annotations

import random

import numpy as np

K1_WEIGHTS = np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])
K2_WEIGHTS = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])

FNR, DNR, HNR = "FNR", "DNR", "HNR"
MAX_ROUNDS = 500
"""Redraw rounds before giving up (a birth date and sex have only ~200 numbers)."""


def check_digits(body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """k1, k2 for rows of nine digits; 10 marks a body that has no valid number."""
    k1 = (11 - (body @ K1_WEIGHTS) % 11) % 11
    k2 = (11 - (np.column_stack([body, k1]) @ K2_WEIGHTS) % 11) % 11
    return k1, np.where(k1 == 10, 10, k2)


def _individual_range(year: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Allowed individual numbers [low, high] for each birth year; people born 1940-1999
    sometimes get the 900-999 series."""
    low = np.select([year >= 2000, year < 1900], [500, 500], 0)
    high = np.select([year >= 2000, year < 1900], [999, 749], 499)
    late_series = (year >= 1940) & (year < 2000) & (rng.random(len(year)) < 0.1)
    return np.where(late_series, 900, low), np.where(late_series, 999, high)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as columns of decimal digits, most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10


def draw(
    rng: np.random.Generator,
    birth: np.ndarray,
    male: np.ndarray,
    kind: str,
    taken: set[str],
) -> np.ndarray:
    """One new, valid, unique number of `kind` (FNR/DNR/HNR) per person; adds them to
    `taken`, which holds every number handed out so far."""
    birth = birth.astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    day = day + (40 if kind == DNR else 0)
    month = month + (40 if kind == HNR else 0)
    date_part = day * 10000 + month * 100 + year % 100
    low, high = _individual_range(year, rng)
    result = np.empty(len(birth), dtype=object)
    todo = np.arange(len(birth))
    for _ in range(MAX_ROUNDS):
        if not len(todo):
            return result
        individual = rng.integers(low[todo], high[todo] + 1)
        individual = individual - individual % 2 + male[todo].astype(np.int64)
        body = np.column_stack([_digits(date_part[todo], 6), _digits(individual, 3)])
        k1, k2 = check_digits(body)
        numbers = date_part[todo] * 100000 + individual * 100 + k1 * 10 + k2
        retry = []
        valid = (k1 < 10) & (k2 < 10)
        for i, ok, number in zip(todo.tolist(), valid.tolist(), numbers.tolist(), strict=True):
            text = f"{number:011d}"
            if ok and text not in taken:
                taken.add(text)
                result[i] = text
            else:
                retry.append(i)
        todo = np.array(retry, dtype=np.int64)
    raise ValueError(f"no free {kind} numbers left for birth dates {sorted(set(birth[todo]))[:5]}")


def mistype(number: str, rnd: random.Random) -> str:
    """A typing error: one digit changed (60%) or two different adjacent digits swapped.
    A changed digit always breaks mod-11; a swap almost always does."""
    digits = list(number)
    if rnd.random() < 0.6:
        pos = rnd.randrange(len(digits))
        digits[pos] = rnd.choice([d for d in "0123456789" if d != digits[pos]])
        return "".join(digits)
    swaps = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
    pos = rnd.choice(swaps)
    digits[pos], digits[pos + 1] = digits[pos + 1], digits[pos]
    return "".join(digits)
