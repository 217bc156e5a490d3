"""HL7 v2 archives: the public samples, separators, framing, escapes, merges and broken messages."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.attachments import AttachmentStore
from connectors.hl7v2 import Hl7Source, split_messages
from synthetic.hl7_archive import escape
from tests.connectors.helpers import collect

ADT = (
    "MSH|^~\\&|DIPS|STOLAV|EPJ|HN|20120301101500||ADT^A01^ADT_A01|C1|P|2.5|||||NO|UNICODE UTF-8\r"
    "PID|1||4711^^^STOLAV^PI~15108695088^^^NOR^NNNOR||Løvås^Kari^Anne||19861015|F|||Øvre gate 1^^Trondheim^^7010^NOR\r"
    "PV1|1|I|Hjerte\\T\\lunge^^^STOLAV||||||||||||||||V99|||||||||||||||||||||||||20120301101500|20120305120000\r"
)


def source(path: Path, **options: object) -> Hl7Source:
    return Hl7Source(name="hl7", location=str(path), mapping="hl7v2.yaml", pattern="*", **options)


def test_every_public_sample_extracts_patient_codes_and_texts(shared_data: Path) -> None:
    frames, quarantine = collect(source(shared_data / "hl7v2"))
    assert quarantine["rule"].tolist() == ["hl7.attachment"], "the ORU's OBX of type ED carries no data"
    assert "OBX-5 carries no data" in quarantine["reason"].iloc[0]
    persons = frames["person"]
    assert len(persons) == 4, "one patient per message"
    assert set(persons["family_name"]) == {"EVERYMAN", "Finn"}
    assert set(persons["source_record_id"]) == {"PATID1234", "14"}
    adam = persons[persons["family_name"] == "EVERYMAN"].iloc[0]
    assert (adam["given_name"], adam["sex"], adam["birth_date"]) == ("ADAM", "M", "198808181126+0215")
    assert "123456789^SS^USSSA" in adam["identifiers"], "every PID-3 repetition is kept"
    assert adam["street"] == "1000 Hospital Lane" and adam["postcode"] == "99999"
    assert set(persons["hl7_version"]) == {"2.8", "2.5.1"}
    assert set(persons["event_type"]) == {"A01", "A04", "A08", "R01"}
    assert "GT1" in adam["unhandled_segments"], "segments nobody maps are listed, not hidden"
    observations = frames["observation"]
    heart = observations[observations["code"] == "8867-4"].iloc[0]
    assert (heart["display"], heart["coding_system"], heart["unit"]) == ("heartrate", "LN", "beats/min")
    assert (heart["value"], heart["reference_range"]) == ("60~120", "70-80"), "repetitions kept"
    salmonella = observations[observations["value_type"] == "CWE"].iloc[0]
    assert salmonella["value"] == "27268008" and salmonella["observed_at"] == "20120301"
    assert salmonella["note"] == "Submission of serum\nNo Antibodies Detected", "NTE lines follow their OBX"
    encounter = frames["encounter"].iloc[0]
    assert encounter["location"] == "HUH AE OMU HOMERTON UNIVER"
    assert frames["condition"]["code"].tolist()[0] == "422504002"
    assert frames["allergy"]["display"].tolist()[0] == "PENICILLIN"


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
@pytest.mark.parametrize("framed", [False, True])
def test_segment_separators_and_mllp_framing_give_the_same_records(
    tmp_path: Path, separator: str, framed: bool
) -> None:
    message = ADT.replace("\r", separator)
    text = "".join(f"\x0b{m}\x1c\r" if framed else m for m in (message, message.replace("C1", "C2")))
    (tmp_path / "archive.hl7").write_bytes(text.encode("utf-8"))
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty
    persons = frames["person"]
    assert persons["message_control_id"].tolist() == ["C1", "C2"]
    row = persons.iloc[0]
    assert (row["source_record_id"], row["national_id"], row["family_name"], row["middle_name"]) == (
        "4711",
        "15108695088",
        "Løvås",
        "Anne",
    )
    assert row["street"] == "Øvre gate 1" and row["postcode"] == "7010"
    encounter = frames["encounter"].iloc[0]
    assert encounter["location"] == "Hjerte&lunge STOLAV", "the \\T\\ escape is resolved"
    assert encounter["admit_datetime"] == "20120301101500"
    assert persons["source_locator"].str.contains(r"archive\.hl7#\d@\d+").all(), "file + byte offset"


def test_mllp_frames_without_line_breaks_between_messages(tmp_path: Path) -> None:
    text = f"\x0b{ADT}\x1c\x0b{ADT.replace('C1', 'C2')}\x1c"
    (tmp_path / "mllp.hl7").write_bytes(text.encode())
    frames, _ = collect(source(tmp_path))
    assert frames["person"]["message_control_id"].tolist() == ["C1", "C2"]


def test_small_read_blocks_split_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.hl7").write_bytes((ADT * 20).encode("utf-8"))
    frames, _ = collect(source(tmp_path, read_block=7))
    assert len(frames["person"]) == 20 and (frames["person"]["family_name"] == "Løvås").all()


def test_batch_envelope_segments_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "b.hl7").write_bytes(("FHS|^~\\&|X\rBHS|^~\\&|X\r" + ADT + "BTS|1\rFTS|1\r").encode())
    frames, quarantine = collect(source(tmp_path))
    assert len(frames["person"]) == 1 and quarantine.empty


def test_latin1_declared_in_msh18_is_decoded(tmp_path: Path) -> None:
    message = ADT.replace("UNICODE UTF-8", "8859/1").replace("|2.5|", "|2.3|")
    (tmp_path / "c.hl7").write_bytes(message.encode("latin-1"))
    frames, _ = collect(source(tmp_path))
    assert frames["person"]["family_name"].iloc[0] == "Løvås"
    assert frames["person"]["hl7_version"].iloc[0] == "2.3"


def test_empty_msh18_falls_back_to_the_declared_source_encoding(tmp_path: Path) -> None:
    message = ADT.replace("|||||NO|UNICODE UTF-8", "")
    (tmp_path / "d.hl7").write_bytes(message.encode("cp1252"))
    frames, _ = collect(source(tmp_path, encoding="cp1252"))
    assert frames["person"]["family_name"].iloc[0] == "Løvås"


def test_non_default_encoding_characters_from_msh2(tmp_path: Path) -> None:
    message = (
        "MSH$%*#@$DIPS$STOLAV$EPJ$HN$20120301101500$$ADT%A01$C9$P$2.4\r"
        "PID$1$$4711%%%STOLAV%PI*15108695088%%%NOR%NNNOR$$Berg#T#Dal%Per$$19500101$M\r"
    )
    (tmp_path / "e.hl7").write_bytes(message.encode())
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty
    person = frames["person"].iloc[0]
    assert (person["source_record_id"], person["national_id"]) == ("4711", "15108695088")
    assert person["family_name"] == "Berg@Dal", "#T# is the subcomponent separator @ when # escapes"


def test_raw_line_breaks_inside_a_text_field_stay_in_the_value(tmp_path: Path) -> None:
    oru = (
        ADT.replace("ADT^A01^ADT_A01", "ORU^R01")
        + "OBR|1||9\rOBX|1|TX|NOTE^Notat^L||første linje\nandre linje||\r"
    )
    (tmp_path / "f.hl7").write_bytes(oru.encode())
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty
    assert frames["observation"]["value"].tolist() == ["første linje\randre linje"]


def test_a40_merge_reaches_identity_as_evidence(tmp_path: Path) -> None:
    a40 = (
        "MSH|^~\\&|DIPS|STOLAV|EPJ|HN|20130101120000||ADT^A40^ADT_A39|M1|P|2.5\r"
        "EVN|A40|20130101115900\r"
        "PID|1||4711^^^STOLAV^PI~15108695088^^^NOR^NNNOR||Løvås^Kari\r"
        "MRG|4799^^^STOLAV^PI~15108695088^^^NOR^NNNOR||||||Lovas^Kari\r"
        "PID|1||5000^^^STOLAV^PI||Berg^Per\r"
        "MRG|5001^^^STOLAV^PI\r"
    )
    (tmp_path / "merge.hl7").write_bytes(a40.encode())
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty
    merges = frames["person_merge"]
    assert merges[["patient_id", "prior_patient_id"]].values.tolist() == [["4711", "4799"], ["5000", "5001"]]
    first = merges.iloc[0]
    assert (first["event_type"], first["merge_datetime"], first["prior_family_name"]) == (
        "A40",
        "20130101115900",
        "Lovas",
    )
    assert first["prior_national_id"] == "15108695088"
    assert frames["person"]["source_record_id"].tolist() == ["4711", "5000"], "each PID group is a person"


def test_encapsulated_data_goes_to_the_attachment_store(tmp_path: Path) -> None:
    pdf = b"%PDF-1.4 tiny test document\n"
    oru = (
        ADT.replace("ADT^A01^ADT_A01", "MDM^T02")
        + f"OBX|1|ED|DOC^Utskrivningsbrev^L||HIS^application^pdf^Base64^{base64.b64encode(pdf).decode()}\r"
    )
    (tmp_path / "mdm.hl7").write_bytes(oru.encode())
    store = AttachmentStore(tmp_path / "store")
    frames, quarantine = collect(source(tmp_path), store)
    assert quarantine.empty
    document = frames["document"].iloc[0]
    digest = hashlib.sha256(pdf).hexdigest()
    assert (document["attachment_sha256"], document["attachment_size"]) == (digest, str(len(pdf)))
    assert document["content_type"] == "application/pdf" and document["title"] == "Utskrivningsbrev"
    assert store.read(digest) == pdf


@pytest.mark.parametrize(
    ("text", "rule", "words"),
    [
        ("PID|1||4711^^^STOLAV^PI\r", "hl7.no_msh", "does not start with an MSH"),
        ("MSH|^~\\&|A|B|C|D|2012||ORU^R01|X|P|2.5\rOBX|1|NM|x||1\r", "hl7.no_pid", "no PID segment"),
        ("MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5\rPID|1||123^^^X^SS\r", "hl7.no_patient_id", "PID-3"),
        (
            "MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5|||||NO|UNICODE UTF-8\rPID|1||\xff\xfe^^^X^PI\r",
            "hl7.encoding",
            "is not utf-8",
        ),
        (
            "MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5|||||NO|ISO IR87\rPID|1||1^^^X^PI\r",
            "hl7.charset",
            "ISO IR87",
        ),
        ("MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5\rPID|1||1^^^X^PI||Berg\\Zx\\^Per\r", "hl7.escape", "PID-5"),
        (
            "MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5\rPID|1||1^^^X^PI||Berg\\T^Per\r",
            "hl7.escape",
            "unterminated",
        ),
        ("MSH|^~\\&|A|B|C|D|2012||ADT^A01|X|P|2.5\rPID|1||1^^^X^PI||Berg\\XZZ\\^Per\r", "hl7.escape", "XZZ"),
    ],
)
def test_broken_messages_are_quarantined_with_a_reason(
    tmp_path: Path, text: str, rule: str, words: str
) -> None:
    (tmp_path / "bad.hl7").write_bytes(text.encode("latin-1") + ADT.encode())
    frames, quarantine = collect(source(tmp_path))
    assert quarantine["rule"].tolist() == [rule]
    reason = quarantine["reason"].iloc[0]
    assert "bad.hl7 message 1 (byte 0)" in reason and words in reason
    assert len(frames["person"]) == 1, "the good message after the bad one still loads"


def test_highlighting_escapes_are_dropped_not_turned_into_underscores(tmp_path: Path) -> None:
    text = ADT.replace("Løvås^Kari", "\\H\\Løvås\\N\\^Kari")
    (tmp_path / "h.hl7").write_bytes(text.encode())
    frames, _ = collect(source(tmp_path))
    assert frames["person"]["family_name"].iloc[0] == "Løvås"


def test_structured_numeric_values_keep_comparator_and_ratio(tmp_path: Path) -> None:
    oru = (
        ADT.replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01")
        + "OBR|1|1|9\rOBX|1|SN|NPU19748^P-CRP^NLK||<^5|mg/L\rOBX|2|SN|X^Titer^L||^1^:^128\r"
    )
    (tmp_path / "d.hl7").write_bytes(oru.encode())
    frames, _ = collect(source(tmp_path))
    assert frames["observation"]["value"].tolist() == ["<5", "1:128"]
    assert frames["observation"]["order_id"].tolist() == ["9", "9"]


def test_untyped_pid3_is_read_as_configured(tmp_path: Path) -> None:
    (tmp_path / "u.hl7").write_bytes(ADT.replace("4711^^^STOLAV^PI", "4711^^^STOLAV").encode())
    _, quarantine = collect(source(tmp_path))
    assert quarantine["rule"].tolist() == ["hl7.no_patient_id"]
    frames, _ = collect(source(tmp_path, untyped_id_as="local"))
    assert frames["person"]["source_record_id"].tolist() == ["4711"]


def test_text_before_the_first_msh_is_quarantined_in_bounded_pieces(tmp_path: Path) -> None:
    junk = b"garbage line\r" * 200_000
    (tmp_path / "j.hl7").write_bytes(junk + ADT.encode())
    frames, quarantine = collect(source(tmp_path))
    assert len(frames["person"]) == 1
    assert len(quarantine) == 3, "2.6 MB of junk in 1 MB pieces"
    assert set(quarantine["rule"]) == {"hl7.no_msh"}


SEGMENT_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x0b\x1c"), min_size=0, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(SEGMENT_TEXT, min_size=1, max_size=4),
    separator=st.sampled_from(["\r", "\n", "\r\n"]),
    framed=st.booleans(),
    block=st.integers(min_value=1, max_value=64),
)
def test_property_escaped_text_survives_any_framing_and_block_size(
    values: list[str], separator: str, framed: bool, block: int
) -> None:
    """Whatever the text, escaped and framed any way, the parser gives it back unchanged."""
    from connectors.hl7v2 import read_message

    notes = "".join(f"OBX|{i}|TX|N^Note^L||{escape(v)}\r" for i, v in enumerate(values, 1))
    message = (ADT.replace("ADT^A01^ADT_A01", "ORU^R01") + "OBR|1||9\r" + notes).replace("\r", separator)
    data = (f"\x0b{message}\x1c\r" if framed else message).encode()
    raws = list(split_messages(io.BytesIO(data), block))
    assert len(raws) == 1
    items = read_message(raws[0], Path("p.hl7"), source(Path(".")), AttachmentStore(Path("/nonexistent")))
    got = [i.fields["value"] for i in items if getattr(i, "entity", None) == "observation"]
    assert got == [v.strip() for v in values]


@pytest.mark.parametrize("event", ["A04", "A08", "A28", "A31"])
def test_registration_and_update_events_stage_the_person(tmp_path: Path, event: str) -> None:
    message = ADT.replace("ADT^A01^ADT_A01", f"ADT^{event}^ADT_A05").split("PV1")[0] + "PV1|1|N\r"
    (tmp_path / "e.hl7").write_bytes(message.encode())
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty and set(frames) == {"person"}, "PV1|1|N is no stay"
    assert frames["person"]["event_type"].tolist() == [event]


def test_quarantine_reasons_never_carry_a_full_national_id(tmp_path: Path) -> None:
    (tmp_path / "p.hl7").write_bytes(
        ADT.replace("15108695088^^^NOR^NNNOR", "15108695088\\T^^^NOR^NNNOR").encode()
    )
    _, quarantine = collect(source(tmp_path))
    reason = quarantine["reason"].iloc[0]
    assert "15108695088" not in reason and "151086*****" in reason


HL7_VALUE = st.text(alphabet="ab~^&|\\FSTRE1 ", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(HL7_VALUE, min_size=1, max_size=6),
    msh_fields=st.lists(HL7_VALUE, max_size=4),
    separators=st.sampled_from(["|^~\\&", "#*@!%", "|^~\\"]),
    path=st.tuples(*(st.integers(min_value=1, max_value=4) for _ in range(4))),
)
def test_property_segment_values_read_as_python_hl7_reads_them(
    fields: list[str], msh_fields: list[str], separators: str, path: tuple[int, int, int, int]
) -> None:
    """The connector's own field splitting gives python-hl7's `extract_field` value ('' where it raises)."""
    import hl7
    from hl7.parser import create_parse_plan

    from connectors.hl7v2 import Segment

    field_separator, encoding = separators[0], separators[1:]
    swap = str.maketrans("|^~\\&", separators.ljust(5, "&"))
    # MSH-3 is never empty here: python-hl7 drops an MSH's fields when only empty ones follow MSH-2.
    msh = field_separator.join(["MSH", encoding, "DIPS", *(v.translate(swap) for v in msh_fields)])
    pid = field_separator.join(["PID", *(v.translate(swap) for v in fields)])
    text = f"{msh}\r{pid}"
    plan = create_parse_plan(text)
    parsed = hl7.parse(text)
    field, rep, comp, sub = path
    for ours, theirs in zip((Segment(msh, plan), Segment(pid, plan)), parsed, strict=True):
        try:
            expected = str(theirs.extract_field(1, field, rep, comp, sub)).strip()
        except (IndexError, KeyError):
            expected = ""
        assert ours.get(field, rep, comp, sub) == expected
        value = theirs(field) if field < len(theirs) else None
        count = 0 if value is None else len(value) if value and isinstance(value[0], hl7.Repetition) else 1
        if ours.name != "MSH" or field > 2:
            assert ours.repetitions(field) == count
