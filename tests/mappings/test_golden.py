"""Every packaged spec against golden files: staged rows in, journal and quarantine rows out.

The staged rows are real connector output: sampled from the synthetic region (national
IDs replaced by the published test numbers of design §5) and from the public HL7 v2
and KITH samples, including the records that must end in quarantine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.engine import latest_versions, map_entity
from mappings.spec import SPECS_DIR, load_spec
from mappings.terminology import terminology
from tests.mappings.golden import GOLDEN, QUARANTINE_SHOWN, as_csv, assert_golden, read_staging

SPECS = sorted(SPECS_DIR.glob("*.yaml"))
CASES = sorted(GOLDEN.glob("*/*.staging.csv"))


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.stem)
def test_every_spec_entity_has_a_golden_case(spec_path: Path) -> None:
    staged = {p.name.removesuffix(".staging.csv") for p in (GOLDEN / spec_path.stem).glob("*.staging.csv")}
    assert staged == set(load_spec(spec_path).entities)


@pytest.mark.parametrize("staging_path", CASES, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}")
def test_spec_maps_staged_rows_to_the_golden_journal_rows(staging_path: Path) -> None:
    entity = staging_path.name.removesuffix(".staging.csv")
    spec = load_spec(SPECS_DIR / f"{staging_path.parent.name}.yaml")
    staging = read_staging(staging_path)
    kept, merged = latest_versions(staging)
    result = map_entity(entity, spec.entities[entity], kept, terminology())
    assert len(result.rows) + len(result.quarantine) + len(merged) == len(staging), (
        "every staged row accounted for"
    )
    assert_golden(staging_path.with_name(f"{entity}.journal.csv"), as_csv(result.rows))
    assert_golden(
        staging_path.with_name(f"{entity}.quarantine.csv"), as_csv(result.quarantine[QUARANTINE_SHOWN])
    )
