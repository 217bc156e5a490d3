"""The run summary as a terminal table: the books per source and entity, and where to look next."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

COLUMNS = ("extracted", "loaded", "quarantined", "merged", "out_of_scope")


def render(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    title = f"Run {summary['run_id']} of {summary['migration']}" + (
        f", wave {summary['wave']}" if summary.get("wave") else ""
    )
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("source", no_wrap=True)
    table.add_column("entity", no_wrap=True)
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_column("books")
    totals = dict.fromkeys(COLUMNS, 0)
    for account in summary["accounts"]:
        for column in COLUMNS:
            totals[column] += account[column]
        table.add_row(
            account["source_system"],
            account["entity"],
            *(str(account[c]) for c in COLUMNS),
            "[green]ok[/]" if account["balanced"] else "[red]" + "; ".join(account["problems"]) + "[/]",
        )
    table.add_section()
    table.add_row("total", "", *(str(totals[c]) for c in COLUMNS), "")
    console.print(table)
    verdict = "[green]the books balance[/]" if summary["balanced"] else "[red]the books do NOT balance[/]"
    console.print(f"{verdict}; {summary['review_pairs']} person pairs wait for review")
    gate = summary.get("gate")
    if gate:
        console.print(
            f"data-quality gate: {'passes' if gate['passed'] else '[red]FAILS[/]'} "
            f"({gate['critical_failures']} critical checks beyond threshold, {gate['warnings']} warnings)"
        )
    delta = summary.get("delta") or []
    if delta:
        counts = {k: sum(d[k] for d in delta) for k in ("new", "changed", "unchanged", "skipped")}
        console.print(
            f"since the journal last saw these sources: {counts['new']} new, {counts['changed']} changed, "
            f"{counts['unchanged']} unchanged records ({counts['skipped']} not mapped or loaded again)"
        )
    console.print(f"journal: {summary['journal']}")
    console.print(f"reports: {summary['reports']}")
