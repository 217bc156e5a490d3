"""The mapping engine: every rule step, quarantine with field/value/reason, counts for the review."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mappings.engine import MapResult, latest_versions, map_entity
from mappings.spec import MappingSpec, SpecError, load_spec
from mappings.terminology import terminology


def staging(**columns: list[object]) -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    base = {
        "source_system": ["s"] * size,
        "source_kind": ["csv"] * size,
        "source_locator": [f"f.csv:{i + 2}" for i in range(size)],
        "source_record_id": [str(i) for i in range(size)],
        "source_person_id": ["p"] * size,
        "source_timestamp": [None] * size,
        "record_hash": [f"{i:064x}" for i in range(size)],
        "extracted_at": ["2026-11-23T00:00:00"] * size,
    }
    return pd.DataFrame({**base, **columns}).astype("string")


def spec_from(tmp_path: Path, text: str) -> MappingSpec:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_spec(path)


def mapped(tmp_path: Path, entity: str, fields: str, frame: pd.DataFrame, coding: str = "") -> MapResult:
    spec = spec_from(tmp_path, f"entities:\n  {entity}:\n{coding}    fields:\n{fields}")
    return map_entity(entity, spec.entities[entity], frame, terminology())


def reasons(result: MapResult) -> dict[str, str]:
    return dict(zip(result.quarantine["source_record_id"], result.quarantine["reason"], strict=True))


def test_bad_values_go_to_quarantine_with_field_value_and_reason(tmp_path: Path) -> None:
    frame = staging(
        fodt=["01.02.1930", "31.02.2019", "05.05.1950"], kjonn=["1", "2", "7"], sperret=["J", "N", "N"]
    )
    result = mapped(
        tmp_path,
        "person",
        '      birth_date: {column: fodt, format: "%d.%m.%Y"}\n'
        "      sex: {column: kjonn, map: sex-3101}\n"
        "      confidential_address: {column: sperret, map: {J: true, N: false}}\n",
        frame,
    )
    assert result.rows["source_record_id"].tolist() == ["0"]
    assert result.rows["birth_date"].tolist() == [pd.Timestamp("1930-02-01")]
    assert result.rows["sex"].tolist() == ["male"]
    assert result.rows["confidential_address"].tolist() == [True]
    quarantine = result.quarantine.set_index("source_record_id")
    assert quarantine.loc["1", "reason"] == "birth_date: '31.02.2019' is not a valid date (%d.%m.%Y)"
    assert (quarantine.loc["1", "field"], quarantine.loc["1", "value"], quarantine.loc["1", "rule"]) == (
        "birth_date",
        "31.02.2019",
        "map.birth_date",
    )
    assert quarantine.loc["2", "reason"] == "sex: '7' is not one of ['0', '1', '2', '9']"
    assert quarantine.loc["1", "record_hash"] == frame.loc[1, "record_hash"], "the staged hash, for the books"
    assert '"fodt":"31.02.2019"' in quarantine.loc["1", "raw_payload"]
    assert result.fallbacks.to_dict("records") == [
        {"field": "sex", "value": "7", "outcome": "quarantined", "count": 1}
    ]


def test_a_record_with_two_bad_values_names_both_and_is_quarantined_once(tmp_path: Path) -> None:
    result = mapped(
        tmp_path,
        "person",
        "      birth_date: {column: fodt, format: '%Y%m%d'}\n      sex: {column: kjonn, map: sex-3101}\n",
        staging(fodt=["19301345"], kjonn=["7"]),
    )
    assert len(result.quarantine) == 1 and result.quarantine["field"].tolist() == ["birth_date"]
    assert reasons(result)["0"] == (
        "birth_date: '19301345' is not a valid date (%Y%m%d); sex: '7' is not one of ['0', '1', '2', '9']"
    )


def test_numbers_with_decimal_commas_conditions_and_extraction(tmp_path: Path) -> None:
    frame = staging(
        verdi=["72,5", "<5", "positiv", "13.2"],
        type=["NM", "NM", "ST", "NM"],
        ref=["3,5 - 11,0", "< 5", None, "10-20"],
        tid=["20120314125900-0215", "201203141259", "20120314", "2012"],
    )
    rows = mapped(
        tmp_path,
        "observation",
        "      value_num: {column: verdi, parse: number, decimal: ',', null_if: '^[<>]', when: {column: type, in: [NM]}}\n"
        "      value_text: verdi\n"
        "      ref_low: {column: ref, extract: '^(\\d+(?:,\\d+)?)\\s*-', parse: number, decimal: ','}\n"
        "      ref_high: {column: ref, extract: '-\\s*(\\d+(?:,\\d+)?)$|^<\\s*(\\d+(?:,\\d+)?)', parse: number, decimal: ','}\n"
        "      effective_at: {column: tid, format: hl7}\n",
        frame,
    ).rows
    assert rows["value_num"].tolist()[0] == 72.5 and rows["value_num"].tolist()[3] == 13.2
    assert rows["value_num"].isna().tolist() == [False, True, True, False]
    assert rows["value_text"].tolist() == ["72,5", "<5", "positiv", "13.2"]
    assert rows["ref_low"].tolist()[0] == 3.5 and rows["ref_high"].tolist()[:2] == [11.0, 5.0]
    # a row without a range gets none, whatever the rows below it hold
    assert rows["ref_low"].isna().tolist() == [False, True, True, False]
    assert rows["ref_high"].isna().tolist() == [False, False, True, False]
    assert rows["effective_at"].tolist() == [
        pd.Timestamp("2012-03-14 12:59:00"),
        pd.Timestamp("2012-03-14 12:59"),
        pd.Timestamp("2012-03-14"),
        pd.Timestamp("2012-01-01"),
    ]


def test_thousands_separators_and_norwegian_month_names(tmp_path: Path) -> None:
    frame = staging(
        verdi=["1.234,5", "12 500", "7"],
        dato=["14. mars 2019", "1. desember 2020", "3. mai 2021"],
        kort=["14.mar.2019", "01.des.2020", "03.okt.2021"],
    )
    result = mapped(
        tmp_path,
        "observation",
        "      value_num: {column: verdi, parse: number, decimal: ',', thousands: '.'}\n"
        "      effective_at: {column: dato, format: '%d. %B %Y', locale: nb}\n",
        frame,
    )
    assert result.rows["value_num"].tolist() == [1234.5, 12500.0, 7.0]
    assert result.rows["effective_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2019-03-14",
        "2020-12-01",
        "2021-05-03",
    ]
    short = mapped(
        tmp_path, "observation", "      effective_at: {column: kort, format: '%d.%b.%Y', locale: nb}\n", frame
    )
    assert short.rows["effective_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2019-03-14",
        "2020-12-01",
        "2021-10-03",
    ]


def test_concatenation_skips_missing_parts_and_splitting_takes_one_part(tmp_path: Path) -> None:
    frame = staging(
        gate=["Øvre gate", "Torget", None], nr=["1", None, "3"], navn=["Hansen^Kari^Anne", "Olsen^Per", "Li"]
    )
    rows = mapped(
        tmp_path,
        "person",
        "      address_line: {concat: [gate, nr], separator: ' '}\n"
        "      family_name: {column: navn, split: {separator: '^', index: 0}}\n"
        "      middle_name: {column: navn, split: {separator: '^', index: 2}}\n",
        frame,
    ).rows
    assert rows["address_line"].tolist() == ["Øvre gate 1", "Torget", "3"]
    assert rows["family_name"].tolist() == ["Hansen", "Olsen", "Li"]
    assert rows["middle_name"].tolist()[0] == "Anne" and rows["middle_name"].isna().tolist()[1:] == [
        True,
        True,
    ]


def test_unit_conversion_scales_numbers_and_names_the_target_unit(tmp_path: Path) -> None:
    frame = staging(
        verdi=["72500", "72,5", "160", "98,6", "90", "5"], enhet=["g", "kg", "lbs", "°F", "mg/dL", "stone"]
    )
    convert = "{unit: enhet, to: kg, factors: {mg/dL: 0.0555}}"
    result = mapped(
        tmp_path,
        "observation",
        f"      value_num: {{column: verdi, parse: number, decimal: ',', convert: {convert}}}\n"
        f"      unit: {{column: enhet, convert: {convert}}}\n",
        frame,
    )
    assert result.rows["source_record_id"].tolist() == ["0", "1", "2", "4"]
    assert result.rows["value_num"].round(4).tolist() == [72.5, 72.5, 72.5748, 4.995]
    assert result.rows["unit"].tolist() == ["kg", "kg", "kg", "kg"]
    assert reasons(result) == {
        "3": "value_num: '°F' is not a unit that converts to kg",
        "5": "value_num: 'stone' is not a unit that converts to kg",
    }


def test_temperature_converts_with_an_offset(tmp_path: Path) -> None:
    rows = mapped(
        tmp_path,
        "observation",
        "      value_num: {column: v, parse: number, convert: {unit: u, to: Cel}}\n",
        staging(v=["98.6", "310.15", "37", "36.6"], u=["[degF]", "K", "°C", None]),
    ).rows
    assert rows["value_num"].round(6).tolist() == [37.0, 37.0, 37.0, 36.6], (
        "no unit: the value stays as it is"
    )


def test_a_registered_transform_derives_what_the_source_lacks(tmp_path: Path) -> None:
    frame = staging(fnr=["15108695088", "53097248016", "13049958441", "15108695077", None, "15021951940"])
    result = mapped(
        tmp_path,
        "person",
        "      birth_date: {column: fnr, transform: birth_date_from_national_id}\n"
        "      sex: {column: fnr, transform: sex_from_national_id}\n",
        frame,
    )
    dates = result.rows.set_index("source_record_id")["birth_date"]
    assert dates["0"] == pd.Timestamp("1986-10-15") and dates["1"] == pd.Timestamp("1972-09-13")
    assert dates["2"] == pd.Timestamp("1899-04-13"), "the century comes from the individual number"
    assert pd.isna(dates["4"]), "no ID, no birth date, no error"
    assert result.rows["sex"].fillna("(none)").tolist() == ["female", "female", "female", "(none)", "male"]
    assert reasons(result)["3"].startswith(
        "birth_date: '15108695077' cannot be turned by birth_date_from_national_id"
    )


def test_defaults_are_typed_required_fields_quarantine_and_both_are_counted(tmp_path: Path) -> None:
    result = mapped(
        tmp_path,
        "person",
        "      confidential_address: {column: sperret, map: {J: true}, unmapped: null, default: false}\n"
        "      birth_date: {column: fodt, format: '%d.%m.%Y', default: '01.01.1900'}\n"
        "      family_name: {column: navn, required: true}\n",
        staging(sperret=["J", None, "X"], fodt=[None, "02.02.1950", None], navn=["Aasen", "Haaland", " "]),
    )
    rows = result.rows.set_index("source_record_id")
    assert rows["confidential_address"].tolist() == [True, False]
    assert rows["birth_date"].tolist() == [pd.Timestamp("1900-01-01"), pd.Timestamp("1950-02-02")]
    assert reasons(result) == {"2": "family_name: is required but empty"}
    fallbacks = result.fallbacks.sort_values(["field", "outcome"]).to_dict("records")
    assert fallbacks == [
        {"field": "birth_date", "value": "01.01.1900", "outcome": "default", "count": 2},
        {"field": "confidential_address", "value": "False", "outcome": "default", "count": 2},
        {"field": "confidential_address", "value": "X", "outcome": "emptied", "count": 1},
    ]


def test_unmapped_values_can_be_kept_and_are_counted(tmp_path: Path) -> None:
    result = mapped(
        tmp_path,
        "encounter",
        "      class_code: {column: k, map: {I: IMP, O: AMB}, unmapped: keep}\n",
        staging(k=["I", "X", "X", None]),
    )
    assert result.rows["class_code"].tolist()[:3] == ["IMP", "X", "X"]
    assert result.fallbacks.to_dict("records") == [
        {"field": "class_code", "value": "X", "outcome": "kept", "count": 2}
    ]


def test_an_administrative_code_checked_against_its_code_system(tmp_path: Path) -> None:
    frame = staging(kommune=["5001", "0301", "50O1", None])
    result = mapped(
        tmp_path, "person", "      municipality_code: {column: kommune, check: municipality}\n", frame
    )
    assert result.rows["municipality_code"].tolist()[:2] == ["5001", "0301"]
    assert reasons(result) == {"2": "municipality_code: '50O1' is not a valid Kommunenummer code"}
    emptied = mapped(
        tmp_path,
        "person",
        "      municipality_code: {column: kommune, check: municipality, unmapped: null}\n",
        frame,
    )
    assert emptied.quarantine.empty and emptied.rows["municipality_code"].isna().tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert emptied.fallbacks.to_dict("records") == [
        {"field": "municipality_code", "value": "50O1", "outcome": "emptied", "count": 1}
    ]


def test_codes_are_checked_translated_and_counted_by_outcome(tmp_path: Path) -> None:
    frame = staging(
        kode=["T90", "T90", "Z99", "E119", None, "8867-4"],
        system=["ICPC-2", "2.16.578.1.12.4.1.1.7170", "ICPC2", "2.16.578.1.12.4.1.1.7110", "ICPC2", "9.9.9"],
        tekst=["Diabetes type 2", "Diabetes", "?", "Diabetes", None, "Puls"],
    )
    result = mapped(
        tmp_path,
        "condition",
        "      category: {const: encounter-diagnosis}\n",
        frame,
        coding="    coding: {code: kode, display: tekst, system_column: system, target: icd10}\n",
    )
    rows = result.rows
    assert rows["code"].tolist()[:4] == ["T90", "T90", "Z99", "E119"]
    assert rows["code_system"].tolist()[0] == "urn:oid:2.16.578.1.12.4.1.1.7170", "the source code stays"
    assert rows["mapped_code"].tolist()[:2] == ["E119", "E119"] and pd.isna(rows["mapped_code"][2])
    assert rows["map_source"].tolist()[:2] == ["icpc2_icd10@1.1.2019"] * 2
    assert rows["map_source"][3] == "identity"
    assert rows["code_system"][5] == "urn:oid:9.9.9", "an unknown system is kept as it was given"
    assert rows["code_valid"].tolist()[:4] == [True, True, False, True]
    assert result.quarantine.empty, "unknown: keep (the default) leaves the decision to the gate"
    counts = result.codes.fillna({"code": "(none)"}).set_index(["code", "outcome"])["count"].to_dict()
    assert counts == {
        ("E119", "mapped"): 1,
        ("T90", "mapped"): 2,
        ("Z99", "invalid"): 1,
        ("(none)", "missing"): 1,
        ("8867-4", "unknown_system"): 1,
    }


def test_unknown_codes_can_be_quarantined_with_a_readable_reason(tmp_path: Path) -> None:
    frame = staging(kode=["E11.9", "X99.9", "J45", "NPU1"], system=["I10", "I10", "ICD10", "who-knows"])
    result = mapped(
        tmp_path,
        "condition",
        "      category: {const: encounter-diagnosis}\n",
        frame,
        coding="    coding: {code: kode, system_column: system, target: icd10, unknown: quarantine}\n",
    )
    assert result.rows["code"].tolist() == ["E119"]
    assert reasons(result) == {
        "1": "code: 'X999' is not a valid ICD-10 code",
        "2": "code: 'J45' is not a valid ICD-10 code",
        "3": "code: 'NPU1' is in the unknown code system 'who-knows'",
    }


def test_local_codes_through_a_code_map_and_its_statuses(tmp_path: Path) -> None:
    (tmp_path / "codemaps").mkdir()
    (tmp_path / "codemaps" / "vitals.csv").write_text(
        "source_code,source_display,target_system,target_code,target_display,status,set_by\n"
        "VEKT,Vekt,loinc,29463-7,Body weight,approved,steward kari\n"
        "PULS,Puls,loinc,8867-4,Heart rate,auto,exact-name rule\n"
        "BT,Blodtrykk,loinc,85354-9,Blood pressure panel,unchecked,steward ola\n"
        "SKALA,Smerteskala,loinc,72514-3,Pain severity,flagged,steward kari\n"
        "IPLOS01,Sosial deltakelse,,,,approved,steward kari\n"
    )
    frame = staging(kode=["VEKT", "PULS", "BT", "SKALA", "IPLOS01", "HOYDE", "HOYDE"])
    result = mapped(
        tmp_path,
        "observation",
        "      value_text: kode\n",
        frame,
        coding="    coding: {code: kode, code_map: vitals, unknown: quarantine}\n",
    )
    rows = result.rows.set_index("code")
    assert rows["mapped_code"].tolist()[:2] == ["29463-7", "8867-4"]
    assert rows["mapped_code"].isna().tolist()[2:] == [True, True, True], (
        "unchecked and flagged entries do not map"
    )
    assert rows.loc["VEKT", "mapped_code_system"] == "http://loinc.org"
    assert rows.loc["VEKT", "code_system"] == "urn:enjournal:code-map:vitals"
    version = rows.loc["VEKT", "map_source"].split("@")[1].split(":")[0]
    assert rows["map_source"].tolist() == [
        f"codemap:vitals@{version}:{s}" for s in ("approved", "auto", "unchecked", "flagged", "approved")
    ]
    assert reasons(result) == {
        "5": "code: 'HOYDE' is not in code map vitals",
        "6": "code: 'HOYDE' is not in code map vitals",
    }
    outcomes = result.codes.set_index("code")["outcome"].to_dict()
    assert outcomes == {
        "VEKT": "mapped",
        "PULS": "mapped",
        "BT": "waiting",
        "SKALA": "waiting",
        "IPLOS01": "no_target",
        "HOYDE": "unmapped",
    }
    assert result.codes.set_index("code").loc["HOYDE", "count"] == 2


def test_missing_staging_columns_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"staging has no column\(s\) \['fodt'\]"):
        mapped(tmp_path, "person", "      birth_date: fodt\n", staging(other=["x"]))


def test_latest_version_of_a_record_wins_and_the_rest_merge() -> None:
    frame = staging(v=["old", "other", "new"])
    frame["source_record_id"] = ["A", "B", "A"]
    frame["source_timestamp"] = ["2020", "2020", "2021"]
    kept, merged = latest_versions(frame.iloc[[2, 1, 0]].reset_index(drop=True))
    assert sorted(kept["v"]) == ["new", "other"] and merged["v"].tolist() == ["old"]
