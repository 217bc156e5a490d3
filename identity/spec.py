"""The linkage specification as typed data: blocking rules, EM sessions, comparison levels.

Like Splink's comparisons, what counts as agreement is declared in a YAML file
(`identity/specs/persons.yaml`), not buried in code: a steward can read it, a test can
pin it, and another region can ship its own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_SPEC = Path(__file__).with_name("specs") / "persons.yaml"

Test = Literal[
    "exact",
    "first_token",
    "jaro_winkler",
    "crossed",
    "token_overlap",
    "prefix",
    "date_swapped",
    "date_one_digit",
    "same_year",
    "one_edit",
    "id_conflict",
    "id_other_kind",
    "else",
]


class Level(BaseModel):
    """One comparison level: a test, and the m/u probabilities EM starts from."""

    model_config = ConfigDict(extra="forbid")

    label: str
    test: Test
    min: float | None = Field(default=None, ge=0, le=1, description="Similarity threshold.")
    other: str | None = Field(default=None, description="The column a `crossed` test compares against.")
    length: int | None = Field(default=None, ge=1, description="Prefix length of a `prefix` test.")
    token: Literal["first"] | None = Field(
        default=None,
        description="Compare only the first word (`jaro_winkler`): a given name without the middle.",
    )
    tf: bool = Field(default=False, description="Term-frequency adjust an exact match.")
    contradicts: bool | Literal["unless_same_id"] = Field(
        default=False,
        description=(
            "Evidence of two different people (`unless_same_id`: unless both records carry one"
            " person's valid IDs: the same number, or numbers `id_change_evidence` tied together)."
        ),
    )
    m: float = Field(gt=0, lt=1)
    u: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _arguments(self) -> Level:
        needs = {"jaro_winkler": "min", "crossed": "min", "prefix": "length"}
        if self.test in needs and getattr(self, needs[self.test]) is None:
            raise ValueError(f"test {self.test} needs `{needs[self.test]}`")
        if self.test == "crossed" and self.other is None:
            raise ValueError("test crossed needs `other`")
        return self


class Comparison(BaseModel):
    """One field compared by ordered levels; the last level must be `else`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    column: str
    levels: list[Level] = Field(min_length=2)

    @model_validator(mode="after")
    def _ends_in_else(self) -> Comparison:
        if self.levels[-1].test != "else" or any(level.test == "else" for level in self.levels[:-1]):
            raise ValueError(f"comparison {self.name}: exactly the last level must be `else`")
        return self

    @property
    def labels(self) -> list[str]:
        """Level labels by level index; index 0 is the null level."""
        return ["missing", *(level.label for level in self.levels)]


class BlockingRule(BaseModel):
    """Pairs of records that agree on every key column are candidates."""

    model_config = ConfigDict(extra="forbid")

    name: str
    keys: list[str] = Field(min_length=1)
    max_block: int = Field(
        default=2000, ge=2, description="Larger blocks are skipped (and reported): they carry no evidence."
    )
    focus: str | None = Field(
        default=None,
        description="A boolean column: only pairs with at least one such record (e.g. no birth date).",
    )


class Evidence(BaseModel):
    """Levels of one comparison that count as agreement."""

    model_config = ConfigDict(extra="forbid")

    comparison: str
    levels: list[str] = Field(min_length=1, description="Level labels.")


class TrainingSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str
    fixes: list[str] = Field(description="Comparisons this rule's pairs agree on by construction.")


class LinkageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocking: list[BlockingRule] = Field(min_length=1)
    training: list[TrainingSession] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(min_length=1)
    unique_name: list[str] = Field(
        default_factory=list,
        description="Name columns: a record with nothing but these joins the one person bearing that name.",
    )
    name_only_review: int = Field(
        default=0,
        ge=0,
        description=(
            "A record with nothing but a name that no unique name joined: a steward sees its"
            " best pair with each of this many people (clusters), whatever the probability."
        ),
    )
    id_change_evidence: list[Evidence] = Field(
        default_factory=list,
        description=(
            "What ties a valid number to one of another kind (a D-number to the later"
            " fødselsnummer) beyond a name: a pair of records bearing the two numbers that"
            " links on its own and agrees on all of these."
        ),
    )

    @model_validator(mode="after")
    def _references(self) -> LinkageSpec:
        rules = {rule.name for rule in self.blocking}
        fields = {comparison.name for comparison in self.comparisons}
        for session in self.training:
            if session.rule not in rules:
                raise ValueError(f"training names unknown blocking rule {session.rule!r}")
            unknown = set(session.fixes) - fields
            if unknown:
                raise ValueError(f"training on {session.rule!r} fixes unknown comparisons {sorted(unknown)}")
        for evidence in self.id_change_evidence:
            if evidence.comparison not in fields:
                raise ValueError(f"id_change_evidence names unknown comparison {evidence.comparison!r}")
            unknown = set(evidence.levels) - set(self.comparison(evidence.comparison).labels[1:])
            if unknown:
                raise ValueError(f"id_change_evidence: {evidence.comparison} has no level {sorted(unknown)}")
        return self

    def comparison(self, name: str) -> Comparison:
        return next(c for c in self.comparisons if c.name == name)

    def restricted(self, columns: set[str]) -> LinkageSpec:
        """The spec for records that only have some columns (e.g. `match-files` roles)."""
        comparisons = [c for c in self.comparisons if c.column in columns]
        names = {c.name for c in comparisons}
        blocking = [r for r in self.blocking if set(r.keys) | {r.focus or r.keys[0]} <= columns]
        kept = {r.name for r in blocking}
        training = [
            s.model_copy(update={"fixes": [f for f in s.fixes if f in names]})
            for s in self.training
            if s.rule in kept
        ]
        unique_name = self.unique_name if set(self.unique_name) <= columns else []
        name_only_review = self.name_only_review if unique_name else 0
        # All of the evidence or none: a part of it would tie numbers on less.
        evidence = self.id_change_evidence if {e.comparison for e in self.id_change_evidence} <= names else []
        return LinkageSpec(
            blocking=blocking,
            training=training,
            comparisons=comparisons,
            unique_name=unique_name,
            name_only_review=name_only_review,
            id_change_evidence=evidence,
        )


@cache
def load_spec(path: Path = DEFAULT_SPEC) -> LinkageSpec:
    """Read and validate a linkage spec file (cached: specs are read-only)."""
    return LinkageSpec.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
