"""KITH XML: every public sample, other versions, archives, the GP export, and unsafe XML."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from connectors.attachments import AttachmentStore
from connectors.kith_messages import text_of
from connectors.kith_xml import GP_EXPORT_NS, KithSource
from tests.conftest import CASES
from tests.connectors.helpers import collect

VERSIONS = CASES / "connectors" / "kith"
ICD10, ICPC2, NLK = "2.16.578.1.12.4.1.1.7110", "2.16.578.1.12.4.1.1.7170", "2.16.578.1.12.4.1.1.7280"


def source(path: Path) -> KithSource:
    return KithSource(name="kith", location=str(path), mapping="kith-messages.yaml")


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return collect(source(shared_data / "kith"))


def by_file(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame[frame["source_locator"].str.contains(name, regex=False)]


def test_every_public_sample_yields_its_patient_with_standard_and_version(
    shared_data: Path, samples: tuple[dict[str, pd.DataFrame], pd.DataFrame]
) -> None:
    frames, quarantine = samples
    files = sorted((shared_data / "kith").rglob("*.xml"))
    assert quarantine.empty, quarantine["reason"].tolist()
    persons = frames["person"]
    assert len(persons) == len(files), "one patient per message file"
    assert persons["national_id"].notna().all() and persons["family_name"].notna().all()
    assert (persons["national_id_type"] == "FNR").all()
    assert {"13116900216", "15076500565", "12057900499", "21016400952"} <= set(persons["national_id"])
    versions = set(zip(persons["standard"], persons["standard_version"], strict=True))
    assert versions == {
        ("dialogmelding", "1.1"),
        ("epikrise", "1.2"),
        ("henvisning", "1.1"),
        ("svarrapport", "1.4"),
        ("plo", "1.6"),
    }
    for path in files:
        row = by_file(persons, str(path))
        assert len(row) == 1, path.name


def test_every_public_sample_keeps_its_texts(
    shared_data: Path, samples: tuple[dict[str, pd.DataFrame], pd.DataFrame]
) -> None:
    frames, _ = samples
    documents = frames["document"]
    for path in sorted((shared_data / "kith").rglob("*.xml")):
        if "Svar_" in path.name:
            continue  # lab results are observations; only report texts become documents
        assert len(by_file(documents, str(path))) >= 1, path.name
    for name in ("Svar_radiologi_v1-4_Ny.xml", "Svar_radiologi_v1-4_Endring.xml"):
        assert len(by_file(documents, name)) == 1, name
    cancelled = by_file(documents, "Svar_radiologi_v1-4_Kansellering.xml")
    assert cancelled.empty, "a cancellation without report text has no document"


def test_lab_results_keep_code_system_value_unit_and_range(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    results = by_file(frames["observation"], "Svar_biokjemi_v1-4_Ny.xml").set_index("source_record_id")
    dimer = results.loc[
        "55b6344fc-a61d-4a67-95fe-7276613785ab/118891126"
    ]  # the lab report id scopes the item
    assert (dimer["code"], dimer["code_system_oid"], dimer["display"]) == ("NPU19767", NLK, "P-D-dimer")
    assert (dimer["value"], dimer["unit"], dimer["reference_range"]) == ("0.4", "mg/L", "< 0,5")
    assert dimer["collected_at"] == "2017-09-20T07:57:00"
    assert results.loc["55b6344fc-a61d-4a67-95fe-7276613785ab/118891125", "interpretation"] == "1"


def test_corrections_repeat_the_result_keys_so_the_latest_version_wins(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    new = by_file(frames["observation"], "Svar_biokjemi_v1-4_Ny.xml")
    changed = by_file(frames["observation"], "Svar_biokjemi_v1-4_Endring.xml")
    assert set(changed["source_record_id"]) == set(new["source_record_id"])
    assert (changed["source_timestamp"].iloc[0]) > new["source_timestamp"].iloc[0]


def test_microbiology_keeps_nested_results_and_coded_susceptibility(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    results = by_file(frames["observation"], "Svar_mikrobiologi_dyrkning_v1-4_Ny.xml")
    growth = results[results["source_record_id"] == "cf548a1e-2406-47db-96cd-ea21e03fb557/1"].iloc[0]
    assert (growth["value"], growth["value_kind"]) == ("Escherichia coli", "text")
    amount = results[results["parent_result_id"] == growth["source_record_id"]].iloc[0]
    assert (amount["display"], amount["value"]) == ("Mengde", ">100.000 pr.ml.")
    assert amount["collected_at"] == growth["collected_at"], "a sub-result inherits its sample's time"
    resistance = results[results["value_kind"] == "coded"]
    assert {("NPU54371", "R", "Resistent"), ("NPU54403", "S", "Sensitiv")} <= set(
        zip(resistance["code"], resistance["value"], resistance["value_display"], strict=True)
    )


def test_radiology_report_text_is_a_document_and_a_narrative_result(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    documents = by_file(frames["document"], "Svar_radiologi_v1-4_Ny.xml")
    text = documents[documents["source_record_id"].str.endswith("/text")]["content"].iloc[0]
    assert text.startswith("Gruppe\nR: Svært forstørret lever")
    assert "<div" not in text and "\n\nLeveren ses" in text, "XHTML paragraphs become lines"
    results = by_file(frames["observation"], "Svar_radiologi_v1-4_Ny.xml")
    assert "narrative" in set(results["value_kind"])
    assert {"SJJ0AK", "SJM0AK"} <= set(results["code"]), "NCRP codes of the examinations"


def test_epikrise_diagnoses_stay_medications_and_text(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    name = "epikrise_v1.2_m.xml"
    conditions = by_file(frames["condition"], name).astype(object)
    conditions = conditions.where(conditions.notna(), None)
    rows = set(
        zip(conditions["code"], conditions["code_system_oid"], conditions["diagnosis_type"], strict=True)
    )
    assert {("I330", ICD10, "H"), ("E119", ICD10, "B"), ("I252", ICD10, "B"), ("T90", ICPC2, None)} <= rows
    star = conditions[conditions["code"] == "I330"].iloc[0]
    assert star["modifier_code"] == "B951", "the ICD-10 star code is kept beside its dagger"
    assert conditions[conditions["code"] == "T90"]["context"].iloc[0] == "referral"
    stay = by_file(frames["encounter"], name).iloc[0]
    assert (stay["start"], stay["end"], stay["admission_category"]) == (
        "2017-04-27T09:00:10",
        "2017-05-04T09:20:12",
        "1",
    )
    assert set(conditions["encounter_id"]) == {stay["source_record_id"]}
    medications = by_file(frames["medication"], name)
    assert ("B01A C06", "Albyl_e", "160 mg") in set(
        zip(medications["code"], medications["display"], medications["strength"], strict=True)
    )
    documents = by_file(frames["document"], name)
    text = documents[documents["source_record_id"].str.endswith("/text")]["content"].iloc[0]
    assert "Årsak til innleggelse\nSlapp, subfebril" in text
    assert "CRP | 79 | 52 | 39" in text, "an XHTML table keeps its rows and cells"


def test_referral_results_and_free_text(samples: tuple[dict[str, pd.DataFrame], pd.DataFrame]) -> None:
    frames, _ = samples
    name = "henvisning strukturert_v1.1_n.xml"
    results = by_file(frames["observation"], name)
    assert ("NPU19719", "48.1", "IE/L", "2017-01-19") in set(
        zip(results["code"], results["value"], results["unit"], results["collected_at"], strict=True)
    )
    person = by_file(frames["person"], name).iloc[0]
    assert (person["street"], person["postcode"], person["city"]) == ("Snurreveien 23", "1111", "Landgod")
    text = by_file(frames["document"], name)
    assert text["content"].str.contains("Aktuell problemstilling\nTrenger bedre smertelindring").any()


def test_plo_messages_open_msghead_and_read_the_municipal_content(
    samples: tuple[dict[str, pd.DataFrame], pd.DataFrame],
) -> None:
    frames, _ = samples
    assert set(frames["person"]["msg_type"]) >= {"INNLEGGELSESRAPPORT", "LOG_DOD"}
    name = "Innleggelsesrapport_v1-6_Ny.xml"
    person = by_file(frames["person"], name).iloc[0]
    assert (person["birth_date"], person["sex"], person["national_id"]) == ("1969-11-13", "2", "13116900216")
    condition = by_file(frames["condition"], name).iloc[0]
    assert (condition["code"], condition["code_system_oid"], condition["diagnosis_type"]) == (
        "I50",
        ICD10,
        "H",
    )
    functions = by_file(frames["observation"], name)
    assert len(functions) == 17 and set(functions["code_system_oid"]) == {"2.16.578.1.12.4.1.1.9111"}
    medications = by_file(frames["medication"], name)
    assert ("Burinex", "2 tabl kl 08 og 13", "1 mg", "2017-09-01") in set(
        zip(
            medications["display"],
            medications["dosage"],
            medications["strength"],
            medications["start"],
            strict=True,
        )
    )
    text = by_file(frames["document"], name)["content"].iloc[0]
    assert "Årsak til innleggelse\nPasienten har fra kl 10" in text
    assert "Legemidler: Merknad\nPasienten har ikke svelgproblemer" in text


def test_base64_attachment_is_stored_and_referenced(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "kith" / "Dialogmelding" / "Dialogmelding-v1-1" / "Helsefaglig dialog.xml"
    store = AttachmentStore(tmp_path / "store")
    frames, quarantine = collect(source(path), store)
    assert quarantine.empty
    documents = frames["document"].set_index("source_record_id")
    attachment = documents.loc["de1a95c0-4d0c-11e7-9598-0800200c9a66/attachment/1"]
    assert (attachment["title"], attachment["content_type"]) == ("EKG-2017-06-12", "application/pdf")
    data = store.read(attachment["attachment_sha256"])
    assert data.startswith(b"%PDF") and str(len(data)) == attachment["attachment_size"]
    container = etree.parse(str(path)).getroot().find(".//{*}Base64Container")
    assert hashlib.sha256(base64.b64decode(container.text)).hexdigest() == attachment["attachment_sha256"]
    message = documents.loc["de1a95c0-4d0c-11e7-9598-0800200c9a66/message", "content"]
    assert attachment["attachment_sha256"] in message and len(message) < 10_000, (
        "no base64 in the message text"
    )
    text = documents.loc["de1a95c0-4d0c-11e7-9598-0800200c9a66/text", "content"]
    assert "EKG tatt i dag" in text and "258521" not in text, "the note's text, not its author's ids"


@pytest.mark.parametrize(
    ("name", "standard", "version", "national_id", "family", "code"),
    [
        ("epikrise_v1.1.xml", "epikrise", "1.1", "15108695088", "Ås", "J189"),
        ("henvisning_v1.0.xml", "henvisning", "1.0", "26111593816", "Ødegård", "R96"),
        ("henvisning_v2.0.xml", "henvisning", "2.0", "15108695088", "Berg", "L88"),
        ("svarrapport_v1.3.xml", "svarrapport", "1.3", "15108695088", "Ås", None),
        ("plo_v1.5.xml", "plo", "1.5", "26111593816", "Ødegård", "I50"),
        ("dialogmelding_v1.0.xml", "dialogmelding", "1.0", "15108695088", "Berg", None),
    ],
)
def test_other_versions_of_the_standards(
    name: str, standard: str, version: str, national_id: str, family: str, code: str | None
) -> None:
    frames, quarantine = collect(source(VERSIONS / name))
    assert quarantine.empty, quarantine["reason"].tolist()
    person = frames["person"].iloc[0]
    assert (person["standard"], person["standard_version"]) == (standard, version)
    assert (person["national_id"], person["family_name"]) == (national_id, family)
    if code:
        assert frames["condition"]["code"].tolist()[0] == code
    assert "document" in frames or standard == "svarrapport"


def test_other_versions_details() -> None:
    frames, _ = collect(source(VERSIONS))
    lab = frames["observation"].set_index("source_record_id").loc["lab-report-13/g-1"]
    assert (lab["value"], lab["unit"], lab["reference_range"], lab["ref_low"], lab["ref_high"]) == (
        "6.1",
        "mmol/L",
        "4.0 - 6.0",
        "4.0",
        "6.0",
    )
    persons = frames["person"].set_index("msg_id")
    assert persons.loc["fixture-henvisning-20", "middle_name"] == "Anne"
    assert persons.loc["fixture-henvisning-20", "identifiers"] == "XXX:12345;FNR:15108695088"
    assert persons.loc["fixture-svar-13", "local_patient_id"] == "L-77"
    texts = frames["document"].set_index("source_record_id")["content"]
    assert texts["fixture-epikrise-11/text"] == "Vurdering\nBedring & feberfri.\nKontroll hos fastlege."
    assert texts["fixture-henvisning-10/text"].startswith(
        "Sykehistorie\nAstma siden 2012.\nBruker inhalator."
    )
    assert texts["fixture-dialog-10/attachment/1"].startswith("Attachment Medisinliste (text/plain, 27 bytes")
    assert frames["encounter"]["start"].tolist() == ["2009-02-20T08:00:00"]


def test_a_known_standard_at_an_unknown_date_is_read_with_its_version_unknown(tmp_path: Path) -> None:
    text = (VERSIONS / "epikrise_v1.1.xml").read_text().replace("epikrise/2006-09-23", "epikrise/2031-01-01")
    (tmp_path / "future.xml").write_text(text)
    frames, quarantine = collect(source(tmp_path))
    assert quarantine.empty
    person = frames["person"].iloc[0]
    assert person["standard"] == "epikrise" and pd.isna(person["standard_version"])
    assert person["namespace"] == "http://www.kith.no/xmlstds/epikrise/2031-01-01"


def test_an_archive_of_messages_is_streamed_message_by_message(tmp_path: Path) -> None:
    messages = [
        (VERSIONS / name).read_bytes().split(b"?>", 1)[1]
        for name in ("svarrapport_v1.3.xml", "plo_v1.5.xml", "dialogmelding_v1.0.xml")
    ]
    other = b'<Order xmlns="urn:other:standard"><Type V="BESTILLING"/></Order>'
    archive = b'<?xml version="1.0" encoding="UTF-8"?>\n<Arkiv>' + b"".join([*messages, other]) + b"</Arkiv>"
    (tmp_path / "archive.xml").write_bytes(archive)
    frames, quarantine = collect(source(tmp_path))
    assert frames["person"]["msg_id"].tolist() == ["fixture-svar-13", "fixture-plo-15", "fixture-dialog-10"]
    assert frames["person"]["source_locator"].str.contains(r"archive\.xml#[123]:person").all()
    assert quarantine["rule"].tolist() == ["kith.unknown_type"]
    assert "archive.xml message 4" in quarantine["reason"].iloc[0]


def test_a_broken_attachment_is_quarantined_and_the_message_still_loads(tmp_path: Path) -> None:
    text = (
        (VERSIONS / "dialogmelding_v1.0.xml")
        .read_text()
        .replace("TWVkaXNpbmxpc3RlOiBCdXJpbmV4IDEgbWcK", "@@not base64@@")
    )
    (tmp_path / "broken.xml").write_text(text)
    frames, quarantine = collect(source(tmp_path))
    assert quarantine["rule"].tolist() == ["kith.attachment"]
    assert quarantine["entity"].tolist() == ["document"]
    assert "not valid base64" in quarantine["reason"].iloc[0]
    assert len(frames["person"]) == 1 and len(frames["document"]) == 2


def test_xhtml_text_keeps_paragraphs_and_cells() -> None:
    element = etree.fromstring(
        '<T xmlns="urn:x"><div xmlns="http://www.w3.org/1999/xhtml">\n  <p>Første\n   avsnitt</p>'
        "<table><tr><td>a</td><td/><td>c</td></tr></table><p>x<br/>y</p></div></T>"
    )
    assert text_of(element) == "Første avsnitt\na | | c\nx\ny"
    plain = etree.fromstring("<T>linje 1\n   linje 2</T>")
    assert text_of(plain) == "linje 1\nlinje 2"


XXE = """<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Message xmlns="http://www.kith.no/xmlstds/labsvar/2012-02-15"><MsgId>&secret;</MsgId></Message>"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Message xmlns="http://www.kith.no/xmlstds/labsvar/2012-02-15"><MsgId>&lol3;</MsgId></Message>"""

DTD_FETCH = """<?xml version="1.0"?>
<!-- a comment first --><!DOCTYPE Message SYSTEM "http://127.0.0.1:9/evil.dtd">
<Message xmlns="http://www.kith.no/xmlstds/labsvar/2012-02-15"/>"""


@pytest.mark.parametrize("text", [XXE, LAUGHS, DTD_FETCH], ids=["xxe", "billion-laughs", "dtd-fetch"])
def test_dtds_and_entities_are_refused_not_resolved(tmp_path: Path, text: str) -> None:
    (tmp_path / "evil.xml").write_text(text)
    frames, quarantine = collect(source(tmp_path))
    assert frames == {}
    assert quarantine["rule"].tolist() == ["file.unreadable"]
    assert "DOCTYPE" in quarantine["reason"].iloc[0]
    assert "root:" not in quarantine["raw_payload"].iloc[0], "nothing from /etc/passwd"


def test_a_doctype_behind_a_megabyte_of_comments_is_refused_too(tmp_path: Path) -> None:
    padding = "x" * (1 << 20)
    (tmp_path / "long.xml").write_text(
        f'<?xml version="1.0"?>\n<!--{padding}-->\n<!DOCTYPE M SYSTEM "http://127.0.0.1:9/e.dtd"><M/>'
    )
    _, quarantine = collect(source(tmp_path))
    assert "no root element within the first" in quarantine["reason"].iloc[0]


def test_unknown_message_type_is_quarantined_with_its_type(tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_text('<Order xmlns="urn:other:standard"><Type V="BESTILLING"/></Order>')
    (tmp_path / "y.xml").write_text(
        '<MsgHead xmlns="http://www.kith.no/xmlstds/msghead/2006-05-24"><MsgInfo><Type V="SYKMELD"/>'
        "<MsgId>s1</MsgId></MsgInfo><Document><RefDoc><Content>"
        '<HelseOpplysningerArbeidsuforhet xmlns="http://www.kith.no/xmlstds/HelseOpplysningerArbeidsuforhet/2013-10-01"/>'
        "</Content></RefDoc></Document></MsgHead>"
    )
    _, quarantine = collect(source(tmp_path))
    assert quarantine["rule"].tolist() == ["kith.unknown_type", "kith.unknown_type"]
    assert (
        "BESTILLING" in quarantine["reason"].iloc[0] and "urn:other:standard" in quarantine["reason"].iloc[0]
    )
    assert (
        "SYKMELD" in quarantine["reason"].iloc[1]
        and "HelseOpplysningerArbeidsuforhet" in quarantine["reason"].iloc[1]
    )


def test_truncated_file_is_quarantined_and_the_next_file_still_reads(
    tmp_path: Path, shared_data: Path
) -> None:
    sample = (shared_data / "kith" / "Epikrise" / "Epikrise_v1-2" / "epikrise_v1.2_n.xml").read_bytes()
    (tmp_path / "a_truncated.xml").write_bytes(sample[: len(sample) // 2])
    (tmp_path / "b_whole.xml").write_bytes(sample)
    frames, quarantine = collect(source(tmp_path))
    assert len(frames["person"]) == 1
    assert "a_truncated.xml" in quarantine["reason"].iloc[0]


def test_gp_export_streams_patients_with_their_records(tmp_path: Path) -> None:
    export = f"""<JournalExport xmlns="{GP_EXPORT_NS}"><Practice><Name>Lia legekontor</Name></Practice>
    <Patient><LocalId>LK-1</LocalId><Ident><Id>15108695088</Id><TypeId V="FNR"/></Ident>
      <FamilyName>Løvås</FamilyName><GivenName>Kari</GivenName><DateOfBirth V="1986-10-15"/><Sex V="2"/>
      <Consultation Id="K1"><Date V="2020-01-02T10:00:00"/>
        <Diagnosis><Concept V="T90" DN="Diabetes" S="2.16.578.1.12.4.1.1.7170"/></Diagnosis><Note>Kontroll.</Note></Consultation>
      <Prescription Id="R1"><Date V="2020-01-02"/><Drug><Concept V="A10BA02" DN="Metformin" S="2.16.578.1.12.4.1.1.7180"/></Drug><Dosage>1x2</Dosage></Prescription>
    </Patient>
    <Patient><Ident><Id>26111593816</Id></Ident><FamilyName>Uten id</FamilyName></Patient>
    </JournalExport>"""
    (tmp_path / "lia.xml").write_text(export, encoding="utf-8")
    frames, quarantine = collect(source(tmp_path))
    person = frames["person"].iloc[0]
    assert (person["source_record_id"], person["national_id"], person["family_name"]) == (
        "LK-1",
        "15108695088",
        "Løvås",
    )
    assert "Consultation" not in person["source_locator"]
    assert frames["condition"]["code"].tolist() == ["T90"]
    assert frames["condition"]["encounter_id"].tolist() == ["K1"]
    assert frames["medication"]["code"].tolist() == ["A10BA02"]
    assert frames["document"]["content"].tolist() == ["Kontroll."]
    assert set(frames["encounter"]["source_person_id"]) == {"LK-1"}
    assert quarantine["rule"].tolist() == ["gp.no_local_id"]
