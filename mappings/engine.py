"""Apply a mapping spec to staging frames: whole columns at a time, errors to quarantine.

A value the spec cannot convert (an impossible date, a number that is not one, a code
outside its value map) sends its record to quarantine with the field, the value and a
readable reason; the other records map on. Beside the rows, a result counts every
source code with what became of it, and every value that fell back (kept outside its
value map, or replaced by a default): the review report is made of these counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from connectors.base import PROVENANCE, QUARANTINE_COLUMNS, quarantine_frame
from mappings.parse import parse
from mappings.spec import CodingRule, EntitySpec, FieldRule, SpecError
from mappings.targets import target_fields
from mappings.terminology import UNRESOLVED, Coding, Terminology
from mappings.terminology.codemaps import code_by_map, load_code_map
from mappings.terminology.units import conversion
from mappings.transforms import TRANSFORMS

KEPT_PROVENANCE = tuple(c for c in PROVENANCE if c != "extracted_at")
CODE_COLUMNS = [
    "code_system",
    "code",
    "display",
    "mapped_code_system",
    "mapped_code",
    "mapped_display",
    "map_source",
    "outcome",
    "count",
]
FALLBACK_COLUMNS = ["field", "value", "outcome", "count"]


@dataclass
class MapResult:
    rows: pd.DataFrame
    quarantine: pd.DataFrame
    codes: pd.DataFrame
    """One row per distinct source code (all records, quarantined ones too): CODE_COLUMNS."""
    fallbacks: pd.DataFrame
    """One row per field and source value a rule could not map as written: FALLBACK_COLUMNS."""


@dataclass
class _Errors:
    """Per-row conversion problems; the first one names the record's quarantine rule."""

    index: pd.Index
    reason: pd.Series = field(init=False)
    field_name: pd.Series = field(init=False)
    value: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        self.reason = pd.Series(pd.NA, index=self.index, dtype="string")
        self.field_name = self.reason.copy()
        self.value = self.reason.copy()

    def add(self, mask: pd.Series, name: str, values: pd.Series | None, message: str | pd.Series) -> None:
        """Flag rows; `values` None means the value is missing (shown as such in the reason)."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        if values is None:
            texts, shown = pd.Series(pd.NA, index=mask[mask].index, dtype="string"), ""
        else:
            texts = values[mask].astype("string")
            shown = texts.map(repr) + " "
        details = message[mask] if isinstance(message, pd.Series) else message
        reasons = f"{name}: " + shown + details
        first = mask & self.reason.isna()
        self.field_name[first] = name
        self.value[first] = texts[first[mask]]
        joined = self.reason[mask].fillna("")
        self.reason[mask] = joined.where(joined == "", joined + "; ") + reasons

    @property
    def rows(self) -> pd.Series:
        return self.reason.notna()


class _Fallbacks:
    """Counts of values that did not map as written, per field, value and what happened."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, name: str, values: pd.Series, outcome: str) -> None:
        if values.empty:
            return
        counts = values.astype("string").value_counts(dropna=False).rename("count").reset_index()
        counts.columns = ["value", "count"]
        self.parts.append(counts.assign(field=name, outcome=outcome))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {c: pd.Series(dtype="int64" if c == "count" else "string") for c in FALLBACK_COLUMNS}
            )
        return pd.concat(self.parts, ignore_index=True)[FALLBACK_COLUMNS]


def latest_versions(staging: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collapse versions of one record (same natural key): the latest wins, the rest merge.

    Versions are ordered by `source_timestamp` (message time, update time), then by
    extraction order; the result keeps extraction order.
    """
    order = staging["source_timestamp"].fillna("").to_numpy()
    position = np.lexsort((np.arange(len(staging)), order))
    ranked = staging.iloc[position]
    latest = ~ranked.duplicated("source_record_id", keep="last")
    kept = ranked[latest.to_numpy()].sort_index()
    merged = ranked[~latest.to_numpy()].sort_index()
    return kept, merged


def _first_group(groups: pd.DataFrame) -> pd.Series:
    """Per row the first regex group that matched. Not `bfill(axis=1)`: on string columns
    pandas 2.3 fills it down the rows, handing one row's value to the rows above."""
    first = groups.iloc[:, 0].astype("string")
    for column in groups.columns[1:]:
        first = first.fillna(groups[column].astype("string"))
    return first


def map_entity(entity: str, spec: EntitySpec, staging: pd.DataFrame, terms: Terminology) -> MapResult:
    """Map one entity's staging rows of one source through its spec."""
    missing = sorted(spec.columns - set(staging.columns))
    if missing and len(staging):
        raise SpecError(f"{entity}: staging has no column(s) {missing}; present: {sorted(staging.columns)}")
    errors = _Errors(staging.index)
    fallbacks = _Fallbacks()
    targets = target_fields(entity)
    out = pd.DataFrame(index=staging.index)
    for column in KEPT_PROVENANCE:
        out[column] = staging[column]
    for name, rule in spec.fields.items():
        out[name] = _field(name, rule, targets[name], staging, errors, fallbacks, terms)
    codes = _empty_codes()
    if spec.coding is not None:
        coding = _coding(spec.coding, staging, terms)
        out["code_system"] = coding.system
        out["code"] = coding.code
        out["display"] = staging[spec.coding.display].astype("string") if spec.coding.display else pd.NA
        out["mapped_code_system"] = coding.mapped_system
        out["mapped_code"] = coding.mapped_code
        out["mapped_display"] = coding.mapped_display
        out["map_source"] = coding.map_source
        out["code_valid"] = coding.valid
        codes = _code_counts(out.assign(outcome=coding.outcome))
        if spec.coding.unknown == "quarantine":
            _quarantine_unresolved(spec.coding, coding, staging, errors, terms)
    bad = errors.rows
    quarantine = (
        quarantine_frame(
            staging[bad],
            entity=entity,
            stage="map",
            rule="map." + errors.field_name[bad],
            reason=errors.reason[bad],
            field_name=errors.field_name[bad],
            value=errors.value[bad],
        )
        if bad.any()
        else pd.DataFrame(columns=list(QUARANTINE_COLUMNS), dtype="string")
    )
    return MapResult(out[~bad].reset_index(drop=True), quarantine, codes, fallbacks.frame())


def _field(
    name: str,
    rule: FieldRule,
    kind: str,
    frame: pd.DataFrame,
    errors: _Errors,
    fallbacks: _Fallbacks,
    terms: Terminology,
) -> pd.Series:
    """One target field, through the rule's steps in the documented order."""
    values = _source(rule, frame)
    if rule.when is not None:
        values = values.where(frame[rule.when.column].isin(rule.when.values).fillna(False).astype(bool))
    if rule.split is not None:
        parts = values.str.split(rule.split.separator, regex=False).str[rule.split.index]
        values = parts.astype("string").str.strip().replace("", pd.NA)
    if rule.extract is not None:
        values = _first_group(values.str.extract(rule.extract))
    if rule.transform is not None:
        derived = TRANSFORMS[rule.transform](values).astype("string")
        errors.add(values.notna() & derived.isna(), name, values, f"cannot be turned by {rule.transform}")
        values = derived
    if rule.null_if is not None:
        values = values.mask(values.str.contains(rule.null_if, regex=True).fillna(False).astype(bool))
    if rule.map is not None:
        values = _mapped(name, rule, values, errors, fallbacks, terms)
    if rule.check is not None:
        values = _checked(name, rule, values, errors, fallbacks, terms)
    parsed = parse(rule.parse or kind, values, rule.value_format)
    errors.add(parsed.failed, name, values, parsed.problem)
    values = parsed.values
    if rule.convert is not None:
        values = _converted(name, rule, values, frame, errors)
    if rule.default is not None:
        fallbacks.add(name, pd.Series(str(rule.default), index=values.index)[values.isna()], "default")
        default = parse(rule.parse or kind, pd.Series([str(rule.default)]), rule.value_format).values.iloc[0]
        values = values.fillna(default)
    if rule.required:
        errors.add(values.isna(), name, None, "is required but empty")
    return values


def _source(rule: FieldRule, frame: pd.DataFrame) -> pd.Series:
    if rule.const is not None:
        return pd.Series(str(rule.const), index=frame.index, dtype="string")
    parts = [frame[c].astype("string").str.strip().replace("", pd.NA) for c in rule.concat or [rule.column]]
    values = parts[0]
    for part in parts[1:]:
        both = values.notna() & part.notna()
        values = values.where(~both, values + rule.separator + part).fillna(part)
    return values


def _mapped(
    name: str, rule: FieldRule, values: pd.Series, errors: _Errors, fallbacks: _Fallbacks, terms: Terminology
) -> pd.Series:
    table = (
        terms.value_map(rule.map)
        if isinstance(rule.map, str)
        else {str(k): v for k, v in (rule.map or {}).items()}
    )
    found = values.isin(list(table)).fillna(False).astype(bool)
    mapped = values.map(table).astype(object).where(found, None)
    return _unmapped(
        name,
        rule,
        values,
        mapped,
        values.notna() & ~found,
        f"is not one of {sorted(table)}",
        errors,
        fallbacks,
    )


def _checked(
    name: str, rule: FieldRule, values: pd.Series, errors: _Errors, fallbacks: _Fallbacks, terms: Terminology
) -> pd.Series:
    assert rule.check is not None
    systems = pd.Series(rule.check, index=values.index, dtype="string")
    normalised = terms.normalise(systems, values.astype("string"))
    invalid = terms.is_valid(systems, normalised).eq(False).fillna(False).astype(bool)
    message = f"is not a valid {terms.systems[rule.check].name} code"
    return _unmapped(name, rule, values, normalised.astype(object), invalid, message, errors, fallbacks)


def _unmapped(
    name: str,
    rule: FieldRule,
    values: pd.Series,
    converted: pd.Series,
    unmapped: pd.Series,
    message: str,
    errors: _Errors,
    fallbacks: _Fallbacks,
) -> pd.Series:
    """The rule's `unmapped` policy for values outside a value map or code system: counted, then
    quarantined (error), kept as they were (keep) or emptied (null)."""
    fallbacks.add(
        name, values[unmapped], {"error": "quarantined", "keep": "kept", "null": "emptied"}[rule.unmapped]
    )
    if rule.unmapped == "error":
        errors.add(unmapped, name, values, message)
    if rule.unmapped == "keep":
        return converted.where(~unmapped, values.astype(object))
    return converted.where(~unmapped, None)


def _converted(
    name: str, rule: FieldRule, values: pd.Series, frame: pd.DataFrame, errors: _Errors
) -> pd.Series:
    """Numbers scaled from each row's unit; a unit field becomes the target unit where it converts."""
    assert rule.convert is not None
    units = frame[rule.convert.unit]
    how = conversion(units, rule.convert.to, rule.convert.factors)
    if pd.api.types.is_numeric_dtype(values):
        errors.add(
            how.impossible & values.notna(), name, units, f"is not a unit that converts to {rule.convert.to}"
        )
        return values.where(how.scale.isna(), values * how.scale + how.shift)
    return values.where(how.scale.isna(), rule.convert.to)


def _coding(coding: CodingRule, staging: pd.DataFrame, terms: Terminology) -> Coding:
    codes = staging[coding.code].astype("string").str.strip().replace("", pd.NA)
    if coding.code_map is not None:
        return code_by_map(codes, load_code_map(coding.code_map_path, terms), terms)
    if coding.system is not None:
        systems = pd.Series(coding.system, index=staging.index, dtype="string")
        raw_system = pd.Series(terms.uri(coding.system), index=staging.index, dtype="string")
    else:
        raw_system = staging[coding.system_column].astype("string").str.strip().replace("", pd.NA)
        systems = terms.resolve(raw_system)
    result = terms.code(systems, codes, coding.target)
    unknown_system = result.system.isna() & raw_system.notna()
    return replace(result, system=result.system.mask(unknown_system, _as_uri(raw_system)))


def _quarantine_unresolved(
    coding: CodingRule, result: Coding, staging: pd.DataFrame, errors: _Errors, terms: Terminology
) -> None:
    """`unknown: quarantine`: a code nobody can read sends its record to quarantine."""
    names = {system.uri: system.name for system in terms.systems.values()}
    messages = {
        "unmapped": pd.Series(f"is not in code map {coding.code_map}", index=staging.index),
        "invalid": "is not a valid " + result.system.map(names).fillna(result.system) + " code",
        "unknown_system": "is in the unknown code system " + result.system.map(repr),
    }
    for outcome in sorted(UNRESOLVED):
        errors.add(result.outcome == outcome, "code", result.code, messages[outcome])


def _code_counts(rows: pd.DataFrame) -> pd.DataFrame:
    keys = ["code_system", "code", "mapped_code_system", "mapped_code", "map_source", "outcome"]
    grouped = rows.groupby(keys, dropna=False, sort=True)
    counts = grouped.agg(display=("display", "first"), mapped_display=("mapped_display", "first"))
    counts["count"] = grouped.size()
    return counts.reset_index()[CODE_COLUMNS]


def _empty_codes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "count" else "string") for c in CODE_COLUMNS})


def _as_uri(systems: pd.Series) -> pd.Series:
    oid = systems.str.fullmatch(r"[0-9]+(\.[0-9]+)+").fillna(False).astype(bool)
    return systems.where(~oid, "urn:oid:" + systems)
