"""Code systems, code validity and translations, loaded from the data files beside this module.

All operations work on whole pandas Series: a mapping run checks and translates a
column of codes at once, not a code at a time. Every coded row leaves with an
`outcome` (see OUTCOMES) that the engine's quarantine and the review report share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

HERE = Path(__file__).parent
ICD10_FILE = HERE / "icd10.json"
ICPC2_FILE = HERE / "ICPC2_til_ICD-10_CSV_1_1_2019.txt"
ICPC2_HEADER_LINES = 8

OUTCOMES: dict[str, str] = {
    "mapped": "mapped to the target code system",
    "kept": "kept as the source code: the spec names no target code system",
    "no_target": "kept as the source code: the code map entry says there is no standard code",
    "fell_back": "kept as the source code: no translation into the target code system",
    "waiting": "kept as the source code: its code map entry is not approved yet",
    "unmapped": "not in the code map",
    "invalid": "not a valid code in its code system",
    "unknown_system": "in a code system the terminology does not know",
    "missing": "no code",
}
"""What happened to a source code, and the readable reason the report and quarantine give."""

UNRESOLVED = frozenset({"unmapped", "invalid", "unknown_system"})
"""Outcomes a steward must resolve; a spec's `unknown: quarantine` quarantines these rows."""

FELL_BACK = frozenset({"fell_back", "waiting"})
"""Outcomes where a target was wanted but the row keeps only its source code."""


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: str | None = None
    pattern: str | None = None


class CodeSystem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = ""
    name: str
    oid: str | None = None
    uri: str | None = None
    version: str | None = Field(default=None, description="Edition of the packaged code list.")
    aliases: list[str] = Field(default_factory=list)
    normalise: list[str] = Field(default_factory=list)
    check: Check

    @model_validator(mode="after")
    def _uri(self) -> CodeSystem:
        if self.uri is None:
            if self.oid is None:
                raise ValueError(f"code system {self.name!r} needs an oid or a uri")
            self.uri = f"urn:oid:{self.oid}"
        return self


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source_system: str = Field(alias="from")
    target_system: str = Field(alias="to")
    table: str
    version: str
    source: str

    @property
    def map_source(self) -> str:
        return f"{self.table}@{self.version}"


class ValueMap(BaseModel):
    """A shared value map (e.g. a sex code list → FHIR administrative gender) specs name."""

    model_config = ConfigDict(extra="forbid")

    description: str
    to: str = Field(description="The code system the values map into.")
    values: dict[str, str]


class TerminologyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code_systems: dict[str, CodeSystem]
    translations: list[Translation] = Field(default_factory=list)
    value_maps: dict[str, ValueMap] = Field(default_factory=dict)


@dataclass(frozen=True)
class Coding:
    """A column of codes in one system, checked and (where a map exists) translated."""

    system: pd.Series
    code: pd.Series
    valid: pd.Series
    mapped_system: pd.Series
    mapped_code: pd.Series
    mapped_display: pd.Series
    map_source: pd.Series
    outcome: pd.Series


class Terminology:
    """The code systems of the journal with their code lists and translation tables."""

    def __init__(self, spec: TerminologyFile) -> None:
        self.systems = {
            key: system.model_copy(update={"key": key}) for key, system in spec.code_systems.items()
        }
        self.translations = {(t.source_system, t.target_system): t for t in spec.translations}
        self.value_maps = spec.value_maps
        self._by_alias = {
            alias.upper(): key
            for key, system in self.systems.items()
            for alias in (key, system.uri or "", *system.aliases)
        }
        self._uris = {key: system.uri for key, system in self.systems.items()}

    def resolve(self, names: pd.Series) -> pd.Series:
        """Code-system keys for a column of system names, OIDs or aliases (NA if unknown)."""
        cleaned = names.astype("string").str.strip().str.upper().str.removeprefix("URN:OID:")
        return cleaned.map(self._by_alias).astype("string")

    def uris(self, keys: pd.Series) -> pd.Series:
        """FHIR system URIs for a column of code-system keys."""
        return keys.map(self._uris).astype("string")

    def normalise(self, systems: pd.Series, codes: pd.Series) -> pd.Series:
        """Codes in the form their system stores them (ICD-10 without the dot, upper case)."""
        out = codes.astype("string").str.strip()
        for key, system in self.systems.items():
            rows = (systems == key).fillna(False)
            if not rows.any():
                continue
            values = out[rows]
            for step in system.normalise:
                values = _NORMALISERS[step](values)
            out[rows] = values
        return out

    def is_valid(self, systems: pd.Series, codes: pd.Series) -> pd.Series:
        """True/False per code, NA where the system is unknown or the code is missing."""
        valid = pd.Series(pd.NA, index=codes.index, dtype="boolean")
        for key, system in self.systems.items():
            rows = (systems == key).fillna(False) & codes.notna()
            if not rows.any():
                continue
            values = codes[rows]
            if system.check.set is not None:
                valid[rows] = values.isin(code_set(system.check.set)).to_numpy()
            else:
                valid[rows] = values.str.fullmatch(system.check.pattern or ".*").fillna(False).to_numpy()
        return valid

    def code(self, systems: pd.Series, codes: pd.Series, target: str | None) -> Coding:
        """Normalise, check and translate codes toward `target` (the journal's code system)."""
        normalised = self.normalise(systems, codes)
        valid = self.is_valid(systems, normalised)
        empty = pd.Series(pd.NA, index=codes.index, dtype="string")
        mapped_system, mapped_code, mapped_display, map_source = (empty.copy() for _ in range(4))
        good = valid.fillna(False).astype(bool)
        if target is not None:
            same = (systems == target).fillna(False) & good
            mapped_system[same] = self.systems[target].uri
            mapped_code[same] = normalised[same]
            mapped_display[same] = normalised[same].map(displays(target)).astype("string")
            map_source[same] = "identity"
            for (source, to), translation in self.translations.items():
                if to != target:
                    continue
                rows = (systems == source).fillna(False) & good
                table = translation_table(translation.table)
                hits = normalised[rows].map(table["code"]).astype("string")
                index = hits[hits.notna()].index
                mapped_system[index] = self.systems[target].uri
                mapped_code[index] = hits[index]
                mapped_display[index] = normalised[index].map(table["display"]).astype("string")
                map_source[index] = translation.map_source
        outcome = pd.Series("mapped", index=codes.index, dtype="string")
        outcome[good & mapped_code.isna()] = "kept" if target is None else "fell_back"
        outcome[~good] = "invalid"
        outcome[systems.isna()] = "unknown_system"
        outcome[normalised.isna()] = "missing"
        return Coding(
            self.uris(systems),
            normalised,
            valid,
            mapped_system,
            mapped_code,
            mapped_display,
            map_source,
            outcome,
        )

    def value_map(self, name: str) -> dict[str, str]:
        return self.value_maps[name].values

    def uri(self, key: str) -> str:
        return self.systems[key].uri or ""


def _no_dot(values: pd.Series) -> pd.Series:
    return values.str.replace(".", "", regex=False)


def _no_space(values: pd.Series) -> pd.Series:
    return values.str.replace(r"\s+", "", regex=True)


_NORMALISERS = {"upper": lambda v: v.str.upper(), "no_dot": _no_dot, "no_space": _no_space}


@cache
def terminology() -> Terminology:
    """The packaged terminology (loaded once per process), its value maps checked."""
    data = yaml.safe_load((HERE / "code_systems.yaml").read_text(encoding="utf-8"))
    terms = Terminology(TerminologyFile.model_validate(data))
    for name, value_map in terms.value_maps.items():
        targets = pd.Series(list(value_map.values.values()), dtype="string")
        system = pd.Series(value_map.to, index=targets.index, dtype="string")
        wrong = targets[~terms.is_valid(system, targets).fillna(False).astype(bool)]
        if not wrong.empty:
            raise ValueError(f"value map {name!r}: {sorted(wrong)} are not codes of {value_map.to!r}")
    return terms


@cache
def icd10() -> pd.DataFrame:
    """ICD-10 codes (no dot) with their Norwegian text."""
    entries = json.loads(ICD10_FILE.read_text(encoding="utf-8"))
    return pd.DataFrame(entries, columns=["code", "text"]).astype("string")


@cache
def icpc2_icd10() -> pd.DataFrame:
    """The Directorate's ICPC-2 → ICD-10 conversion file, one row per ICPC-2 rubric."""
    frame = pd.read_csv(
        ICPC2_FILE,
        sep=";",
        skiprows=ICPC2_HEADER_LINES,
        header=None,
        names=["icpc2", "short_text", "text", "icd10", "icd10_text"],
        dtype="string",
        encoding="utf-8",
        keep_default_na=False,
    )
    return frame.apply(lambda column: column.str.strip())


@cache
def code_set(name: str) -> frozenset[str]:
    sets = {
        "icd10": lambda: icd10()["code"],
        "icpc2": lambda: icpc2_icd10()["icpc2"],
    }
    return frozenset(sets[name]().dropna())


@cache
def displays(system: str) -> dict[str, str]:
    texts = {
        "icd10": lambda: icd10().set_index("code")["text"],
        "icpc2": lambda: icpc2_icd10().set_index("icpc2")["text"],
    }
    return texts[system]().to_dict() if system in texts else {}


@cache
def translation_table(name: str) -> dict[str, dict[str, str]]:
    """code → target code, and code → target display, of one translation table."""
    tables = {"icpc2_icd10": icpc2_icd10}
    frame = tables[name]()
    return {
        "code": dict(zip(frame["icpc2"], frame["icd10"].str.replace(".", "", regex=False), strict=True)),
        "display": dict(zip(frame["icpc2"], frame["icd10_text"], strict=True)),
    }
