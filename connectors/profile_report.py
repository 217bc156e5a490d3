"""The scan report as files: HTML for a person (offline, every value escaped), CSV for a
spreadsheet (one row per table and field), and the table facts as a second CSV.

Values shown are the scan's top values only (never those seen fewer than `min_count`
times), with national ids masked by the scan; nothing else from the data reaches a report.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from connectors.profile import FieldScan, Profile, TableScan

FIELD_COLUMNS = (
    "source",
    "table",
    "field",
    "rows",
    "nulls",
    "null_share",
    "distinct",
    "top_values",
    "formats",
    "encoding_problems",
    "min_length",
    "max_length",
)
TABLE_COLUMNS = ("source", "table", "rows", "fields", "facts", "problems")


def field_row(table: TableScan, scan: FieldScan, profile: Profile) -> dict[str, Any]:
    share = scan.nulls / scan.rows if scan.rows else 0.0
    return {
        "source": table.source,
        "table": table.name,
        "field": scan.name,
        "rows": scan.rows,
        "nulls": scan.nulls,
        "null_share": f"{share:.1%}",
        "distinct": str(len(scan.values)) if scan.distinct_exact else f">={len(scan.values)}",
        "top_values": "; ".join(f"{v} ({n})" for v, n in scan.top(profile.top_values, profile.min_count)),
        "formats": "; ".join(f"{label} ({n})" for label, n in scan.formats.most_common()),
        "encoding_problems": "; ".join(f"{sign} ({n})" for sign, n in sorted(scan.problems.items())),
        "min_length": scan.min_length if scan.min_length is not None else "",
        "max_length": scan.max_length if scan.max_length is not None else "",
    }


def table_row(table: TableScan) -> dict[str, Any]:
    return {
        "source": table.source,
        "table": table.name,
        "rows": table.rows,
        "fields": len(table.fields),
        "facts": "; ".join(f"{k}={v}" for k, v in table.facts.items()),
        "problems": "; ".join(f"{p} ({n})" for p, n in sorted(table.problems.items())),
    }


def write_report(profile: Profile, out: Path) -> list[Path]:
    """profile.html, profile.csv (fields) and profile-tables.csv under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    fields = [field_row(t, s, profile) for t in profile.tables for s in t.fields.values()]
    tables = [table_row(t) for t in profile.tables]
    written = [
        _csv(out / "profile.csv", FIELD_COLUMNS, fields),
        _csv(out / "profile-tables.csv", TABLE_COLUMNS, tables),
    ]
    environment = Environment(
        loader=PackageLoader("connectors", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    html = environment.get_template("profile.html").render(
        tables=[
            {"table": row, "fields": [f for f in fields if (f["source"], f["table"]) == (t.source, t.name)]}
            for t, row in zip(profile.tables, tables, strict=True)
        ],
        min_count=profile.min_count,
    )
    html_path = out / "profile.html"
    html_path.write_text(html, encoding="utf-8")
    return [html_path, *written]


def _csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
