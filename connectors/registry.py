"""Source kinds → their config model and connector; one place to add a new kind."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from connectors.attachments import AttachmentStore
from connectors.base import Connector, SourceBase, SourceContext
from connectors.flatfile import FlatFileConnector, FlatFileSource
from connectors.hl7v2 import Hl7Connector, Hl7Source
from connectors.kith_xml import KithConnector, KithSource
from connectors.sql import SqlConnector, SqlSource

SourceConfig = Annotated[SqlSource | FlatFileSource | Hl7Source | KithSource, Field(discriminator="kind")]

CONNECTORS: dict[type[SourceBase], type] = {
    SqlSource: SqlConnector,
    FlatFileSource: FlatFileConnector,
    Hl7Source: Hl7Connector,
    KithSource: KithConnector,
}


def connector_for(source: SourceBase, extracted_at: str, attachments: AttachmentStore) -> Connector:
    """The connector that reads `source`, stamping rows with `extracted_at`.

    Attachment bytes (base64 in messages, BLOBs) go to `attachments`; rows reference them.
    """
    context = SourceContext(source.name, source.kind, extracted_at, attachments)
    return CONNECTORS[type(source)](source, context)
