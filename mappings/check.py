"""A loaded spec against the staging columns a source really produces.

Loading a spec already checks it against the journal schema; this finds what only the
staged data can show: a rule reading a column the connector does not write (a renamed
or misspelt column), entities the spec maps but the source never stages, staged
entities the spec leaves out (they will count as out of scope), and staged columns no
rule reads (often the other half of a rename).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from connectors.base import PROVENANCE
from mappings.spec import CodingRule, FieldRule, Location, MappingSpec

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    source_system: str
    entity: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_staging(source_system: str, spec: MappingSpec, staged: dict[str, list[str]]) -> list[Finding]:
    """Findings for one source; `staged` maps each staged entity to its columns."""
    findings: list[Finding] = []

    def add(entity: str, severity: Severity, message: str) -> None:
        findings.append(Finding(source_system, entity, severity, message))

    for entity, entity_spec in spec.entities.items():
        columns = staged.get(entity)
        if columns is None:
            add(entity, "warning", f"the spec maps {entity} but {source_system} staged no {entity} records")
            continue
        present = set(columns)
        for loc, column in _reads(entity_spec.fields, entity_spec.coding):
            if column not in present:
                where = ("entities", entity, *loc)
                add(
                    entity,
                    "error",
                    spec.located(
                        where, f"column {column!r} is not in the staging of {source_system}/{entity}"
                    ),
                )
        unused = sorted(present - entity_spec.columns - set(PROVENANCE))
        if unused:
            add(entity, "info", f"staged columns no rule reads: {', '.join(unused)}")
    for entity in sorted(set(staged) - set(spec.entities)):
        add(
            entity,
            "warning",
            f"{source_system} stages {entity} records the spec does not map: they count as out of scope",
        )
    return findings


def _reads(fields: dict[str, FieldRule], coding: CodingRule | None) -> list[tuple[Location, str]]:
    """Every column a rule reads, with the spec location that names it."""
    reads: list[tuple[Location, str]] = []
    for name, rule in fields.items():
        at = ("fields", name)
        if rule.column is not None:
            reads.append(((*at, "column"), rule.column))
        reads += [((*at, "concat", str(i)), column) for i, column in enumerate(rule.concat or [])]
        if rule.when is not None:
            reads.append(((*at, "when", "column"), rule.when.column))
        if rule.convert is not None:
            reads.append(((*at, "convert", "unit"), rule.convert.unit))
    if coding is not None:
        named = {"code": coding.code, "display": coding.display, "system_column": coding.system_column}
        reads += [(("coding", key), column) for key, column in named.items() if column is not None]
    return reads
