"""Mapping specs: YAML per source, loaded into typed models and checked on load.

A spec that names an unknown entity, target field, transform, value map, unit or code
system, or whose constants, defaults and value maps cannot fill their field, fails with
the file, the line and the field path. `mappings/README.md` documents the rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from mappings.parse import LOCALES, ValueFormat, parse
from mappings.targets import ENTITIES, Kind, is_coded, target_fields
from mappings.terminology import Terminology, terminology
from mappings.terminology.codemaps import load_code_map, resolve_code_map
from mappings.terminology.units import unit
from mappings.transforms import TRANSFORMS

SPECS_DIR = Path(__file__).parent / "specs"

Parse = Literal["text", "date", "datetime", "number", "boolean"]
Location = tuple[str, ...]

COMPATIBLE: dict[Kind, set[str]] = {
    "text": {"text"},
    "date": {"date", "datetime"},
    "datetime": {"date", "datetime"},
    "number": {"number"},
    "boolean": {"boolean"},
}
"""Parse kinds a target field of each kind accepts (a date fills a datetime, and back)."""


class SpecError(ValueError):
    """A broken spec; the message names the file, the line and the field."""


class When(BaseModel):
    """A condition on another column: rows where it does not hold get no value."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: str
    values: list[str] = Field(alias="in")


class Split(BaseModel):
    """Take one part of a value split on a separator (index from 0; -1 is the last part)."""

    model_config = ConfigDict(extra="forbid")

    separator: str
    index: int


class Convert(BaseModel):
    """Bring a number from each row's unit (in column `unit`) to the unit `to`."""

    model_config = ConfigDict(extra="forbid")

    unit: str = Field(description="The column holding each row's unit.")
    to: str = Field(description="The unit the journal wants (UCUM, see terminology/units.yaml).")
    factors: dict[str, float] = Field(
        default_factory=dict, description="Analyte-specific factors: source unit → factor to `to`."
    )


class FieldRule(BaseModel):
    """Where a target field's value comes from and how it is converted (README: rule order)."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    const: Any = None
    concat: list[str] | None = None
    separator: str = " "
    when: When | None = None
    split: Split | None = None
    extract: str | None = Field(
        default=None, description="Regex; the first matching group becomes the value."
    )
    transform: str | None = Field(default=None, description="A registered Python transform.")
    null_if: str | None = Field(default=None, description="Regex; matching values become null.")
    map: dict[str, Any] | str | None = Field(
        default=None, description="A value map, or the name of a shared one in the terminology."
    )
    unmapped: Literal["error", "keep", "null"] = Field(
        default="error",
        description="A value outside the value map or the checked code system: quarantine the "
        "record (error), keep the value as it was (keep) or empty it (null); counted either way.",
    )
    check: str | None = Field(default=None, description="A code system the value must be valid in.")
    parse: Parse | None = None
    format: list[str] = Field(default_factory=list, description="strptime formats, or 'hl7'/'iso'.")
    locale: str = Field(default="en", description="Month names in dates: en, nb, nn.")
    decimal: str = "."
    thousands: str | None = None
    convert: Convert | None = None
    default: Any = None
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data}
        if isinstance(data, dict) and isinstance(data.get("format"), str):
            data = {**data, "format": [data["format"]]}
        if isinstance(data, dict) and "unmapped" in data and data["unmapped"] is None:
            data = {**data, "unmapped": "null"}  # YAML reads `unmapped: null` as None
        return data

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        sources = [self.column is not None, self.const is not None, self.concat is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of 'column', 'const' or 'concat'")
        return self

    @property
    def columns(self) -> list[str]:
        """Staging columns this rule reads."""
        sources = self.concat or ([self.column] if self.column else [])
        extra = [self.when.column] if self.when else []
        return sources + extra + ([self.convert.unit] if self.convert else [])

    @property
    def value_format(self) -> ValueFormat:
        return ValueFormat(tuple(self.format), self.decimal, self.thousands, self.locale)


class CodingRule(BaseModel):
    """The code of a clinical row: its system, checked and translated by the terminology."""

    model_config = ConfigDict(extra="forbid")

    code: str
    display: str | None = None
    system: str | None = Field(default=None, description="A code-system key, e.g. icd10.")
    system_column: str | None = Field(
        default=None, description="A column naming the system per row (OID or alias)."
    )
    code_map: str | None = Field(
        default=None, description="Local codes: an editable CSV code map (codemaps/<name>.csv)."
    )
    target: str | None = Field(default=None, description="The journal's code system here.")
    unknown: Literal["keep", "quarantine"] = Field(
        default="keep",
        description="Rows whose code is invalid, unknown or not in the code map: keep them "
        "(code_valid false, the gate decides) or quarantine them here.",
    )
    _code_map_path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_system(self) -> CodingRule:
        if sum(x is not None for x in (self.system, self.system_column, self.code_map)) != 1:
            raise ValueError("give exactly one of 'system', 'system_column' or 'code_map'")
        if self.code_map is not None and self.target is not None:
            raise ValueError("a code map names its own targets: drop 'target'")
        return self

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.code, self.display, self.system_column) if c]

    @property
    def code_map_path(self) -> Path:
        if self._code_map_path is None:
            raise SpecError(f"code map {self.code_map!r} was not resolved (load the spec with load_spec)")
        return self._code_map_path


class EntitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, FieldRule]
    coding: CodingRule | None = None

    @property
    def columns(self) -> set[str]:
        """Every staging column the entity's rules read."""
        used = {c for rule in self.fields.values() for c in rule.columns}
        return used | set(self.coding.columns if self.coding else [])


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    entities: dict[str, EntitySpec]

    path: Path | None = Field(default=None, exclude=True)
    _lines: dict[Location, int] = PrivateAttr(default_factory=dict)

    def located(self, loc: tuple[Any, ...], message: str) -> str:
        """`file:line: dotted.path: message`, the line of the nearest key that exists."""
        return _located(self.path, self._lines, loc, message)


def resolve_spec(reference: str, base: Path | None = None) -> Path:
    """A spec path: relative to the config's folder when it exists there, else packaged."""
    candidates = [Path(reference)] if Path(reference).is_absolute() else []
    if base is not None:
        candidates.append(base / reference)
    candidates += [SPECS_DIR / reference, SPECS_DIR / f"{reference}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecError(f"mapping spec {reference!r} not found (looked in {[str(c) for c in candidates]})")


def load_spec(path: Path) -> MappingSpec:
    """Load and check one spec; every problem is reported as `file:line: field: message`."""
    text = path.read_text(encoding="utf-8")
    try:
        data, lines = _with_lines(text)
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from error
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(
            "\n".join(_located(path, lines, e["loc"], e["msg"]) for e in error.errors())
        ) from error
    spec.path = path
    spec._lines = lines
    problems = _semantic_problems(spec, terminology())
    if problems:
        raise SpecError("\n".join(spec.located(loc, message) for loc, message in problems))
    return spec


def _semantic_problems(spec: MappingSpec, terms: Terminology) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    for entity, entity_spec in spec.entities.items():
        where = ("entities", entity)
        if entity not in ENTITIES:
            problems.append((where, f"unknown entity {entity!r}; known: {', '.join(ENTITIES)}"))
            continue
        targets = target_fields(entity)
        for name, rule in entity_spec.fields.items():
            at = (*where, "fields", name)
            if name not in targets:
                known = ", ".join(sorted(targets))
                problems.append((at, f"{entity} has no field {name!r}; known: {known}"))
                continue
            problems += [
                ((*at, *loc), message) for loc, message in _rule_problems(name, rule, targets[name], terms)
            ]
        if entity_spec.coding is not None:
            at = (*where, "coding")
            problems += [
                ((*at, *loc), m) for loc, m in _coding_problems(entity, entity_spec.coding, spec, terms)
            ]
    return problems


def _rule_problems(name: str, rule: FieldRule, kind: Kind, terms: Terminology) -> list[tuple[Location, str]]:
    """What makes a field rule unusable for a field of `kind`; locations relative to the rule."""
    parse_kind = rule.parse or kind
    if parse_kind not in COMPATIBLE[kind]:
        return [(("parse",), f"parse {parse_kind!r} does not fit {name!r}, a {kind} field")]
    problems: list[tuple[Location, str]] = []
    misplaced = {
        "format": bool(rule.format) and parse_kind not in ("date", "datetime"),
        "locale": rule.locale != "en" and parse_kind not in ("date", "datetime"),
        "decimal": rule.decimal != "." and parse_kind != "number",
        "thousands": rule.thousands is not None and parse_kind != "number",
        "convert": rule.convert is not None and parse_kind not in ("number", "text"),
        "check": rule.check is not None and parse_kind != "text",
    }
    problems += [
        ((key,), f"{key!r} does not apply to {name!r}, a {parse_kind} value")
        for key, bad in misplaced.items()
        if bad
    ]
    if rule.locale not in LOCALES:
        problems.append((("locale",), f"unknown locale {rule.locale!r}; known: {', '.join(LOCALES)}"))
    if rule.thousands is not None and rule.thousands == rule.decimal:
        problems.append((("thousands",), "the thousands separator must differ from the decimal mark"))
    for key in ("extract", "null_if"):
        pattern = getattr(rule, key)
        if pattern is None:
            continue
        try:
            groups = re.compile(pattern).groups
        except re.error as error:
            problems.append(((key,), f"not a valid regex: {error}"))
            continue
        if key == "extract" and groups == 0:
            problems.append(((key,), "the regex needs a group: (...) marks the value to keep"))
    if rule.transform is not None and rule.transform not in TRANSFORMS:
        problems.append(
            (("transform",), f"unknown transform {rule.transform!r}; known: {', '.join(sorted(TRANSFORMS))}")
        )
    if rule.check is not None and rule.check not in terms.systems:
        problems.append(
            (("check",), f"unknown code system {rule.check!r}; known: {', '.join(terms.systems)}")
        )
    if rule.convert is not None and unit(rule.convert.to) is None:
        problems.append((("convert", "to"), f"unknown unit {rule.convert.to!r} (see terminology/units.yaml)"))
    if isinstance(rule.map, str) and rule.map not in terms.value_maps:
        known = ", ".join(terms.value_maps)
        problems.append((("map",), f"unknown value map {rule.map!r}; known: {known}"))
    elif rule.map is not None:
        table = terms.value_map(rule.map) if isinstance(rule.map, str) else rule.map
        problems += _fit(name, parse_kind, rule, {("map", str(k)): v for k, v in table.items()})
    problems += _fit(name, parse_kind, rule, {(key,): getattr(rule, key) for key in ("const", "default")})
    return problems


def _fit(name: str, kind: str, rule: FieldRule, values: dict[Location, Any]) -> list[tuple[Location, str]]:
    """Spec-given values that would not parse into the field: a spec error, not a run's quarantine."""
    given = {loc: value for loc, value in values.items() if value is not None}
    if not given:
        return []
    column = pd.Series([str(v) for v in given.values()], dtype="string")
    failed = parse(kind, column, rule.value_format).failed
    return [
        (loc, f"{value!r} does not fit {name!r}, a {kind} field")
        for (loc, value), bad in zip(given.items(), failed, strict=True)
        if bad
    ]


def _coding_problems(
    entity: str, coding: CodingRule, spec: MappingSpec, terms: Terminology
) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    if not is_coded(entity):
        problems.append(((), f"{entity} rows carry no code"))
    for key in ("system", "target"):
        value = getattr(coding, key)
        if value is not None and value not in terms.systems:
            problems.append(((key,), f"unknown code system {value!r}; known: {', '.join(terms.systems)}"))
    if coding.code_map is not None:
        try:
            path = resolve_code_map(coding.code_map, spec.path.parent if spec.path else None)
            load_code_map(path, terms)
            coding._code_map_path = path
        except (OSError, ValueError) as error:
            problems.append((("code_map",), f"code map {coding.code_map!r}: {error}"))
    return problems


def _with_lines(text: str) -> tuple[Any, dict[Location, int]]:
    """The YAML data plus the line of every mapping key, by its path."""
    lines: dict[Location, int] = {}

    def walk(node: yaml.Node, path: Location) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, child in node.value:
                lines[(*path, str(key.value))] = key.start_mark.line + 1
                walk(child, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                walk(child, (*path, str(index)))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return yaml.safe_load(text), lines


def _located(path: Path | None, lines: dict[Location, int], loc: tuple[Any, ...], message: str) -> str:
    keys = tuple(str(part) for part in loc)
    while keys and keys not in lines:
        keys = keys[:-1]
    line = lines.get(keys, 1)
    return f"{path}:{line}: {'.'.join(str(part) for part in loc)}: {message}"
