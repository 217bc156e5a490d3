"""KITH XML message files and archives (and GP journal exports), streamed.

A file holds one message (the usual archive of received messages: one file each) or an
archive of many (any root element whose children are KITH messages). Either way the
file is read with iterparse: each message is handed to `KithMessage` when its end tag
is read and cleared right after, and each base64 attachment is decoded into the
attachment store as soon as its own end tag is read, its text dropped and replaced by
its sha256. A 1 GB archive therefore passes in the memory of its largest message.

Any DOCTYPE is refused before parsing (`xmlsafe`); a message the reader cannot use
becomes a quarantine row, the next one is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from lxml import etree

from connectors import xmlsafe
from connectors.attachments import AttachmentStore, BadAttachment
from connectors.base import Batch, RowBuffer, SourceBase, SourceContext, guarded_files, iter_files
from connectors.gp_export import GP_EXPORT_NS, GpExport
from connectors.kith_messages import KithMessage, local
from connectors.kith_standards import is_message


class KithSource(SourceBase):
    kind: Literal["kith-xml"] = "kith-xml"
    pattern: str = "**/*.xml"


class KithConnector:
    def __init__(self, source: KithSource, context: SourceContext) -> None:
        self.source = source
        self.buffer = RowBuffer(context, source.chunk_size)
        self.attachments = context.attachments

    def batches(self) -> Iterator[Batch]:
        paths = iter_files(self.source.location, self.source.pattern)
        yield from guarded_files(self.buffer, paths, self._read)

    def _read(self, path: Path) -> Iterator[Batch]:
        xmlsafe.check_prolog(path)
        if _root_namespace(path) == GP_EXPORT_NS:
            yield from GpExport(self.buffer, path).records()
            return
        for message, number, in_archive in messages(path, self.attachments):
            locator = f"{path}#{number}" if in_archive else str(path)
            label = f"{path.name} message {number}" if in_archive else path.name
            yield from self.buffer.guard(
                lambda m=message, loc=locator, lab=label: KithMessage(m, loc, lab).items(),
                locator=locator,
                label=label,
                payload=etree.tostring(message, encoding="utf-8"),
            )


def messages(path: Path, attachments: AttachmentStore) -> Iterator[tuple[etree._Element, int, bool]]:
    """(message element, number, whether the file is an archive of many), element by element.

    The root is an archive when it is no KITH message itself but its first child is one;
    every child of an archive is then handed out (a child that is no message is
    quarantined as an unknown type by the caller) and removed once used.
    """
    depth, root, archive, number = 0, None, False, 0
    for event, element in xmlsafe.iterparse(path, events=("start", "end"), large_text=True):
        if event == "start":
            depth += 1
            if depth == 1:
                root = element
            elif depth == 2 and number == 0 and element.getprevious() is None:
                archive = not is_message(root) and is_message(element)
            continue
        depth -= 1
        if local(element) == "Base64Container":
            _store(element, attachments)
        if archive and depth == 1:
            number += 1
            yield element, number, True
            element.clear(keep_tail=False)
            root.remove(element)
        elif depth == 0 and not archive:
            yield element, 1, False


def _store(container: etree._Element, attachments: AttachmentStore) -> None:
    """Decode a Base64Container into the store; keep only its sha256 and size in the tree."""
    try:
        stored = attachments.put_base64(container.text or "")
    except BadAttachment as error:
        container.set("error", str(error))
    else:
        if stored.size:
            container.set("sha256", stored.sha256)
            container.set("size", str(stored.size))
        else:
            container.set("error", "no data")
    container.text = None


def _root_namespace(path: Path) -> str | None:
    for _event, element in xmlsafe.iterparse(path, events=("start",)):
        return etree.QName(element).namespace
    return None
