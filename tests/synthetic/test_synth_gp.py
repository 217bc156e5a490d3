"""GP journal exports and the archived KITH lab messages."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lxml import etree

from synthetic import Manifest
from tests.synthetic import synth_readers as read

SAMPLES = read.SHARED / "kith" / "Svarrapport" / "Svarrapport-v-1-4"
G = {"g": read.GP_NS}
K = {"k": read.LAB_NS}


def test_journal_files_structure(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    files = sorted((out / "gp" / "journal").glob("*.xml"))
    assert 10 <= len(files) <= 30
    local_ids = []
    for path in files:
        root = etree.parse(str(path)).getroot()
        assert root.tag == f"{{{read.GP_NS}}}JournalExport"
        practice = root.find("g:Practice", G)
        assert (
            practice.findtext("g:Name", namespaces=G) and practice.findtext("g:HerId", namespaces=G).isdigit()
        )
        patients = root.findall("g:Patient", G)
        assert manifest.counts[f"gp/journal/{path.name}"] == len(patients)
        local_ids += [p.findtext("g:LocalId", namespaces=G) for p in patients]
    assert len(local_ids) == len(set(local_ids)) == manifest.source_person_records["gp-journal"]
    patients = read.gp_persons(out)
    assert {p.extra["id_type"] for p in patients.values()} >= {"FNR", "DNR", ""}
    assert {p.sex for p in patients.values()} == {"1", "2"}


def test_journal_codes_are_known_except_planted(region: tuple[Path, Manifest]) -> None:
    out, manifest = region
    planted = {
        e.record_id for e in manifest.injected if e.source_system == "gp-journal" and e.kind == "unknown_code"
    }
    icpc = read.icpc2_codes()
    seen, unknown = set(), set()
    for patient in read.gp_patients(out).values():
        for consultation in patient.findall("g:Consultation", G):
            code = consultation.find("g:Diagnosis/g:Concept", G)
            assert code.get("S") == "2.16.578.1.12.4.1.1.7170"
            seen.add(code.get("V"))
            if code.get("V") not in icpc:
                unknown.add(consultation.get("Id"))
        for prescription in patient.findall("g:Prescription", G):
            drug = prescription.find("g:Drug/g:Concept", G)
            assert drug.get("S") == "2.16.578.1.12.4.1.1.7180"
            if drug.get("V") == "ZZ99ZZ99":
                unknown.add(prescription.get("Id"))
    assert unknown == planted
    assert any(c.startswith("-") for c in seen)


def test_messages_follow_the_kith_sample(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    sample = etree.parse(str(SAMPLES / "Svar_biokjemi_v1-4_Ny.xml")).getroot()
    sample_ns = etree.QName(sample).namespace
    messages = read.lab_messages(out)
    assert messages
    for root in messages.values():
        assert etree.QName(root).namespace == sample_ns == read.LAB_NS
        assert [etree.QName(c).localname for c in root] == [
            etree.QName(c).localname for c in sample if isinstance(c.tag, str)
        ]
        patient = root.find("k:ServReport/k:Patient", K)
        assert ", " in patient.findtext("k:Name", namespaces=K)
        subjects = {
            s.findtext("k:IdByServProvider", namespaces=K) for s in patient.findall("k:AnalysedSubject", K)
        }
        for item in patient.findall("k:ResultItem", K):
            assert item.findtext("k:RefAnalysedSubject", namespaces=K) in subjects
            assert item.find("k:Investigation/k:Id", K).get("S") == "2.16.578.1.12.4.1.1.7280"


def test_corrections_repeat_result_items(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    sample = etree.parse(str(SAMPLES / "Svar_biokjemi_v1-4_Endring.xml")).getroot()
    correction_code = sample.find("k:ServReport/k:ServType", K).get("V")
    items_of, kind_of, requisition = {}, {}, defaultdict(list)
    for msg_id, root in read.lab_messages(out).items():
        kind_of[msg_id] = root.find("k:ServReport/k:ServType", K).get("V")
        items_of[msg_id] = {i.text for i in root.iter(f"{{{read.LAB_NS}}}IdResultItem")}
        requisition[root.findtext("k:ServReport/k:ServReq/k:Id", namespaces=K)].append(msg_id)
    corrections = [m for m, k in kind_of.items() if k == correction_code]
    assert corrections and set(kind_of.values()) == {"N", correction_code}
    for msg_id in corrections:
        originals = [
            m
            for m in requisition[next(r for r, ms in requisition.items() if msg_id in ms)]
            if kind_of[m] == "N"
        ]
        assert len(originals) == 1 and items_of[originals[0]] == items_of[msg_id]


def test_twins_at_the_same_practice_stay_two_patients(region: tuple[Path, Manifest]) -> None:
    out, _ = region
    people = {r["person_id"]: r for r in read.read_csv(out / "persons.csv")}
    local_of: dict[str, list[str]] = defaultdict(list)
    for r in read.read_csv(out / "truth.csv"):
        if r["source_system"] == "gp-journal":
            local_of[r["person_id"]].append(r["source_person_id"])
    patients = read.gp_persons(out)
    pairs = 0
    for pid, person in people.items():
        twin = person["twin_of"]
        if twin and pid < twin and local_of[pid] and local_of[twin]:
            a, b = patients[local_of[pid][0]], patients[local_of[twin][0]]
            assert a.key.split("-")[0] == b.key.split("-")[0]
            assert a.birth == b.birth and a.key != b.key
            pairs += 1
    assert pairs > 0
