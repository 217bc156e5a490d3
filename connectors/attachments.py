"""Content-addressed store for attachment bytes (base64 in messages, BLOBs in databases).

A staging row cannot carry a 20 MB PDF, so the bytes go to `<root>/<aa>/<sha256>` once,
and the document row carries the sha256, content type and size. The loader reads the
file back into `document_blob`. Writes are atomic (temp file + rename), so a run killed
halfway never leaves a truncated blob under a valid name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

SHA256 = re.compile(r"[0-9a-f]{64}")
BASE64_NOISE = re.compile(rb"\s+")


class BadAttachment(ValueError):
    """Bytes that cannot be decoded (broken base64) or a stored file that fails its hash."""


@dataclass(frozen=True)
class StoredAttachment:
    sha256: str
    size: int

    def describe(self, title: str | None, content_type: str | None) -> str:
        """The document text of an attachment row: what it is and where its bytes are.

        The loader takes the bytes from the store when the row's `attachment_sha256` is
        mapped; this line is what a reader sees if it is not, never an empty document.
        """
        kind = content_type or "unknown type"
        return f"Attachment {title or ''} ({kind}, {self.size} bytes, sha256 {self.sha256})"


@dataclass(frozen=True)
class AttachmentStore:
    root: Path

    def path(self, sha256: str) -> Path:
        if not SHA256.fullmatch(sha256):
            raise BadAttachment(f"{sha256!r} is not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> StoredAttachment:
        """Store `data` unless the same bytes are already there."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        return StoredAttachment(digest, len(data))

    def put_base64(self, text: str | bytes) -> StoredAttachment:
        """Decode base64 strictly (line breaks allowed, garbage not) and store the bytes."""
        raw = text.encode("ascii", "replace") if isinstance(text, str) else text
        try:
            data = base64.b64decode(BASE64_NOISE.sub(b"", raw), validate=True)
        except (binascii.Error, ValueError) as error:
            raise BadAttachment(f"not valid base64 ({error})") from error
        return self.put(data)

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BadAttachment(f"stored attachment {sha256} does not match its hash")
        return data
