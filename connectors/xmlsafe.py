"""XML that cannot reach the network or expand entities (design: privacy and safety).

KITH messages never carry a DTD, so any DOCTYPE is refused before lxml sees the file:
that closes external entities, DTD fetches and entity-expansion bombs at once. The
parser flags are a second lock.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

PROLOG_LIMIT = 1 << 20
DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
ROOT_START = re.compile(rb"<(?![?!])")


class UnsafeXml(ValueError):
    """The document declares a DTD or entities: refused, never parsed."""


def check_prolog(path: Path) -> None:
    """Refuse a file whose prolog (everything before the root element) holds a DTD.

    UTF-16 files are looked at as text; a prolog that does not end within 1 MB is
    refused too (a DOCTYPE could hide behind a megabyte of comments).
    """
    with path.open("rb") as handle:
        raw = b""
        head = b""
        while len(raw) < PROLOG_LIMIT:
            block = handle.read(8192)
            if not block:
                break
            raw += block
            head = _as_utf8(raw)
            root = _root_position(head)
            if root is not None:
                head = head[:root]
                break
        else:
            raise UnsafeXml(f"{path.name}: no root element within the first {PROLOG_LIMIT} bytes; refused")
    if DOCTYPE.search(head):
        raise UnsafeXml(f"{path.name}: declares a DOCTYPE/ENTITY; refused (external entities)")


def _as_utf8(head: bytes) -> bytes:
    """The prolog's bytes as UTF-8 when the file is UTF-16 (with or without a BOM)."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]:
        encoding = (
            "utf-16"
            if head[:2] in (b"\xff\xfe", b"\xfe\xff")
            else "utf-16-le"
            if head[1:2] == b"\x00"
            else "utf-16-be"
        )
        return head[: len(head) // 2 * 2].decode(encoding, "replace").encode("utf-8")
    return head


def _root_position(head: bytes) -> int | None:
    """Offset of the root element's '<', skipping the declaration, comments and PIs."""
    position = 0
    while (match := ROOT_START.search(head, position)) is not None:
        start = match.start()
        if head.rfind(b"<!--", 0, start) > head.rfind(b"-->", 0, start):
            close = head.find(b"-->", start)
            if close < 0:
                return None
            position = close + 3
            continue
        return start
    return None


def iterparse(
    path: Path,
    *,
    events: tuple[str, ...] = ("end",),
    tag: str | None = None,
    large_text: bool = False,
) -> etree.iterparse:
    """Stream a file with every lock on: no entities resolved, no DTD loaded, no network.

    `large_text` lifts libxml2's 10 MB limit on one text node: a message's base64
    attachment may be bigger, and entity bombs are refused by `check_prolog` before
    any parsing, so the limit is not what keeps this safe.
    """
    return etree.iterparse(
        str(path),
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=large_text,
        remove_comments=True,
        remove_pis=True,
    )
