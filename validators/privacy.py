"""Keep national ID numbers out of what people and CI logs read.

Reasons, values, raw payloads and the sample values in Data Docs are free text from legacy
systems: a national ID can sit in any column (typed into a name, a note, a wrong field).
So every run of 11 digits (also written 6 + 5 with a space) shows only its birth-date part,
the way `identity.national_id.mask` prints it: `150786*****`.
"""

from __future__ import annotations

from typing import Any

from identity.national_id import redact_ids


def redact_values(value: Any) -> Any:
    """Strings inside nested lists and dicts redacted; everything else as it was."""
    if isinstance(value, str):
        return redact_ids(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(item) for item in value]
    return value
