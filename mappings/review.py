"""The mapping review: what was mapped, what fell back, and every unmapped source code.

Computed from staged records with the specs and code maps as they are now, so a data
steward who completes a code map sees the effect at once, without a new migration run.
Written as CSV for spreadsheets and as one offline HTML page (`review_html`). Values
shown are codes and coded values; anything shaped like a national ID is masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from identity.national_id import mask
from mappings.engine import CODE_COLUMNS, FALLBACK_COLUMNS, latest_versions, map_entity
from mappings.spec import MappingSpec
from mappings.terminology import FELL_BACK, OUTCOMES, UNRESOLVED, Terminology
from mappings.terminology.codemaps import CODE_MAP_COLUMNS

GROUPS: dict[str, frozenset[str]] = {
    "mapped": frozenset({"mapped"}),
    "kept": frozenset({"kept", "no_target"}),
    "fell_back": FELL_BACK,
    "unmapped": UNRESOLVED,
    "missing": frozenset({"missing"}),
}
"""Outcomes as the report counts them, per source and entity."""

ENTITY_COLUMNS = ["source_system", "entity", "spec", "records", "merged", "quarantined", *GROUPS]
QUARANTINE_COLUMNS = ["source_system", "entity", "field", "rule", "count"]
WORKLIST_ORDER = ["unmapped", "invalid", "unknown_system", "waiting", "fell_back"]
NATIONAL_ID = r"(?<!\d)\d{11}(?!\d)"


@dataclass(frozen=True)
class Review:
    origins: pd.DataFrame
    """source_system, spec, staging: where each source's staged records came from."""
    entities: pd.DataFrame
    """ENTITY_COLUMNS: record counts per source and entity, coded rows by outcome group."""
    codes: pd.DataFrame
    """source_system, entity, code_map + engine.CODE_COLUMNS: every distinct source code."""
    fallbacks: pd.DataFrame
    """source_system, entity + engine.FALLBACK_COLUMNS: values kept, emptied or defaulted."""
    quarantine: pd.DataFrame
    """QUARANTINE_COLUMNS: records the mapping would quarantine, per field and rule."""

    def worklist(self) -> pd.DataFrame:
        """Source codes a steward must act on, most frequent first, in the code-map columns to fill."""
        todo = self.codes[self.codes["outcome"].isin(WORKLIST_ORDER)]
        keys = ["code_map", "code_system", "code", "outcome"]
        grouped = todo.groupby(keys, dropna=False, sort=False)
        out = grouped.agg(
            source_display=("display", "first"),
            count=("count", "sum"),
            found_in=("where", lambda w: ", ".join(sorted(set(w)))),
        ).reset_index()
        out["reason"] = out["outcome"].map(OUTCOMES)
        out = out.rename(columns={"code": "source_code"})
        for column in CODE_MAP_COLUMNS[2:]:
            out[column] = pd.NA
        rank = out["outcome"].map({o: i for i, o in enumerate(WORKLIST_ORDER)})
        out = out.assign(_rank=rank).sort_values(
            ["_rank", "count", "source_code"], ascending=[True, False, True]
        )
        columns = ["code_map", "code_system", "source_code", "source_display", "count", "outcome", "reason"]
        return out[[*columns, "found_in", *CODE_MAP_COLUMNS[2:]]].reset_index(drop=True)

    def mapped(self) -> pd.DataFrame:
        """How codes were mapped: per source, entity, source system, target system and map."""
        done = self.codes[self.codes["outcome"] == "mapped"]
        keys = ["source_system", "entity", "code_system", "mapped_code_system", "map_source"]
        grouped = done.groupby(keys, dropna=False, sort=True)
        return grouped.agg(codes=("code", "nunique"), records=("count", "sum")).reset_index()

    def write_csv(self, folder: Path) -> list[Path]:
        """The review as CSV files beside the HTML page."""
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "mapping-summary.csv": self.entities,
            "mapping-codes.csv": self.codes.drop(columns="where"),
            "mapping-fallbacks.csv": self.fallbacks,
            "mapping-quarantine.csv": self.quarantine,
            "unmapped-codes.csv": self.worklist(),
        }
        for name, frame in tables.items():
            frame.to_csv(folder / name, index=False, lineterminator="\n")
        return [folder / name for name in tables]


def review_source(
    source_system: str,
    spec: MappingSpec,
    staged: dict[str, pd.DataFrame],
    origin: str,
    terms: Terminology,
) -> Review:
    """Map every staged entity of one source through its spec, keeping only the counts."""
    entities, codes, fallbacks, quarantined = [], [], [], []
    for entity, entity_spec in spec.entities.items():
        staging = staged.get(entity)
        if staging is None or staging.empty:
            continue
        kept, merged = latest_versions(staging)
        result = map_entity(entity, entity_spec, kept, terms)
        outcomes = result.codes.groupby("outcome")["count"].sum()
        entities.append(
            {
                "source_system": source_system,
                "entity": entity,
                "spec": spec.path.name if spec.path else "",
                "records": len(kept),
                "merged": len(merged),
                "quarantined": len(result.quarantine),
                **{group: int(outcomes.reindex(list(members)).sum()) for group, members in GROUPS.items()},
            }
        )
        where = {"source_system": source_system, "entity": entity}
        code_map = entity_spec.coding.code_map if entity_spec.coding else None
        codes.append(result.codes.assign(**where, code_map=code_map, where=f"{source_system}/{entity}"))
        fallbacks.append(result.fallbacks.assign(**where))
        quarantined.append(result.quarantine.assign(entity=entity))
    return Review(
        origins=pd.DataFrame([{"source_system": source_system, "spec": str(spec.path), "staging": origin}]),
        entities=pd.DataFrame(entities, columns=ENTITY_COLUMNS),
        codes=_concat(codes, ["source_system", "entity", "code_map", *CODE_COLUMNS, "where"]),
        fallbacks=_masked(_concat(fallbacks, ["source_system", "entity", *FALLBACK_COLUMNS])),
        quarantine=_quarantine_counts(_concat(quarantined, ["source_system", "entity", "field", "rule"])),
    )


def combine(reviews: list[Review]) -> Review:
    """One review of several sources."""
    return Review(
        **{
            name: pd.concat([getattr(r, name) for r in reviews], ignore_index=True)
            for name in ("origins", "entities", "codes", "fallbacks", "quarantine")
        }
    )


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _quarantine_counts(rows: pd.DataFrame) -> pd.DataFrame:
    counts = rows.groupby(["source_system", "entity", "field", "rule"], dropna=False).size()
    return counts.rename("count").reset_index()[QUARANTINE_COLUMNS]


def _masked(fallbacks: pd.DataFrame) -> pd.DataFrame:
    """Values as the report may show them: no national ID in full."""
    values = fallbacks["value"].astype("string")
    return fallbacks.assign(value=values.str.replace(NATIONAL_ID, lambda m: mask(m.group()), regex=True))
