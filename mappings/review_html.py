"""The mapping review as one self-contained HTML page: no scripts, no CDN, every value escaped."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from mappings.review import Review

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
p.note { color: #555; }
"""

SECTIONS = {
    "unmapped": "Every source code a steward must resolve, most frequent first. Complete the "
    "target columns in unmapped-codes.csv and copy the rows into the code map named; codes "
    "invalid in a standard code system are data errors for the source owner.",
    "fell_back": "Values a rule could not map as written: kept as they were, emptied, "
    "quarantined, or replaced by the spec's default.",
    "mapped": "Source codes translated into the journal's code system, by map and version.",
    "quarantine": "Records the mapping sends to quarantine, by field and rule (the values "
    "are in the journal's quarantine table, not in this report).",
}


def write_html(review: Review, path: Path, title: str) -> Path:
    """Write the review page to `path`."""
    worklist = review.worklist()
    parts = [
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<p class='note'>Computed from staged records with the mapping specs and code maps as "
        "they are now: re-run <code>enjournal mappings report</code> after editing a code map.</p>",
        "<h2>Sources</h2>",
        _table(review.origins),
        "<h2>Summary</h2>",
        "<p class='note'>Records are the latest version of each source record; coded records "
        "are counted by what became of their code.</p>",
        _table(review.entities),
        f"<h2>Unmapped source codes ({len(worklist)})</h2>",
        f"<p class='note'>{escape(SECTIONS['unmapped'])}</p>",
        _table(worklist.drop(columns=["target_system", "target_code", "target_display", "status", "set_by"])),
        "<h2>Fell back</h2>",
        f"<p class='note'>{escape(SECTIONS['fell_back'])}</p>",
        _table(review.fallbacks),
        "<h2>Mapped</h2>",
        f"<p class='note'>{escape(SECTIONS['mapped'])}</p>",
        _table(review.mapped()),
        "<h2>Quarantined at mapping</h2>",
        f"<p class='note'>{escape(SECTIONS['quarantine'])}</p>",
        _table(review.quarantine),
        "</body></html>\n",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>None.</p>"
    shown = frame.rename(columns=lambda c: str(c).replace("_", " "))
    return shown.to_html(index=False, escape=True, na_rep="", border=0)
