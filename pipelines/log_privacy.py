"""No national ID in any log line: Prefect's console and API logs, ours, a library's.

A log record factory masks every ID-shaped number in the formatted message as the record
is made, so no handler (console, file, Prefect's API handler) ever sees the number. It is
process-wide: the migration commands install it, and so does `pipelines.flows` on import
(which is how Dask workers get it).
"""

from __future__ import annotations

import logging
from typing import Any

from identity.national_id import redact_ids


def install() -> None:
    """Wrap the current record factory once."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_national_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        message = record.getMessage()
        masked = redact_ids(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record

    factory.masks_national_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
