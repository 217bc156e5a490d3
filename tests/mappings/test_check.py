"""A spec against the columns a source really stages: renamed columns are errors with a line."""

from __future__ import annotations

from pathlib import Path

from connectors.base import PROVENANCE
from mappings.check import check_staging
from mappings.spec import load_spec

SPEC = """\
entities:
  person:
    fields:
      given_name: fornavn
      family_name: {concat: [etternavn, mellomnavn]}
      birth_date: {column: fodt, format: '%d.%m.%Y'}
  observation:
    coding: {code: variabel, display: navn, code_map: municipal-observations}
    fields:
      value_num: {column: verdi, parse: number, when: {column: type, in: [NM]}}
  encounter:
    fields:
      start: fra
"""


def test_findings_name_the_spec_line_of_each_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    staged = {
        "person": [*PROVENANCE, "fornavn", "etternavn", "fodselsdato", "poststed"],
        "observation": [*PROVENANCE, "variabel", "verdi", "type"],
        "document": [*PROVENANCE, "tekst"],
    }
    findings = check_staging("municipal", load_spec(path), staged)
    errors = [f.message for f in findings if f.severity == "error"]
    assert errors == [
        f"{path}:5: entities.person.fields.family_name.concat.1: column 'mellomnavn' is not in the staging of municipal/person",
        f"{path}:6: entities.person.fields.birth_date.column: column 'fodt' is not in the staging of municipal/person",
        f"{path}:8: entities.observation.coding.display: column 'navn' is not in the staging of municipal/observation",
    ]
    others = {(f.severity, f.entity): f.message for f in findings if f.severity != "error"}
    assert others == {
        ("info", "person"): "staged columns no rule reads: fodselsdato, poststed",
        ("warning", "encounter"): "the spec maps encounter but municipal staged no encounter records",
        (
            "warning",
            "document",
        ): "municipal stages document records the spec does not map: they count as out of scope",
    }


def test_a_spec_that_fits_its_staging_has_no_findings(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    staged = {
        "person": [*PROVENANCE, "fornavn", "etternavn", "mellomnavn", "fodt"],
        "observation": [*PROVENANCE, "variabel", "navn", "verdi", "type"],
        "encounter": [*PROVENANCE, "fra"],
    }
    assert check_staging("municipal", load_spec(path), staged) == []
