"""The linkage spec: the shipped file is valid, mistakes in a spec are caught on load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from identity.spec import LinkageSpec, load_spec


def test_shipped_spec_names_every_field_and_rule() -> None:
    spec = load_spec()
    assert [c.name for c in spec.comparisons] == [
        "national_id",
        "birth_date",
        "given_name",
        "family_name",
        "sex",
        "postcode",
        "address",
    ]
    assert {s.rule for s in spec.training} <= {r.name for r in spec.blocking}
    contradicting = {c.name for c in spec.comparisons if any(level.contradicts for level in c.levels)}
    assert contradicting == {"national_id", "birth_date", "given_name", "sex"}


def _spec(levels: list[dict], training: list[dict] | None = None) -> dict:
    return {
        "blocking": [{"name": "b", "keys": ["birth_date"]}],
        "training": training or [],
        "comparisons": [{"name": "f", "column": "c", "levels": levels}],
    }


def test_the_last_level_must_be_else() -> None:
    with pytest.raises(ValidationError, match="last level"):
        LinkageSpec.model_validate(_spec([{"label": "a", "test": "exact", "m": 0.9, "u": 0.1}] * 2))


def test_a_similarity_level_needs_its_threshold() -> None:
    levels = [
        {"label": "a", "test": "jaro_winkler", "m": 0.9, "u": 0.1},
        {"label": "b", "test": "else", "m": 0.1, "u": 0.9},
    ]
    with pytest.raises(ValidationError, match="needs `min`"):
        LinkageSpec.model_validate(_spec(levels))


def test_training_must_name_a_blocking_rule() -> None:
    levels = [
        {"label": "a", "test": "exact", "m": 0.9, "u": 0.1},
        {"label": "b", "test": "else", "m": 0.1, "u": 0.9},
    ]
    with pytest.raises(ValidationError, match="unknown blocking rule"):
        LinkageSpec.model_validate(_spec(levels, [{"rule": "nope", "fixes": ["f"]}]))


def test_restricted_spec_keeps_only_what_the_records_have() -> None:
    spec = load_spec().restricted(
        {"given_key", "family_key", "birth_date", "given_initial", "family_initial"}
    )
    assert [c.name for c in spec.comparisons] == ["birth_date", "given_name", "family_name"]
    assert {r.name for r in spec.blocking} == {"birth_date_given", "birth_date_family"}
    assert [s.rule for s in spec.training] == ["birth_date_given"]
    assert spec.unique_name == ["given_key", "family_key"]
    assert spec.id_change_evidence == [], "no address: the birth date alone must not tie two numbers"
