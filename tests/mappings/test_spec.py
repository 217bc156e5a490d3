"""Specs are data: every packaged spec loads, and a broken one names its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.spec import SPECS_DIR, SpecError, load_spec, resolve_spec


@pytest.mark.parametrize("path", sorted(SPECS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_packaged_spec_loads(path: Path) -> None:
    assert load_spec(path).entities


def field(rule: str, name: str = "sex", entity: str = "person") -> str:
    """A one-field spec whose rule sits on line 4."""
    return f"entities:\n  {entity}:\n    fields:\n      {name}: {rule}\n"


BROKEN = {
    "unknown field": (field("x", name="shoe_size"), 4, "fields.shoe_size", "person has no field 'shoe_size'"),
    "parse does not fit": (
        field("{column: x, parse: number}", name="birth_date"),
        4,
        "fields.birth_date.parse",
        "parse 'number' does not fit 'birth_date', a date field",
    ),
    "unknown entity": (
        "entities:\n  patient:\n    fields: {}\n",
        2,
        "entities.patient",
        "unknown entity 'patient'",
    ),
    "unknown code system": (
        "entities:\n  condition:\n    coding: {code: c, system: icd11}\n    fields: {}\n",
        3,
        "coding.system",
        "unknown code system 'icd11'",
    ),
    "unknown key": (field("{column: x, transmogrify: true}"), 4, "fields.sex.transmogrify", "Extra inputs"),
    "two sources": (
        field("{column: x, const: y}"),
        4,
        "fields.sex",
        "exactly one of 'column', 'const' or 'concat'",
    ),
    "unknown transform": (
        field("{column: x, transform: guess_sex}"),
        4,
        "fields.sex.transform",
        "unknown transform 'guess_sex'; known: birth_date_from_national_id, sex_from_national_id",
    ),
    "unknown value map": (
        field("{column: x, map: sex-9999}"),
        4,
        "fields.sex.map",
        "unknown value map 'sex-9999'",
    ),
    "map value of the wrong kind": (
        "entities:\n  person:\n    fields:\n      confidential_address:\n        column: x\n        map:\n          J: ja\n          N: kanskje\n",
        8,
        "fields.confidential_address.map.N",
        "'kanskje' does not fit 'confidential_address', a boolean field",
    ),
    "constant of the wrong kind": (
        field("{const: 'not a date'}", name="deceased_date"),
        4,
        "fields.deceased_date.const",
        "'not a date' does not fit 'deceased_date', a date field",
    ),
    "default that fails its format": (
        field("{column: x, format: '%d.%m.%Y', default: '1900-01-01'}", name="birth_date"),
        4,
        "fields.birth_date.default",
        "'1900-01-01' does not fit 'birth_date'",
    ),
    "format on a text field": (
        field("{column: x, format: '%Y'}", name="family_name"),
        4,
        "fields.family_name.format",
        "'format' does not apply to 'family_name', a text value",
    ),
    "decimal on a date": (
        field("{column: x, decimal: ','}", name="birth_date"),
        4,
        "fields.birth_date.decimal",
        "'decimal' does not apply",
    ),
    "unknown locale": (
        field("{column: x, locale: tlh}", name="birth_date"),
        4,
        "fields.birth_date.locale",
        "unknown locale 'tlh'",
    ),
    "extract without a group": (
        field("{column: x, extract: '[0-9]+'}", name="postcode"),
        4,
        "fields.postcode.extract",
        "the regex needs a group",
    ),
    "broken regex": (
        field("{column: x, null_if: '(['}", name="postcode"),
        4,
        "fields.postcode.null_if",
        "not a valid regex",
    ),
    "unknown unit": (
        "entities:\n  observation:\n    fields:\n      value_num:\n        column: v\n        convert: {unit: u, to: stone}\n",
        6,
        "fields.value_num.convert.to",
        "unknown unit 'stone'",
    ),
    "unknown check system": (
        field("{column: x, check: kommune2024}", name="municipality_code"),
        4,
        "fields.municipality_code.check",
        "unknown code system 'kommune2024'",
    ),
    "target beside a code map": (
        "entities:\n  encounter:\n    coding: {code: c, code_map: municipal-services, target: icd10}\n    fields: {}\n",
        3,
        "entities.encounter.coding",
        "a code map names its own targets",
    ),
    "unknown code map": (
        "entities:\n  encounter:\n    fields: {}\n    coding:\n      code: c\n      code_map: nowhere\n",
        6,
        "coding.code_map",
        "no code map 'nowhere'",
    ),
    "coding on persons": (
        "entities:\n  person:\n    coding: {code: c, system: icd10}\n    fields: {}\n",
        3,
        "person.coding",
        "person rows carry no code",
    ),
}


@pytest.mark.parametrize(("body", "line", "where", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_spec_reports_file_line_and_field(
    tmp_path: Path, body: str, line: int, where: str, message: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(body)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    text = str(error.value)
    assert text.startswith(f"{path}:{line}: entities."), text
    assert where in text.split(": ")[1], text
    assert message in text, text


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "entities:\n  person:\n    fields:\n      shoe_size: x\n      sex: {column: k, map: nope}\n"
    )
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert [line.split(": ")[0] for line in str(error.value).splitlines()] == [f"{path}:4", f"{path}:5"]


def test_a_spec_and_its_code_maps_are_found_beside_the_config_first(tmp_path: Path) -> None:
    (tmp_path / "codemaps").mkdir()
    (tmp_path / "codemaps" / "local-services.csv").write_text(
        "source_code,source_display,target_system,target_code,target_display,status,set_by\n"
        "HS,Hjemmesykepleie,,,,approved,steward kari\n"
    )
    (tmp_path / "mine.yaml").write_text(
        "entities:\n  encounter:\n    coding: {code: c, code_map: local-services}\n    fields: {}\n"
    )
    spec = load_spec(resolve_spec("mine.yaml", tmp_path))
    assert spec.path == tmp_path / "mine.yaml"
    assert spec.entities["encounter"].coding.code_map_path == tmp_path / "codemaps" / "local-services.csv"
    assert resolve_spec("hl7v2", tmp_path) == SPECS_DIR / "hl7v2.yaml", "a packaged spec by name"
    with pytest.raises(SpecError, match="not found"):
        resolve_spec("missing.yaml", tmp_path)
