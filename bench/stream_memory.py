"""Peak memory while an HL7 v2 archive and a KITH XML archive stream through `extract`.

For each size, an archive is generated in a temporary folder (never kept), then a fresh
Python process runs the same code path as `enjournal extract` (connector → staging
Parquet) on it and reports its peak RSS (`ru_maxrss`), wall time and the rows it staged.
Flat peak memory across sizes is the claim; the table shows it.

    .venv/bin/python bench/stream_memory.py                      # 125, 250, 500, 1000 MB
    .venv/bin/python bench/stream_memory.py --sizes 50 100 --kinds hl7v2

The HL7 archive holds ADT^A01 and ORU^R01 messages (CR segments, LF between messages,
one patient in a hundred with an A40 merge); the XML archive is one file whose root
holds Svarrapport messages and MsgHead Dialogmeldinger with a base64 attachment each.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

MB = 1 << 20
COLUMNS = [
    ("kind", 9),
    ("archive MB", 10),
    ("rows staged", 12),
    ("quarantined", 11),
    ("seconds", 8),
    ("peak RSS MiB", 12),
]
WRITE_BLOCK = 8 * MB

CHILD = """
import json, resource, sys, time
from pathlib import Path
from connectors.registry import SourceConfig
from pydantic import TypeAdapter
from pipelines.stages import stage_source
from pipelines.workspace import Workspace

kind, location, out = sys.argv[1:4]
source = TypeAdapter(SourceConfig).validate_python(
    {"name": "bench", "kind": kind, "location": location, "mapping": "-", "pattern": "*"}
)
start = time.perf_counter()
counts = stage_source(source, Workspace(Path(out), "bench"), "2026-11-23T00:00:00")
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"counts": counts, "seconds": seconds, "peak_mib": peak_kib / 1024}))
"""


HL7_HEADER = "MSH|^~\\&|DIPS|STOLAV|EPJ|HN|{stamp}||{type}|C{n}|P|2.5|||||NO|UNICODE UTF-8\r"
HL7_PID = (
    "PID|1||{patient}^^^STOLAV^PI~15108695088^^^NOR^NNNOR||Løvås{name}^Kari^Anne||19861015|F|||"
    "Øvre gate {street}^^Trondheim^^7010^NOR\r"
)
HL7_STAY = (
    "PV1|1|I|Hjerte\\T\\lunge^^^STOLAV||||||||||||||||V{n}|||||||||||||||||||||||||{stamp}\r"
    "DG1|1||I21.{code}^Akutt hjerteinfarkt^ICD10|||A\r"
)
HL7_RESULT = "OBX|{i}|NM|NPU{code}^Analyse {i}^NLK||{value}|mmol/L|3,5-5,0|N|||F|||{stamp}\r"

LAB = (
    "<Message xmlns='http://www.kith.no/xmlstds/labsvar/2012-02-15'><Type V='SVAR_LAB'/>"
    "<GenDate V='2017-09-20T09:05:11'/><MsgId>lab-{n}</MsgId><ServReport><ServType V='N'/>"
    "<IssueDate V='2017-09-20T09:04:10'/><ServProvId>rep-{n}</ServProvId><Patient>"
    "<Name>Danser{name}, Line</Name><OffId>13116900216</OffId><TypeOffId V='FNR'/>{items}"
    "</Patient></ServReport></Message>\n"
)
LAB_ITEM = (
    "<ResultItem><NumResult><NumResultValue V='{value}' U='mmol/L'/></NumResult>"
    "<RefInterval><Descr>3,5 - 5,0</Descr></RefInterval><Investigation>"
    "<Id V='NPU{code}' S='2.16.578.1.12.4.1.1.7280' DN='Analyse {i}'/></Investigation>"
    "<IdResultItem>{i}</IdResultItem></ResultItem>"
)
DIALOG = (
    "<MsgHead xmlns='http://www.kith.no/xmlstds/msghead/2006-05-24'><MsgInfo>"
    "<Type V='DIALOG_HELSEFAGLIG'/><GenDate>2017-06-12T09:35:22</GenDate><MsgId>dialog-{n}</MsgId>"
    "<Patient><FamilyName>Danser</FamilyName><GivenName>Line</GivenName>"
    "<Ident><Id>13116900216</Id><TypeId V='FNR'/></Ident></Patient></MsgInfo>"
    "<Document><RefDoc><MsgType V='XML'/><Content>"
    "<Dialogmelding xmlns='http://www.kith.no/xmlstds/dialog/2013-01-23'><Notat>"
    "<TekstNotatInnhold>Notat nummer {n}.</TekstNotatInnhold></Notat></Dialogmelding>"
    "</Content></RefDoc></Document><Document><RefDoc><MsgType V='A'/>"
    "<MimeType>application/octet-stream</MimeType><Content>"
    "<Base64Container xmlns='http://www.kith.no/xmlstds/base64container'>{attachment}"
    "</Base64Container></Content></RefDoc></Document></MsgHead>\n"
)


def hl7_messages() -> Iterator[str]:
    """Endless, varied HL7 v2.5 messages (about 0.6 KB each); every 100th patient merged (A40)."""
    n = 0
    while True:
        n += 1
        stamp = f"2012{(n % 12) + 1:02d}{(n % 28) + 1:02d}101500"
        patient = 1_000_000 + n % 50_000
        pid = HL7_PID.format(patient=patient, name=n % 97, street=n % 200)
        yield (
            HL7_HEADER.format(stamp=stamp, type="ADT^A01^ADT_A01", n=n)
            + pid
            + HL7_STAY.format(n=n, stamp=stamp, code=n % 9)
            + "\n"
        )
        results = "".join(
            HL7_RESULT.format(i=i, code=19748 + i, value=(n * i) % 200 / 10, stamp=stamp) for i in range(1, 5)
        )
        order = f"OBR|1||R{n}|LAB^Lab^L|||{stamp}\r"
        yield HL7_HEADER.format(stamp=stamp, type="ORU^R01^ORU_R01", n=n) + pid + order + results + "\n"
        if n % 100 == 0:
            merge = f"MRG|{patient + 1}^^^STOLAV^PI\r\n"
            yield HL7_HEADER.format(stamp=stamp, type="ADT^A40^ADT_A39", n=n) + pid + merge


def xml_messages() -> Iterator[str]:
    """Endless KITH messages: Svarrapport 1.4, and every 4th a Dialogmelding with a 24 KB attachment."""
    attachment = base64.encodebytes(bytes(range(256)) * 96).decode()
    n = 0
    while True:
        n += 1
        items = "".join(LAB_ITEM.format(i=i, code=19748 + i, value=(n * i) % 200 / 10) for i in range(1, 6))
        yield LAB.format(n=n, name=n % 97, items=items)
        if n % 4 == 0:
            yield DIALOG.format(n=n, attachment=attachment)


def write_archive(path: Path, kind: str, size: int) -> int:
    """Write messages until the file reaches `size` bytes; returns the bytes written."""
    messages = hl7_messages() if kind == "hl7v2" else xml_messages()
    written = 0
    with path.open("wb") as out:
        if kind == "kith-xml":
            out.write(b"<?xml version='1.0' encoding='UTF-8'?>\n<Arkiv>\n")
        block: list[bytes] = []
        pending = 0
        while written + pending < size:
            data = next(messages).encode("utf-8")
            block.append(data)
            pending += len(data)
            if pending >= WRITE_BLOCK:
                out.write(b"".join(block))
                written, block, pending = written + pending, [], 0
        out.write(b"".join(block))
        written += pending
        if kind == "kith-xml":
            out.write(b"</Arkiv>\n")
    return path.stat().st_size


def measure(kind: str, size_mb: int, root: Path) -> dict[str, object]:
    folder = root / f"{kind}-{size_mb}"
    folder.mkdir()
    archive = folder / ("archive.hl7" if kind == "hl7v2" else "archive.xml")
    actual = write_archive(archive, kind, size_mb * MB)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(archive), str(folder / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    rows = sum(n for entity, n in figures["counts"].items() if entity != "quarantined")
    return {
        "kind": kind,
        "archive_mb": actual / MB,
        "rows_staged": rows,
        "quarantined": figures["counts"].get("quarantined", 0),
        "seconds": figures["seconds"],
        "peak_rss_mib": figures["peak_mib"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[125, 250, 500, 1000], help="archive sizes, MB"
    )
    parser.add_argument("--kinds", nargs="+", default=["hl7v2", "kith-xml"], choices=["hl7v2", "kith-xml"])
    parser.add_argument("--tmp", type=Path, default=None, help="where to generate the archives")
    args = parser.parse_args()
    print(" ".join(f"{name:>{width}}" for name, width in COLUMNS))
    with tempfile.TemporaryDirectory(prefix="enjournal-bench-", dir=args.tmp) as scratch:
        for kind in args.kinds:
            for size in args.sizes:
                row = measure(kind, size, Path(scratch))
                values = [row["kind"], *(f"{row[key]:.0f}" for key in list(row)[1:])]
                print(" ".join(f"{v:>{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True)), flush=True)
                shutil.rmtree(Path(scratch) / f"{kind}-{size}")


if __name__ == "__main__":
    main()
