"""Identity linking: what must merge, what must never merge automatically.

Each case is a handful of records added to a small synthetic region (the background),
because the engine estimates its m and u probabilities and its prior from the data:
two records alone say nothing about how rare a name or a birth date is.
"""

from __future__ import annotations

import pandas as pd
import pytest

from identity.golden import golden_records, identifiers
from identity.match import Thresholds, match, pair_id, prepare
from identity.person_ids import assign_person_ids
from synthetic.person_records import person_records

THRESHOLDS = Thresholds(auto_match=0.999, review=0.5)
COLUMNS = [
    "source_system",
    "source_person_id",
    "namespace",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "national_id",
    "deceased_date",
    "confidential_address",
    "address_line",
    "source_timestamp",
]


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    records, _ = person_records(250, seed=11, error_rate=0.05)
    return records


def persons(*rows: tuple) -> pd.DataFrame:
    frame = pd.DataFrame([r + (None,) * (len(COLUMNS) - len(r)) for r in rows], columns=COLUMNS)
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    frame["deceased_date"] = pd.to_datetime(frame["deceased_date"])
    return frame


def clusters(
    background: pd.DataFrame, frame: pd.DataFrame, decisions: pd.DataFrame | None = None
) -> tuple[list[int], pd.DataFrame]:
    """Cluster labels of the case records, and the review pairs among them."""
    everything = pd.concat([background, frame], ignore_index=True)
    result = match(prepare(everything), THRESHOLDS, decisions)
    labels = result.records["cluster"].tolist()[len(background) :]
    cases = set(zip(frame["source_system"], frame["source_person_id"], strict=True))
    review = result.review[
        [
            (a, b) in cases and (c, d) in cases
            for a, b, c, d in result.review[
                [
                    "left_source_system",
                    "left_source_person_id",
                    "right_source_system",
                    "right_source_person_id",
                ]
            ].itertuples(index=False)
        ]
    ].reset_index(drop=True)
    return labels, review


def test_same_valid_id_links_across_sources_despite_name_spelling(background: pd.DataFrame) -> None:
    labels, review = clusters(
        background,
        persons(
            ("epr", "1", "epr", "Kari", "Løvås", "1986-10-15", "female", "15108695088"),
            ("gp", "A", "gp", "Kari", "Lovaas", "1986-10-15", "female", "15108695088"),
        ),
    )
    assert labels[0] == labels[1] and review.empty


def test_typo_in_name_without_id_links_on_birth_date_and_name(background: pd.DataFrame) -> None:
    labels, _ = clusters(
        background,
        persons(
            (
                "epr",
                "1",
                "epr",
                "Kari",
                "Sæther",
                "1986-10-15",
                "female",
                "15108695088",
                None,
                False,
                "Lia 2",
            ),
            ("muni", "9", "muni", "Kari", "Saether", "1986-10-15", "female", None, None, False, "Lia 2"),
        ),
    )
    assert labels[0] == labels[1]


def test_twins_with_different_valid_ids_never_merge(background: pd.DataFrame) -> None:
    labels, _ = clusters(
        background,
        persons(
            ("gp", "A", "gp", "Ola", "Hansen", "1986-10-15", "male", "15108695088"),
            ("gp", "B", "gp", "Ola", "Hansen", "1986-10-15", "male", "15108695169"),
        ),
    )
    assert labels[0] != labels[1]


def test_twin_registered_without_id_does_not_join_the_other_twin(background: pd.DataFrame) -> None:
    """Same surname, birth date and address; only the given name tells siblings apart."""
    labels, _ = clusters(
        background,
        persons(
            (
                "gp",
                "A",
                "gp",
                "Emma",
                "Bjørnstad",
                "2001-03-04",
                "female",
                "04030112345",
                None,
                False,
                "Lia 2",
            ),
            ("muni", "7", "muni", "Sofie", "Bjørnstad", "2001-03-04", "female", None, None, False, "Lia 2"),
        ),
    )
    assert labels[0] != labels[1]


def test_chain_through_an_id_less_record_cannot_join_two_valid_ids(background: pd.DataFrame) -> None:
    labels, review = clusters(
        background,
        persons(
            ("gp", "A", "gp", "Ola", "Hansen", "1986-10-15", "male", "15108695088"),
            ("muni", "x", "muni", "Ola", "Hansen", "1986-10-15", "male", None),
            ("epr", "B", "epr", "Ola", "Hansen", "1986-10-15", "male", "15108695169"),
        ),
    )
    assert labels[0] != labels[2], "the ID-less record must not bridge two fødselsnumre"
    assert not review.empty


def test_d_number_and_later_fnr_may_link(background: pd.DataFrame) -> None:
    labels, _ = clusters(
        background,
        persons(
            (
                "hl7",
                "5",
                "hospital",
                "Amira",
                "Haddad",
                "1972-09-13",
                "female",
                "53097248016",
                None,
                False,
                "Lia 2",
            ),
            ("gp", "A", "gp", "Amira", "Haddad", "1972-09-13", "female", "13097248294", None, False, "Lia 2"),
        ),
    )
    assert labels[0] == labels[1]


MOHAMMED_D = "54038510145"
"""A D-number and a fødselsnummer of the same birth date (14.03.1985) and sex (male)."""
MOHAMMED_FNR = "14038520114"


HOSPITAL_MOHAMMED = (
    "hl7",
    "5",
    "hospital",
    "Mohammed",
    "Ali",
    "1985-03-14",
    "male",
    MOHAMMED_D,
    None,
    False,
    "Lia 2",
)
"""The hospital's record of Mohammed Ali with his D-number, at Lia 2."""


def test_d_number_and_fnr_of_two_people_with_a_common_name_and_birth_date_go_to_review(
    background: pd.DataFrame,
) -> None:
    """Name, birth date and sex agree for two immigrants named Mohammed Ali born the same
    day; nothing shows the D-number was replaced by this fødselsnummer."""
    labels, review = clusters(
        background,
        persons(
            HOSPITAL_MOHAMMED,
            (
                "gp",
                "A",
                "gp",
                "Mohammed",
                "Ali",
                "1985-03-14",
                "male",
                MOHAMMED_FNR,
                None,
                False,
                "Storgata 9",
            ),
            ("lab", "m1", "lab", "Mohammed", "Ali", None, None, MOHAMMED_D),
        ),
    )
    assert labels[0] == labels[2] != labels[1]
    assert len(review) >= 1 and review["reason"].str.contains("national_id").all()


def test_an_untied_change_of_number_below_auto_match_still_goes_to_review(background: pd.DataFrame) -> None:
    """A lab message spelling the name otherwise: too uncertain to link even with one
    number, yet a steward should see it (a change of number is no hard contradiction)."""
    labels, review = clusters(
        background,
        persons(
            ("lab", "m1", "lab", "Muhamed", "Aly", None, None, MOHAMMED_D),
            ("gp", "A", "gp", "Mohammed", "Ali", "1985-03-14", "male", MOHAMMED_FNR, None, False, "Lia 2"),
        ),
    )
    assert labels[0] != labels[1]
    assert (
        len(review) == 1 and THRESHOLDS.review <= review.loc[0, "match_probability"] < THRESHOLDS.auto_match
    )


@pytest.mark.parametrize(
    ("fnr", "address", "other_address"),
    [
        ("17019920143", "Heimdalsveien 18", "Heimdalsveien 18"),  # born 17.01.1999: a digit off
        ("17119920191", "Heimdalsveien 14", "Heimdalsveien 18 B"),  # the same day, a neighbour
    ],
)
def test_a_neighbour_or_a_birth_date_a_digit_off_ties_no_change_of_number(
    background: pd.DataFrame, fnr: str, address: str, other_address: str
) -> None:
    """Two Erik Andersons: a D-number of 17.11.1999 and a fødselsnummer in one street."""
    labels, _ = clusters(
        background,
        persons(
            ("gp", "1", "gp", "Erik", "Anderson", None, None, "57119910112", None, False, address),
            ("gp", "2", "gp", "Erik", "Anderson", None, None, fnr, None, False, other_address),
        ),
    )
    assert labels[0] != labels[1]


def test_d_number_replaced_by_fnr_ties_every_record_of_both_numbers(background: pd.DataFrame) -> None:
    """The hospital record (D-number) and the GP record (fødselsnummer) share an address:
    the lab message that carries only the D-number joins the person too."""
    labels, review = clusters(
        background,
        persons(
            HOSPITAL_MOHAMMED,
            ("gp", "A", "gp", "Mohammed", "Ali", "1985-03-14", "male", MOHAMMED_FNR, None, False, "Lia 2"),
            ("lab", "m1", "lab", "Mohammed", "Ali", None, None, MOHAMMED_D),
        ),
    )
    assert labels[0] == labels[1] == labels[2] and review.empty


def test_a_record_without_id_cannot_chain_a_d_number_to_another_persons_fnr(
    background: pd.DataFrame,
) -> None:
    labels, review = clusters(
        background,
        persons(
            ("lab", "m1", "lab", "Mohammed", "Ali", None, None, MOHAMMED_D),
            ("muni", "x", "muni", "Mohammed", "Ali", "1985-03-14", "male", None, None, False, "Lia 2"),
            ("gp", "A", "gp", "Mohammed", "Ali", "1985-03-14", "male", MOHAMMED_FNR, None, False, "Lia 2"),
        ),
    )
    assert labels[0] != labels[2], "the ID-less record must not tie the D-number to the fødselsnummer"
    assert not review.empty


def test_a_steward_accept_ties_a_d_number_to_a_fnr(background: pd.DataFrame) -> None:
    frame = persons(
        ("hl7", "5", "hospital", "Mohammed", "Ali", "1985-03-14", "male", MOHAMMED_D),
        ("gp", "A", "gp", "Mohammed", "Ali", "1985-03-14", "male", MOHAMMED_FNR),
        ("lab", "m1", "lab", "Mohammed", "Ali", None, None, MOHAMMED_D),
    )
    accept = pd.DataFrame(
        [
            {
                "left_source_system": "hl7",
                "left_source_person_id": "5",
                "right_source_system": "gp",
                "right_source_person_id": "A",
                "decision": "accept",
            }
        ]
    )
    labels, review = clusters(background, frame, accept)
    assert labels[0] == labels[1] == labels[2] and review.empty


def test_a_name_only_record_with_a_common_name_goes_to_review_with_each_bearer(
    background: pd.DataFrame,
) -> None:
    """Four men named Ola Nordmann: a lab message with only that name cannot be linked,
    but a steward is asked about each of them (more than the three best pairs)."""
    bearers = [
        ("muni", str(year), "muni", "Ola", "Nordmann", f"{year}-06-30", "male", None, None, False, f"Lia {i}")
        for i, year in enumerate((1950, 1961, 1971, 1983))
    ]
    labels, review = clusters(background, persons(*bearers, ("lab", "m1", "lab", "Ola", "Nordmann")))
    assert len(set(labels)) == 5
    asked = review[(review["left_source_person_id"] == "m1") | (review["right_source_person_id"] == "m1")]
    assert set(asked["left_source_person_id"]) | set(asked["right_source_person_id"]) == {
        "m1",
        "1950",
        "1961",
        "1971",
        "1983",
    }


def test_same_local_id_in_one_namespace_links_across_sources(background: pd.DataFrame) -> None:
    labels, _ = clusters(
        background,
        persons(
            ("hospital-epr", "17", "hospital", "Per", "Berg", "1950-01-01", "male"),
            ("hospital-hl7", "17", "hospital", "Peder", "Bergh", None, "male"),
        ),
    )
    assert labels[0] == labels[1]


def test_uncertain_pair_goes_to_review_and_a_steward_decides(background: pd.DataFrame) -> None:
    frame = persons(
        ("gp", "A", "gp", "Kristine", "Haugen", "1960-05-05", "female", None, None, False, "Lia 2"),
        ("muni", "7", "muni", "Kristin", "Haugland", "1960-05-05", "female", None, None, False, "Storgata 9"),
    )
    labels, review = clusters(background, frame)
    assert labels[0] != labels[1] and len(review) == 1
    assert review.loc[0, "pair_id"] == pair_id(("gp", "A"), ("muni", "7"))
    decision = pd.DataFrame(
        [
            {
                "left_source_system": "muni",
                "left_source_person_id": "7",
                "right_source_system": "gp",
                "right_source_person_id": "A",
                "decision": "accept",
            }
        ]
    )
    labels, review = clusters(background, frame, decision)
    assert labels[0] == labels[1] and review.empty
    labels, review = clusters(background, frame, decision.assign(decision="reject"))
    assert labels[0] != labels[1] and review.empty


def test_journal_person_ids_are_stable_and_new_people_count_on() -> None:
    records = pd.DataFrame(
        {"source_system": ["a", "b", "c"], "source_person_id": ["1", "1", "1"], "cluster": [0, 0, 2]}
    )
    existing = pd.DataFrame({"source_system": ["b"], "source_person_id": ["1"], "journal_person_id": [41]})
    assert assign_person_ids(records, existing).tolist() == [41, 41, 42]
    assert assign_person_ids(records, existing.iloc[0:0]).tolist() == [1, 1, 2]
    # person 57 was merged into another by a later wave: no link claims it, its id stays retired
    assert assign_person_ids(records, existing, largest=57).tolist() == [41, 41, 58]


def test_golden_record_keeps_death_and_confidentiality_from_any_source() -> None:
    frame = prepare(
        persons(
            (
                "epr",
                "1",
                "epr",
                "Kari",
                "Berg",
                "1930-01-01",
                "female",
                "01013012345",
                None,
                False,
                "Storgata 1",
                "2020",
            ),
            (
                "muni",
                "2",
                "muni",
                "Kari",
                "Berg",
                "1930-01-01",
                "female",
                None,
                "2024-03-01",
                True,
                "Lia 2",
                "2024",
            ),
        )
    )
    frame["journal_person_id"] = 7
    golden = golden_records(frame, trust=["epr", "muni"]).iloc[0]
    assert golden["deceased_date"] == pd.Timestamp("2024-03-01")
    assert bool(golden["confidential_address"]) is True
    assert golden["address_line"] == "Storgata 1", "the trusted source wins the address"
    ids = identifiers(frame)
    assert set(ids["kind"]) == {"invalid", "local"}


def test_a_merge_from_the_source_links_records_nothing_else_would(background: pd.DataFrame) -> None:
    """The hook for HL7 ADT^A40 merge evidence: a forced link of kind `merge`."""
    frame = persons(
        ("hl7", "1000001", "hospital", "Per", "Berg", "1950-01-01", "male"),
        ("hl7", "1000002", "hospital", "Peder", "Olsen", "1950-01-01", "male"),
    )
    merges = pd.DataFrame(
        [
            {
                "left_source_system": "hl7",
                "left_source_person_id": "1000002",
                "right_source_system": "hl7",
                "right_source_person_id": "1000001",
            }
        ]
    )
    everything = pd.concat([background, frame], ignore_index=True)
    result = match(prepare(everything), THRESHOLDS, merges=merges)
    cases = result.records.iloc[len(background) :]
    assert cases["cluster"].nunique() == 1 and set(cases["link_kind"]) == {"merge"}
    assert match(prepare(everything), THRESHOLDS).records.iloc[len(background) :]["cluster"].nunique() == 2

    # a source's merge of two different valid fødselsnumre is not past the rule: review
    numbered = frame.assign(national_id=["15108695088", "26111593816"])
    everything = pd.concat([background, numbered], ignore_index=True)
    result = match(prepare(everything), THRESHOLDS, merges=merges)
    assert result.records.iloc[len(background) :]["cluster"].nunique() == 2
    waiting = pair_id(("hl7", "1000002"), ("hl7", "1000001"))
    assert waiting in set(result.review["pair_id"]), "the merge waits for a steward"
