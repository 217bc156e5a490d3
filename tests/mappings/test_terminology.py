"""Terminology: the packaged code lists and the Directorate's ICPC-2 → ICD-10 conversion."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from mappings.terminology import HERE, terminology
from mappings.terminology.codemaps import CODEMAPS_DIR, load_code_map
from mappings.terminology.units import conversion


def test_packaged_terminology_files_are_the_published_ones(shared_data: Path) -> None:
    for name in ("icd10.json", "ICPC2_til_ICD-10_CSV_1_1_2019.txt"):
        assert (HERE / name).read_bytes() == (shared_data / "terminology" / name).read_bytes()


def test_icpc2_to_icd10_agrees_with_the_directorate_file_on_every_row(shared_data: Path) -> None:
    lines = (
        (shared_data / "terminology" / "ICPC2_til_ICD-10_CSV_1_1_2019.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    rows = [line.split(";") for line in lines[8:] if line.strip()]
    assert len(rows) == 728
    icpc2 = pd.Series([r[0].strip() for r in rows], dtype="string")
    expected = [r[3].strip().replace(".", "") for r in rows]
    result = terminology().code(pd.Series("icpc2", index=icpc2.index, dtype="string"), icpc2, "icd10")
    assert result.valid.all()
    assert result.mapped_code.tolist() == expected
    assert (result.mapped_system == "urn:oid:2.16.578.1.12.4.1.1.7110").all()
    assert (result.map_source == "icpc2_icd10@1.1.2019").all()
    assert (result.system == "urn:oid:2.16.578.1.12.4.1.1.7170").all(), (
        "the ICPC-2 code stays the source code"
    )


def test_icd10_accepts_dot_and_no_dot_forms_and_rejects_unknown_codes() -> None:
    codes = pd.Series(["E11.9", "e119", "I10", "X999", "J44.9"], dtype="string")
    result = terminology().code(pd.Series("icd10", index=codes.index, dtype="string"), codes, "icd10")
    assert result.code.tolist() == ["E119", "E119", "I10", "X999", "J449"]
    assert result.valid.tolist() == [True, True, True, False, True]
    assert result.mapped_code.isna().tolist() == [False, False, False, True, False]
    assert result.mapped_display.iloc[0] == "Diabetes mellitus type 2 uten komplikasjon"


def test_systems_resolve_from_oids_hl7_names_and_aliases() -> None:
    names = pd.Series(
        [
            "2.16.578.1.12.4.1.1.7110",
            "urn:oid:2.16.578.1.12.4.1.1.7170",
            "LN",
            "SCT",
            "NLK",
            "who-knows",
            None,
        ]
    )
    assert terminology().resolve(names).tolist()[:5] == ["icd10", "icpc2", "loinc", "snomed", "nlk"]
    assert terminology().resolve(names).isna().tolist()[5:] == [True, True]


def test_atc_format_check() -> None:
    codes = pd.Series(["A10BA02", "C07AB02", "ZZ99ZZ99", "A10", "a10ba02"], dtype="string")
    result = terminology().code(pd.Series("atc", index=codes.index, dtype="string"), codes, "atc")
    assert result.valid.tolist() == [True, True, False, True, True]


def test_icpc2_translation_display_is_the_directorate_icd10_text() -> None:
    codes = pd.Series(["T90", "K86", "-30"], dtype="string")
    result = terminology().code(pd.Series("icpc2", index=codes.index, dtype="string"), codes, "icd10")
    assert result.mapped_code.tolist() == ["E119", "I10", "Z000"]
    assert result.mapped_display.tolist()[0] == "Diabetes mellitus type II uten komplikasjon"


def test_outcome_of_each_code() -> None:
    systems = pd.Series(["icpc2", "icpc2", "icd10", None, "icd10", "loinc"], dtype="string")
    codes = pd.Series(["T90", "Z99", "E11.9", "123", None, "8867-4"], dtype="string")
    to_icd10 = terminology().code(systems, codes, "icd10").outcome.tolist()
    assert to_icd10 == ["mapped", "invalid", "mapped", "unknown_system", "missing", "fell_back"]
    assert terminology().code(systems, codes, None).outcome.tolist()[-1] == "kept"


def test_shared_value_maps_map_into_fhir_administrative_gender() -> None:
    assert terminology().value_map("sex-3101") == {"0": "unknown", "1": "male", "2": "female", "9": "unknown"}
    assert terminology().value_map("sex-hl7")["K"] == "female"


def write_map(folder: Path, *lines: str) -> Path:
    path = folder / "local.csv"
    header = "source_code,source_display,target_system,target_code,target_display,status,set_by"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("A,a,loinc,8867-4,Puls,approvd,kari", "line(s) 2: status must be one of"),
        ("A,a,loinc,8867-4,Puls,approved,", "line(s) 2: set_by (who set the status) is empty"),
        ("A,a,loinc,8867,Puls,approved,kari", "line(s) 2: target codes not valid in their system"),
        ("A,a,loinc-ish,8867-4,Puls,approved,kari", "unknown target system(s) ['loinc-ish']"),
        ("A,a,loinc,,Puls,approved,kari", "give both target_system and target_code"),
        (",a,,,,approved,kari", "line(s) 2: source_code is empty"),
    ],
)
def test_a_broken_code_map_names_its_file_and_lines(tmp_path: Path, line: str, problem: str) -> None:
    path = write_map(tmp_path, line)
    with pytest.raises(ValueError) as error:
        load_code_map(path, terminology())
    assert str(error.value).startswith(f"{path.resolve()}: ") and problem in str(error.value)


def test_repeated_source_codes_are_refused(tmp_path: Path) -> None:
    path = write_map(tmp_path, "A,a,,,,approved,kari", "B,b,,,,approved,kari", "A,a,,,,flagged,ola")
    with pytest.raises(ValueError, match=r"line\(s\) 2, 4: source codes must be unique"):
        load_code_map(path, terminology())


def test_a_code_map_version_follows_its_content(tmp_path: Path) -> None:
    path = write_map(tmp_path, "A,a,loinc,8867-4,Puls,unchecked,kari")
    first = load_code_map(path, terminology())
    path.write_text(path.read_text().replace("unchecked", "approved"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = load_code_map(path, terminology())
    assert first.version != second.version and len(second.version) == 8
    assert second.entries.loc["A", "status"] == "approved", "an edited map is read again"


@pytest.mark.parametrize("path", sorted(CODEMAPS_DIR.glob("*.csv")), ids=lambda p: p.stem)
def test_packaged_code_maps_are_valid(path: Path) -> None:
    assert not load_code_map(path, terminology()).entries.empty


def test_units_convert_within_a_dimension_only() -> None:
    units = pd.Series(["g", "KG", "lb", "mmHg", None, "furlong"], dtype="string")
    how = conversion(units, "kg")
    assert how.scale.round(6).tolist()[:3] == [0.001, 1.0, 0.453592]
    assert how.impossible.tolist() == [False, False, False, True, False, True]
    pressure = conversion(pd.Series(["kPa"], dtype="string"), "mm[Hg]")
    assert round(float(pressure.scale[0]) * 16, 1) == 120.0, "16 kPa is 120 mmHg"
