"""Output rows held as text columns until they are written, so that invalid values can
be planted into a named column of any source the same way (see errors.plant_invalid).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


class Table:
    """Equal-length columns of one output table, file or message part."""

    def __init__(self, name: str, columns: dict[str, Sequence[Any]]) -> None:
        self.name = name
        self.columns: dict[str, list[Any]] = {key: list(values) for key, values in columns.items()}
        lengths = {len(values) for values in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"table {name}: columns of different length {sorted(lengths)}")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Rows as tuples in column order."""
        return zip(*self.columns.values(), strict=True)

    def row(self, index: int) -> dict[str, Any]:
        """One row as a dict."""
        return {key: values[index] for key, values in self.columns.items()}

    def append(self, row: dict[str, Any]) -> None:
        """Add a row given as {column: value} (all columns required)."""
        for key, values in self.columns.items():
            values.append(row[key])
