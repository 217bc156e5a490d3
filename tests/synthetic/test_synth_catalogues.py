"""The CSV catalogues in synthetic/data agree with the official code lists."""

from __future__ import annotations

import re

from synthetic.catalogue import load
from tests.synthetic import synth_readers as read


def test_icd10_codes_and_texts_come_from_the_norwegian_edition() -> None:
    official = read.icd10_codes()
    cat = load("icd10_common")
    assert len(cat) >= 80
    for code, text in zip(cat.col("code"), cat.col("text"), strict=True):
        assert official[code] == text


def test_icpc2_codes_come_from_the_conversion_file() -> None:
    official = read.icpc2_codes()
    cat = load("icpc2_common")
    for code, text in zip(cat.col("code"), cat.col("text"), strict=True):
        assert official[code] == text
    assert any(c.startswith("-") for c in cat.col("code"))
    assert "Z99" not in official


def test_code_shapes() -> None:
    assert all(re.match(r"^[A-Z]\d\d[A-Z]{2}\d\d$", a) for a in load("drugs").col("atc"))
    assert all(re.match(r"^[A-Z]\d\d[A-Z]{2}\d\d$", a) for a in load("allergens").col("atc"))
    assert all(re.match(r"^(NPU|NOR)\d{5}$", c) for c in load("lab_analyses").col("code"))
    assert all(re.match(r"^50\d\d$", k) for k in load("municipalities").col("kommunenr"))
    streets = load("streets")
    assert all(re.match(r"^\d{4}$", p) for p in streets.col("postnr"))
    assert set(streets.col("kommunenr")) == set(load("municipalities").col("kommunenr"))
    practices = set(load("gp_practices").col("kommunenr"))
    assert practices <= set(load("municipalities").col("kommunenr"))


def test_every_name_and_text_fits_windows_1252() -> None:
    for name in (
        "given_names",
        "family_names",
        "farm_name_parts",
        "streets",
        "note_templates",
        "note_fillers",
        "staff_roles",
        "municipal_services",
        "municipal_observations",
    ):
        for row in load(name).rows:
            for value in row.values():
                value.encode("cp1252")


def test_trondelag_municipalities_after_2024() -> None:
    municipalities = dict(
        zip(load("municipalities").col("kommunenr"), load("municipalities").col("name"), strict=True)
    )
    expected = {
        "5001": "Trondheim",
        "5006": "Steinkjer",
        "5007": "Namsos",
        "5014": "Frøya",
        "5021": "Oppdal",
        "5025": "Røros",
        "5027": "Midtre Gauldal",
        "5028": "Melhus",
        "5029": "Skaun",
        "5031": "Malvik",
        "5032": "Selbu",
        "5035": "Stjørdal",
        "5037": "Levanger",
        "5038": "Verdal",
        "5056": "Hitra",
        "5059": "Orkland",
    }
    assert expected.items() <= municipalities.items()


def test_planted_unknown_codes_are_really_unknown() -> None:
    from synthetic import epr, gp_journal, gp_messages, hl7_archive, municipal

    targets = [
        t
        for module in (epr, hl7_archive, municipal, gp_journal, gp_messages)
        for t in module.TARGETS
        if t.kind == "unknown_code"
    ]
    known = {
        "ICD10": {c.replace(".", "") for c in read.icd10_codes()},
        "DG1-3": set(read.icd10_codes()),
        "ATC": set(load("drugs").col("atc")) | set(load("allergens").col("atc")),
        "Drug": set(load("drugs").col("atc")),
        "Diagnosis": set(read.icpc2_codes()),
        "tjenestekode": set(load("municipal_services").col("code")),
        "variabel": set(load("municipal_observations").col("code")),
        "Investigation": set(load("lab_analyses").col("code")),
    }
    for target in targets:
        codes = next(v for k, v in known.items() if k in target.location)
        for value in target.values:
            assert value.replace(".", "") not in codes, (target.location, value)
