"""The stages of a migration run as plain functions over the run workspace.

Prefect flows call these (see `pipelines.flows`); tests call them directly. Each stage
reads what the previous one wrote under `runs/<run_id>/` and writes its own output
there, so any stage can be inspected or re-run on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from connectors.attachments import AttachmentStore
from connectors.base import QUARANTINE_COLUMNS, QuarantineBatch, SourceBase, StagingBatch
from connectors.registry import connector_for
from identity import decisions
from identity.golden import golden_records, identifiers
from identity.match import SIDES, Thresholds, match, prepare
from identity.person_ids import assign_person_ids
from identity.report import review_pairs, write_reports
from journal import loader
from journal.database import open_journal
from journal.reconcile import Account, account, verify_journal
from journal.runs import finish_run, record_accounts, record_source_state, start_run
from journal.schema import ENTITIES
from mappings.engine import MapResult, latest_versions, map_entity
from mappings.spec import MappingSpec, load_spec, resolve_spec
from mappings.targets import target_fields
from mappings.terminology import HERE as TERMINOLOGY_DIR
from mappings.terminology import terminology
from pipelines.config import MigrationConfig, load_config
from pipelines.incremental import (
    ExtractCache,
    delta,
    journal_hashes,
    mapping_fingerprint,
    recorded_fingerprint,
    source_fingerprint,
)
from pipelines.workspace import Workspace
from validators.gate import PERSON_CONTEXT, SUITES_DIR, Check, GateOutcome, load_suite, validate
from validators.report import Verdict

RECORD_KEYS = ["source_system", "entity", "source_record_id", "record_hash"]
LINK_COLUMNS = [
    "source_system",
    "source_person_id",
    "journal_person_id",
    "link_kind",
    "match_weight",
    "record_hash",
]
PERSON_RECORD_PROVENANCE = (
    "source_kind",
    "source_locator",
    "source_record_id",
    "source_timestamp",
    "record_hash",
)
LIFETIME = ["journal_person_id", *PERSON_CONTEXT]
"""What the gate needs of each golden person record for its lifetime checks."""
ATTACHMENTS = "attachments"
"""Folder under the workdir of the content-addressed attachment store (shared by sources
and runs, so a cached extract's attachments are still there)."""
LOG = logging.getLogger("enjournal.stages")


class BooksDoNotBalance(RuntimeError):
    """A run whose reconciliation found records unaccounted for: it fails."""


@dataclass(frozen=True)
class RunContext:
    config: MigrationConfig
    workspace: Workspace
    started_at: dt.datetime
    wave: str | None = None

    @property
    def run_id(self) -> str:
        return self.workspace.run_id

    @cached_property
    def source_names(self) -> list[str]:
        """The sources this run migrates: a wave's, or all."""
        if self.wave is None:
            return [source.name for source in self.config.sources]
        wave = next((w for w in self.config.waves if w.name == self.wave), None)
        if wave is None:
            known = ", ".join(w.name for w in self.config.waves) or "none"
            raise ValueError(f"no wave {self.wave!r} in {self.config.name} (waves: {known})")
        return wave.sources

    @cached_property
    def engine(self) -> Engine:
        return open_journal(self.config.journal)

    @property
    def attachments(self) -> AttachmentStore:
        return AttachmentStore(self.config.workdir / ATTACHMENTS)

    def __getstate__(self) -> dict[str, object]:
        """Without the cached engine: a context travels to Dask workers, which open their own."""
        return {k: v for k, v in self.__dict__.items() if k != "engine"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    def spec(self, source_name: str) -> MappingSpec:
        source = self.config.source(source_name)
        base = self.config.config_path.parent if self.config.config_path else None
        return load_spec(resolve_spec(source.mapping, base))


def preflight(config_path: Path, wave: str | None) -> MigrationConfig:
    """Load the config, the wave, every mapping spec and gate suite: fail before any work starts."""
    config = load_config(config_path)
    ctx = RunContext(config, Workspace(config.workdir, "preflight"), dt.datetime.now(), wave)
    for name in ctx.source_names:
        ctx.spec(name)
    for entity in ENTITIES:
        load_suite(entity, _suites(ctx))
    return config


def begin(ctx: RunContext) -> None:
    """Record the run in the journal before anything is written."""
    start_run(ctx.engine, ctx.run_id, ctx.config, ctx.wave, ctx.started_at)


def extract(ctx: RunContext, source_name: str) -> dict[str, int]:
    """Read one source into staging Parquet, one folder per entity, plus extract quarantine.

    A source whose input has not changed since the last extract is not read again: the
    cached staging output is linked into this run (see `pipelines.incremental`).
    """
    source = ctx.config.source(source_name)
    space = ctx.workspace
    folders = {
        "staging": space.path("staging", source_name),
        "quarantine": space.path("quarantine", source_name, "extract"),
    }
    cache = ExtractCache(ctx.config.workdir)
    fingerprint = source_fingerprint(source)
    if fingerprint is not None and (counts := cache.restore(source_name, fingerprint, folders)) is not None:
        LOG.info("%s: unchanged since the last extract, reusing it", source_name)
        return {**counts, "cached": 1}
    counts = stage_source(source, space, ctx.started_at.isoformat(timespec="seconds"), ctx.attachments)
    if fingerprint is not None and fingerprint == source_fingerprint(source):
        cache.store(source_name, fingerprint, folders, counts)  # not when it changed while being read
    return counts


def stage_source(
    source: SourceBase, space: Workspace, extracted_at: str, attachments: AttachmentStore
) -> dict[str, int]:
    """Stream a source's batches to `staging/<source>/<entity>/` and `quarantine/<source>/extract/`.

    Starts from a clean slate, so a retried extract never stages a record twice.
    """
    for folder in (space.path("staging", source.name), space.path("quarantine", source.name, "extract")):
        shutil.rmtree(folder, ignore_errors=True)
    connector = connector_for(source, extracted_at, attachments)
    counts: Counter[str] = Counter()
    for part, batch in enumerate(connector.batches(), 1):
        if isinstance(batch, StagingBatch):
            space.write_frame(batch.frame, "staging", source.name, batch.entity, f"part-{part:05d}.parquet")
            counts[batch.entity] += len(batch.frame)
        elif isinstance(batch, QuarantineBatch):
            space.write_frame(batch.frame, "quarantine", source.name, "extract", f"part-{part:05d}.parquet")
            counts["quarantined"] += len(batch.frame)
    return dict(counts)


def match_persons(ctx: RunContext) -> dict[str, int]:
    """Map and validate every source's person records, then link them into journal persons.

    Writes the identity frames, the fitted model, and the match report (HTML, CSV, JSON)
    a steward decides review pairs from; replays every stored steward decision.
    """
    frames = []
    for source_name in ctx.source_names:
        rows = _mapped_valid(ctx, source_name, "person")
        if rows is not None:
            frames.append(rows.assign(namespace=ctx.config.source(source_name).namespace))
    earlier = _earlier_person_records(ctx)
    if not frames and earlier.empty:
        return {"records": 0, "persons": 0, "review": 0, "earlier_records": 0}
    persons = prepare(pd.concat([*frames, earlier], ignore_index=True))
    identity = ctx.config.identity
    matches = match(
        persons,
        Thresholds(identity.auto_match, identity.review),
        decisions.load(ctx.engine),
        merges=_source_merges(ctx, persons),
    )
    persons["cluster"] = matches.records["cluster"].to_numpy()
    journal_links = loader.existing_links(ctx.engine)
    persons["journal_person_id"] = assign_person_ids(
        persons, journal_links, loader.largest_person_id(ctx.engine)
    )
    persons["link_kind"] = matches.records["link_kind"].to_numpy()
    persons["match_weight"] = matches.records["match_weight"].to_numpy()
    in_run = persons["source_system"].isin(ctx.source_names)
    space = ctx.workspace
    space.write_frame(persons.drop(columns=["id_birth_date"]), "identity", "persons.parquet")
    space.write_frame(golden_records(persons, identity.source_trust), "identity", "golden.parquet")
    space.write_frame(identifiers(persons), "identity", "identifiers.parquet")
    space.write_frame(matches.review, "identity", "review.parquet")
    space.write_frame(journal_links, "identity", "journal_links.parquet")  # as they were: `_relinked`
    space.write_json(matches.linkage.model.as_dict(), "identity", "model.json")
    counts = {
        "records": int(in_run.sum()),
        "persons": int(persons.loc[in_run, "journal_person_id"].nunique()),
        "review": len(matches.review),
        "earlier_records": int((~in_run).sum()),
    }
    pairs = review_pairs(
        persons, matches.review, matches.spec, matches.linkage.model, persons["cluster"].to_numpy()
    )
    write_reports(
        space.path("reports"),
        pairs,
        {"run_id": ctx.run_id, **counts},
        matches.linkage.model,
        matches.linkage.blocking,
    )
    return counts


def _source_merges(ctx: RunContext, persons: pd.DataFrame) -> pd.DataFrame:
    """Merges the sources made themselves (HL7 ADT^A40: prior id into surviving id), as
    pairs of person records: each local id resolved within its source's namespace."""
    frames = [
        staged.assign(namespace=ctx.config.source(name).namespace)
        for name in ctx.source_names
        if not (staged := ctx.workspace.read_frame("staging", name, "person_merge")).empty
    ]
    if not frames:
        return pd.DataFrame(columns=list(SIDES))
    merges = pd.concat(frames, ignore_index=True)
    system = persons.drop_duplicates(["namespace", "source_person_id"]).set_index(
        ["namespace", "source_person_id"]
    )["source_system"]
    pairs = pd.DataFrame(index=merges.index)
    for side, column in (("left", "patient_id"), ("right", "prior_patient_id")):
        keys = pd.MultiIndex.from_arrays([merges["namespace"], merges[column].astype(str)])
        pairs[f"{side}_source_system"] = system.reindex(keys).to_numpy()
        pairs[f"{side}_source_person_id"] = merges[column].to_numpy()
    return pairs[list(SIDES)].dropna().reset_index(drop=True)


def _earlier_person_records(ctx: RunContext) -> pd.DataFrame:
    """Person records of earlier waves (sources outside this run), as identity saw them then."""
    stored = loader.person_records(ctx.engine, exclude=ctx.source_names)
    if stored.empty:
        return stored
    for field, kind in target_fields("person").items():
        if field in stored and kind in ("date", "datetime"):
            stored[field] = pd.to_datetime(stored[field], errors="coerce")
        elif field in stored and kind == "boolean":
            stored[field] = stored[field].astype("boolean")
    return stored


def map_clinical(ctx: RunContext, source_name: str) -> dict[str, int]:
    """Map one source's clinical entities and tie each row to its journal person.

    Records the journal already holds unchanged (same payload hash, same mapping
    fingerprint, same journal person) are set aside as `unchanged`, not mapped again;
    the fingerprint is kept in the workspace for `load` to record with the rows.
    """
    spec = ctx.spec(source_name)
    links = ctx.workspace.read_frame(
        "identity", "persons.parquet", columns=["source_system", "source_person_id", "journal_person_id"]
    )
    links = (
        links[links["source_system"] == source_name]
        .drop(columns="source_system")
        .drop_duplicates("source_person_id")
    )
    fingerprint = mapping_sha256(ctx, source_name)
    ctx.workspace.write_json(fingerprint, "mapped", source_name, "mapping_sha256.json")
    may_skip = recorded_fingerprint(ctx.engine, source_name) == fingerprint
    relinked = _relinked(ctx, source_name, links) if may_skip else None
    counts: dict[str, int] = {}
    for entity in _staged_entities(ctx, source_name):
        if entity == "person":
            continue
        staging = ctx.workspace.read_frame("staging", source_name, entity)
        if entity not in spec.entities:
            _write(
                ctx,
                staging[RECORD_KEYS[:1] + RECORD_KEYS[2:]].assign(entity=entity),
                "mapped",
                source_name,
                f"out_of_scope-{entity}.parquet",
            )
            counts[f"{entity}.out_of_scope"] = len(staging)
            continue
        result = _map(ctx, source_name, entity, spec, staging, relinked)
        rows = result.rows.merge(links, on="source_person_id", how="left")
        rows["journal_person_id"] = rows["journal_person_id"].astype("Int64")
        _write(ctx, rows, "mapped", source_name, f"{entity}.parquet")
        counts[entity] = len(rows)
    return counts


def mapping_sha256(ctx: RunContext, source_name: str) -> str:
    """What decides how a source's rows map and pass the gate: its spec, the suites, the terminology."""
    source = ctx.config.source(source_name)
    base = ctx.config.config_path.parent if ctx.config.config_path else None
    return mapping_fingerprint(
        resolve_spec(source.mapping, base), _suites(ctx) or SUITES_DIR, TERMINOLOGY_DIR
    )


def _relinked(ctx: RunContext, source_name: str, links: pd.DataFrame) -> set[str]:
    """Source person ids of this source whose journal person is new or differs from the
    journal's (its links as identity read them before this run)."""
    existing = ctx.workspace.read_frame(
        "identity",
        "journal_links.parquet",
        columns=["source_system", "source_person_id", "journal_person_id"],
    )
    existing = existing[existing["source_system"] == source_name]
    joined = links.merge(existing, on="source_person_id", how="left", suffixes=("", "_journal"))
    differs = joined["journal_person_id"].astype("Int64") != joined["journal_person_id_journal"].astype(
        "Int64"
    )
    return set(joined.loc[differs.fillna(True).astype(bool), "source_person_id"])


def validate_clinical(ctx: RunContext, source_name: str) -> dict[str, int]:
    """Run the quality gate on one source's mapped rows; failing rows go to quarantine.

    The persons' golden birth and death dates go in beside the rows for the lifetime checks.
    Records skipped as unchanged count as passing rows of each check (they passed it when
    they loaded, under the same suites), so thresholds hold on the whole source.
    """
    persons = ctx.workspace.read_frame("identity", "golden.parquet", columns=LIFETIME)
    counts: dict[str, int] = {}
    for entity in ENTITIES[1:]:
        path = ctx.workspace.path("mapped", source_name, f"{entity}.parquet")
        if not path.exists():
            continue
        outcome = validate(
            entity,
            source_name,
            ctx.workspace.read_frame("mapped", source_name, f"{entity}.parquet"),
            now=ctx.started_at,
            suites_dir=_suites(ctx),
            persons=persons,
        )
        _write(ctx, outcome.passed, "mapped", source_name, f"valid-{entity}.parquet")
        _write(ctx, outcome.quarantine, "quarantine", source_name, f"validate-{entity}.parquet")
        unchanged = len(ctx.workspace.read_frame("mapped", source_name, f"unchanged-{entity}.parquet"))
        outcome.checks = [check.with_unchanged(unchanged) for check in outcome.checks]
        _record_validation(ctx, source_name, entity, outcome)
        counts[entity] = len(outcome.passed)
        counts[f"{entity}.quarantined"] = len(outcome.quarantine)
    return counts


def gate_results(ctx: RunContext) -> list[tuple[str, dict[str, object]]]:
    """The gate's GX validation results in this run, as (source, result), for Data Docs."""
    return [
        (path.parent.name, json.loads(path.read_text(encoding="utf-8"))) for path in _validations(ctx, "gx")
    ]


def gate_checks(ctx: RunContext) -> list[Check]:
    """Every check the gate ran in this run, source by source, entity by entity."""
    paths = _validations(ctx, "checks")
    return [Check(**check) for path in paths for check in json.loads(path.read_text(encoding="utf-8"))]


def load(ctx: RunContext) -> dict[str, int]:
    """Load persons, then every source's validated rows, then the quarantine."""
    space = ctx.workspace
    persons = space.read_frame("identity", "persons.parquet")
    counts: Counter[str] = Counter()
    if not persons.empty:
        in_run = persons[persons["source_system"].isin(ctx.source_names)]
        loaded = loader.load_persons(
            ctx.engine,
            space.read_frame("identity", "golden.parquet"),
            space.read_frame("identity", "identifiers.parquet"),
            persons[LINK_COLUMNS],
            in_run,
            ctx.run_id,
            _person_records(in_run),
        )
        counts["person.inserted"], counts["person.updated"] = loaded.inserted, loaded.updated
        counts["person.merged"] = loaded.merged
    for source_name in ctx.source_names:
        for entity in ENTITIES[1:]:
            rows = space.read_frame("mapped", source_name, f"valid-{entity}.parquet")
            if rows.empty:
                continue
            result = loader.load_clinical(ctx.engine, entity, rows, ctx.run_id, ctx.attachments)
            counts[f"{entity}.inserted"] += result.inserted
            counts[f"{entity}.updated"] += result.updated
            counts[f"{entity}.unchanged"] += result.unchanged
        fingerprint = space.read_json("mapped", source_name, "mapping_sha256.json")
        record_source_state(ctx.engine, source_name, fingerprint, ctx.run_id)
    counts["quarantine"] = loader.load_quarantine(ctx.engine, _quarantine(ctx), ctx.run_id, ctx.source_names)
    return dict(counts)


def _person_records(persons: pd.DataFrame) -> pd.DataFrame:
    """Identity's input of these records, as the journal keeps it for later waves."""
    fields = [f for f in (*PERSON_RECORD_PROVENANCE, *target_fields("person")) if f in persons]
    as_json = persons[fields].to_json(orient="records", date_format="iso", lines=True)
    return pd.DataFrame(
        {
            "source_system": persons["source_system"].to_numpy(),
            "source_person_id": persons["source_person_id"].to_numpy(),
            "namespace": persons["namespace"].to_numpy(),
            "fields": as_json.splitlines() if len(persons) else [],
        }
    )


def books(ctx: RunContext) -> list[Account]:
    """The run's books per source and entity, checked against what the journal holds now."""
    outcomes = _outcomes(ctx)
    accounts = account(_extracted(ctx), outcomes)
    verify_journal(ctx.engine, accounts, outcomes["loaded"])
    return accounts


def reconcile(ctx: RunContext) -> dict[str, object]:
    """Balance the books, check them against the journal, write the run summary."""
    accounts = books(ctx)
    record_accounts(ctx.engine, ctx.run_id, accounts)
    balanced = all(a.balanced for a in accounts)
    summary = _summary(ctx, accounts, balanced)
    ctx.workspace.write_json(summary, "reports", "summary.json")
    pd.DataFrame([a.as_dict() for a in accounts]).to_csv(
        ctx.workspace.path("reports", "accounts.csv"), index=False
    )
    finish_run(ctx.engine, ctx.run_id, "completed" if balanced else "unbalanced", balanced)
    if not balanced:
        problems = "; ".join(f"{a.source_system}/{a.entity}: {p}" for a in accounts for p in a.problems)
        raise BooksDoNotBalance(f"run {ctx.run_id}: the books do not balance: {problems}")
    return summary


def fail(ctx: RunContext) -> None:
    finish_run(ctx.engine, ctx.run_id, "failed", None)


def _mapped_valid(ctx: RunContext, source_name: str, entity: str) -> pd.DataFrame | None:
    """Map and gate one entity of a source (persons are gated before identity sees them)."""
    spec = ctx.spec(source_name)
    if entity not in spec.entities:
        return None
    staging = ctx.workspace.read_frame("staging", source_name, entity)
    if staging.empty:
        return None
    result = _map(ctx, source_name, entity, spec, staging)
    outcome = validate(entity, source_name, result.rows, now=ctx.started_at, suites_dir=_suites(ctx))
    _write(ctx, outcome.quarantine, "quarantine", source_name, f"validate-{entity}.parquet")
    _record_validation(ctx, source_name, entity, outcome)
    return outcome.passed


def _map(
    ctx: RunContext,
    source_name: str,
    entity: str,
    spec: MappingSpec,
    staging: pd.DataFrame,
    relinked: set[str] | None = None,
) -> MapResult:
    """Map the latest version of each staged record; older versions merge, failures quarantine.

    Each kept record is counted new, changed or unchanged against the journal (the run's
    delta). With `relinked` (skipping allowed), unchanged records whose person did not
    change are set aside in `unchanged-<entity>.parquet` instead of being mapped again.
    """
    kept, merged = latest_versions(staging)
    loaded, quarantined = journal_hashes(ctx.engine, source_name, entity)
    against_loaded = delta(kept, loaded)
    kind = against_loaded.where(against_loaded != "new", delta(kept, quarantined))  # failed before
    skipped = pd.Series(False, index=kept.index)
    if relinked is not None:
        skipped = (against_loaded == "unchanged") & ~kept["source_person_id"].isin(relinked)
        _write(
            ctx,
            kept.loc[skipped, ["source_system", "source_record_id", "record_hash"]].assign(entity=entity),
            "mapped",
            source_name,
            f"unchanged-{entity}.parquet",
        )
    ctx.workspace.write_json(
        {**kind.value_counts().to_dict(), "skipped": int(skipped.sum())},
        "reports",
        "delta",
        source_name,
        f"{entity}.json",
    )
    result = map_entity(entity, spec.entities[entity], kept[~skipped], terminology())
    _write(
        ctx,
        merged[["source_system", "source_record_id", "record_hash"]].assign(entity=entity),
        "mapped",
        source_name,
        f"merged-{entity}.parquet",
    )
    _write(ctx, result.quarantine, "quarantine", source_name, f"map-{entity}.parquet")
    return result


def _record_validation(ctx: RunContext, source_name: str, entity: str, outcome: GateOutcome) -> None:
    """The gate's checks (numerator/denominator) and its GX result, for the verdict and Data Docs."""
    folder = ("reports", "validation", source_name)
    ctx.workspace.write_json([c.as_dict() for c in outcome.checks], *folder, f"{entity}.checks.json")
    if outcome.result is not None:
        ctx.workspace.write_json(outcome.result, *folder, f"{entity}.gx.json")


def _validations(ctx: RunContext, kind: str) -> list[Path]:
    """The files `_record_validation` wrote of one kind (checks, gx), in a stable order."""
    folder = ctx.workspace.path("reports", "validation")
    return sorted(folder.glob(f"*/*.{kind}.json")) if folder.exists() else []


def _write(ctx: RunContext, frame: pd.DataFrame, stage: str, *parts: str) -> None:
    ctx.workspace.write_frame(frame.reset_index(drop=True), stage, *parts)


def _staged_entities(ctx: RunContext, source_name: str) -> list[str]:
    folder = ctx.workspace.path("staging", source_name)
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def _suites(ctx: RunContext) -> Path | None:
    folder = ctx.config.validation.suites
    if folder is None:
        return None
    base = ctx.config.config_path.parent if ctx.config.config_path else Path.cwd()
    return base / folder


def _quarantine(ctx: RunContext) -> pd.DataFrame:
    frames = [
        ctx.workspace.read_frame("quarantine", source_name)
        for source_name in ctx.source_names
        if ctx.workspace.path("quarantine", source_name).exists()
    ]
    extract = [
        ctx.workspace.read_frame("quarantine", source_name, "extract")
        for source_name in ctx.source_names
        if ctx.workspace.path("quarantine", source_name, "extract").exists()
    ]
    frames = [f for f in frames + extract if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(QUARANTINE_COLUMNS))


def _extracted(ctx: RunContext) -> pd.DataFrame:
    frames = []
    for source_name in ctx.source_names:
        for entity in _staged_entities(ctx, source_name):
            staged = ctx.workspace.read_frame(
                "staging", source_name, entity, columns=["source_system", "source_record_id", "record_hash"]
            )
            frames.append(staged.assign(entity=entity))
    quarantined = _quarantine(ctx)
    frames.append(quarantined[quarantined["stage"] == "extract"][RECORD_KEYS])
    return pd.concat(frames, ignore_index=True)[RECORD_KEYS]


def _outcomes(ctx: RunContext) -> dict[str, pd.DataFrame]:
    space = ctx.workspace
    persons = space.read_frame(
        "identity", "persons.parquet", columns=["source_system", "source_record_id", "record_hash"]
    )
    loaded = [persons[persons["source_system"].isin(ctx.source_names)].assign(entity="person")]
    merged, out_of_scope = [], []
    for source_name in ctx.source_names:
        folder = space.path("mapped", source_name)
        for path in sorted(folder.glob("*.parquet")) if folder.exists() else []:
            name = path.stem
            if name.startswith(("valid-", "unchanged-")):
                rows = space.read_frame(
                    "mapped",
                    source_name,
                    path.name,
                    columns=["source_system", "source_record_id", "record_hash"],
                )
                loaded.append(rows.assign(entity=name.split("-", 1)[1]))
            elif name.startswith("merged-"):
                merged.append(space.read_frame("mapped", source_name, path.name))
            elif name.startswith("out_of_scope-"):
                out_of_scope.append(space.read_frame("mapped", source_name, path.name))
    empty = pd.DataFrame(columns=RECORD_KEYS)
    return {
        "loaded": pd.concat(loaded, ignore_index=True)[RECORD_KEYS],
        "quarantined": _quarantine(ctx)[RECORD_KEYS],
        "merged": pd.concat(merged, ignore_index=True)[RECORD_KEYS] if merged else empty,
        "out_of_scope": pd.concat(out_of_scope, ignore_index=True)[RECORD_KEYS] if out_of_scope else empty,
    }


def _summary(ctx: RunContext, accounts: list[Account], balanced: bool) -> dict[str, object]:
    review = ctx.workspace.read_frame("identity", "review.parquet")
    return {
        "run_id": ctx.run_id,
        "migration": ctx.config.name,
        "wave": ctx.wave,
        "journal": _safe_url(ctx.config.journal),
        "started_at": ctx.started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "balanced": balanced,
        "review_pairs": len(review),
        "delta": _delta(ctx),
        "gate": {k: v for k, v in Verdict(gate_checks(ctx)).as_dict().items() if k != "results"},
        "accounts": [a.as_dict() for a in accounts],
        "reports": str(ctx.workspace.path("reports")),
    }


def _delta(ctx: RunContext) -> list[dict[str, object]]:
    """Per source and entity, records new, changed and unchanged since the journal last saw them."""
    rows = []
    for path in sorted(ctx.workspace.path("reports", "delta").glob("*/*.json")):
        counts = json.loads(path.read_text(encoding="utf-8"))
        rows.append(
            {
                "source_system": path.parent.name,
                "entity": path.stem,
                **{k: int(counts.get(k, 0)) for k in ("new", "changed", "unchanged", "skipped")},
            }
        )
    return rows


def _safe_url(url: str) -> str:
    """A journal URL fit for a report: the password, if any, hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
