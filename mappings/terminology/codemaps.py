"""Editable code maps: local legacy codes → standard codes, one CSV per map, kept by stewards.

Every entry carries a status in the spirit of OHDSI Usagi and who set it:
`approved` (a steward checked it) and `auto` (set by a trusted rule or tool) are used
to map; `unchecked` (a proposal) and `flagged` (doubted) are not: such rows keep their
source code and the review report lists them. An approved entry without a target says
"no standard code exists": the local code stands alone. A map's version is the start
of the sha256 of its file, so every mapped row names the exact map it came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from mappings.terminology import HERE, Coding, Terminology

CODEMAPS_DIR = HERE / "codemaps"
CODE_MAP_COLUMNS = [
    "source_code",
    "source_display",
    "target_system",
    "target_code",
    "target_display",
    "status",
    "set_by",
]
STATUSES = ("approved", "auto", "unchecked", "flagged")
USED_STATUSES = frozenset({"approved", "auto"})


@dataclass(frozen=True)
class CodeMap:
    name: str
    path: Path
    version: str
    entries: pd.DataFrame
    """Indexed by source_code."""

    @property
    def system(self) -> str:
        """The system URI of the local codes this map translates."""
        return f"urn:enjournal:code-map:{self.name}"


def resolve_code_map(name: str, base: Path | None = None) -> Path:
    """`<base>/codemaps/<name>.csv` (beside the spec) when it exists, else the packaged map."""
    candidates = ([base / "codemaps" / f"{name}.csv"] if base is not None else []) + [
        CODEMAPS_DIR / f"{name}.csv"
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no code map {name!r} (looked for {', '.join(str(c) for c in candidates)})")


def load_code_map(path: Path, terms: Terminology) -> CodeMap:
    """A checked code map; re-read when the file changes (stewards edit them between runs)."""
    return _load(path.resolve(), path.stat().st_mtime_ns, terms)


@cache
def _load(path: Path, _mtime: int, terms: Terminology) -> CodeMap:
    data = path.read_bytes()
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8")
    frame = frame.apply(lambda column: column.str.strip()).replace("", pd.NA)
    problems = _problems(frame, terms)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    version = hashlib.sha256(data).hexdigest()[:8]
    return CodeMap(path.stem, path, version, frame.set_index("source_code"))


def _problems(frame: pd.DataFrame, terms: Terminology) -> list[str]:
    missing = [c for c in CODE_MAP_COLUMNS if c not in frame.columns]
    if missing:
        return [f"lacks columns {missing}"]
    problems = []

    def rows(mask: pd.Series) -> str:
        return ", ".join(str(i + 2) for i in mask[mask].index[:5])  # file line: header is line 1

    bad_status = ~frame["status"].isin(STATUSES).fillna(False).astype(bool)
    if bad_status.any():
        problems.append(f"line(s) {rows(bad_status)}: status must be one of {list(STATUSES)}")
    if frame["set_by"].isna().any():
        problems.append(f"line(s) {rows(frame['set_by'].isna())}: set_by (who set the status) is empty")
    if frame["source_code"].isna().any():
        problems.append(f"line(s) {rows(frame['source_code'].isna())}: source_code is empty")
    repeated = frame["source_code"].duplicated(keep=False) & frame["source_code"].notna()
    if repeated.any():
        problems.append(f"line(s) {rows(repeated)}: source codes must be unique")
    keys = terms.resolve(frame["target_system"])
    unknown = frame["target_system"].notna() & keys.isna()
    if unknown.any():
        problems.append(
            f"line(s) {rows(unknown)}: unknown target system(s) {sorted(frame['target_system'][unknown])}"
        )
    half = frame["target_system"].isna() != frame["target_code"].isna()
    if half.any():
        problems.append(f"line(s) {rows(half)}: give both target_system and target_code, or neither")
    valid = terms.is_valid(keys, terms.normalise(keys, frame["target_code"]))
    wrong = valid.eq(False).fillna(False).astype(bool)
    if wrong.any():
        problems.append(f"line(s) {rows(wrong)}: target codes not valid in their system")
    return problems


def code_by_map(codes: pd.Series, code_map: CodeMap, terms: Terminology) -> Coding:
    """Local legacy codes checked against the map and translated where an entry says so."""
    entries = code_map.entries
    normalised = codes.astype("string").str.strip().replace("", pd.NA)
    known = normalised.isin(entries.index).fillna(False).astype(bool)
    status = normalised.map(entries["status"]).astype("string")
    used = status.isin(USED_STATUSES).fillna(False).astype(bool)
    target_keys = terms.resolve(normalised.map(entries["target_system"]).astype("string"))
    target_code = terms.normalise(target_keys, normalised.map(entries["target_code"]).astype("string"))
    mapped = used & target_code.notna()
    outcome = pd.Series("unmapped", index=codes.index, dtype="string")
    outcome[known] = "waiting"
    outcome[used] = "no_target"
    outcome[mapped] = "mapped"
    outcome[normalised.isna()] = "missing"
    source = f"codemap:{code_map.name}@{code_map.version}:" + status
    return Coding(
        system=pd.Series(code_map.system, index=codes.index, dtype="string").mask(normalised.isna()),
        code=normalised,
        valid=known.astype("boolean").mask(normalised.isna()),
        mapped_system=terms.uris(target_keys).where(mapped),
        mapped_code=target_code.where(mapped),
        mapped_display=normalised.map(entries["target_display"]).astype("string").where(mapped),
        map_source=source.where(known),
        outcome=outcome,
    )
