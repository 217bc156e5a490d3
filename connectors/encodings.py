"""Text encodings of legacy exports: ISO-646-NO as a codec, detection, and signs of damage.

Norwegian exports come as UTF-8, Windows-1252, ISO-8859-1 or DOS code page 865; the oldest as 7-bit
ISO-646-NO, where `[ \\ ] { | }` stand for `Æ Ø Å æ ø å`. Python has no codec for it,
so one is registered here (`iso646-no`). Detection uses charset-normalizer, limited to
the encodings such files really use; ISO-646-NO cannot be told from ASCII by bytes and
must be declared.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

ISO646_NO = "iso646-no"
_NAMES = {"iso646-no", "iso646_no", "iso-ir-60", "ns_4551-1", "ns-4551-1"}
_DECODING = "".join(chr(i) for i in range(128)).translate(str.maketrans("[\\]{|}", "ÆØÅæøå"))
_DECODING_TABLE = _DECODING + "\ufffe" * 128
_ENCODING_TABLE = codecs.charmap_build(_DECODING_TABLE)

CANDIDATES = ["cp1252", "cp865", "latin_1"]
"""What a non-UTF-8 Norwegian export is: Windows-1252, DOS code page 865 (Nordic), Latin-1."""
SAMPLE_BYTES = 1 << 20

MOJIBAKE = re.compile("Ã[\u0080-\u00bf¦¸¥†˜…]|Â[\u00a0-\u00bf]")
"""UTF-8 read as Windows-1252/Latin-1: `Ã¸` for ø, `Ã¥` for å, `Â°` for °."""
ISO646_TRACE = re.compile(r"[A-Za-z][\[\\\]{|}]|[\[\\\]{|}][a-z]")
"""`[ \\ ] { | }` inside words: Norwegian letters of an ISO-646-NO file read as ASCII."""
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


class _Iso646No(codecs.Codec):
    def encode(self, text: str, errors: str = "strict") -> tuple[bytes, int]:
        return codecs.charmap_encode(text, errors, _ENCODING_TABLE)

    def decode(self, data: bytes, errors: str = "strict") -> tuple[str, int]:
        return codecs.charmap_decode(data, errors, _DECODING_TABLE)


class _Iso646NoIncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, data: bytes, final: bool = False) -> str:
        return codecs.charmap_decode(data, self.errors, _DECODING_TABLE)[0]


class _Iso646NoIncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return codecs.charmap_encode(text, self.errors, _ENCODING_TABLE)[0]


class _Iso646NoStreamReader(_Iso646No, codecs.StreamReader):
    pass


class _Iso646NoStreamWriter(_Iso646No, codecs.StreamWriter):
    pass


def _search(name: str) -> codecs.CodecInfo | None:
    if name.lower().replace(" ", "") not in _NAMES:
        return None
    return codecs.CodecInfo(
        name=ISO646_NO,
        encode=_Iso646No().encode,
        decode=_Iso646No().decode,
        incrementalencoder=_Iso646NoIncrementalEncoder,
        incrementaldecoder=_Iso646NoIncrementalDecoder,
        streamreader=_Iso646NoStreamReader,
        streamwriter=_Iso646NoStreamWriter,
    )


codecs.register(_search)


def detect(sample: bytes) -> str:
    """The encoding of a file's first bytes: UTF-8 if they decode as such, else the best guess.

    A UTF-8 sample cut in the middle of a character still counts as UTF-8.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    best = from_bytes(sample, cp_isolation=CANDIDATES).best()
    return best.encoding if best is not None else "cp1252"


def damage(text: str) -> list[str]:
    """The signs of an encoding problem a value shows (empty for a clean value)."""
    signs = []
    if MOJIBAKE.search(text):
        signs.append("mojibake")
    if ISO646_TRACE.search(text):
        signs.append("iso646")
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        signs.append("undecodable")
    if CONTROL.search(text):
        signs.append("control")
    return signs
