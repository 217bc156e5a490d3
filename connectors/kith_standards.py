"""Which KITH standard and version a message is, told by its namespace alone.

Every KITH (now Norwegian Directorate of e-health) standard has one namespace per
version, `http://www.kith.no/xmlstds/<standard>/<date>` (Henvisning 2.0 moved to
`http://ehelse.no/xmlstds/...`); PLO messages are `.../xmlstds/po/<Message>/<date>`,
usually inside a MsgHead. A known standard at an unknown date is still read (its
elements are stable across versions); its version is then reported as unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

NAMESPACE = re.compile(
    r"^https?://(?:www\.)?(?:kith|ehelse)\.no/xmlstds/(?:(po)/)?([^/]+)/(\d{4}-\d{2}-\d{2})$"
)

FAMILIES = {
    "labsvar": "svarrapport",
    "epikrise": "epikrise",
    "henvisning": "henvisning",
    "dialog": "dialogmelding",
    "msghead": "msghead",
}
"""Namespace names → the standard's family; PLO messages (po/...) are family `plo`."""

PLO_COMPONENTS = {"poKomponent"}
"""po/ namespaces that hold building blocks, not messages."""

VERSIONS = {
    ("svarrapport", "2008-12-01"): "1.3",
    ("svarrapport", "2012-02-15"): "1.4",
    ("epikrise", "2006-09-23"): "1.1",
    ("epikrise", "2012-02-15"): "1.2",
    ("henvisning", "2005-07-08"): "1.0",
    ("henvisning", "2012-02-15"): "1.1",
    ("henvisning", "2017-11-30"): "2.0",
    ("dialogmelding", "2006-10-11"): "1.0",
    ("dialogmelding", "2013-01-23"): "1.1",
    ("plo", "2009-06-30"): "1.5",
    ("plo", "2012-04-01"): "1.6",
    ("msghead", "2006-05-24"): "1.2",
}
"""Versions by namespace date, from the standards' own examples and schemas
(the Directorate's archive as mirrored in `oslokommune/sarepta-standarder`)."""


@dataclass(frozen=True)
class Standard:
    family: str
    name: str
    date: str | None
    namespace: str

    @property
    def known(self) -> bool:
        return self.family != "unknown"

    @property
    def version(self) -> str | None:
        return VERSIONS.get((self.family, self.date or ""))


def standard_of(element: etree._Element) -> Standard:
    namespace = etree.QName(element).namespace or ""
    match = NAMESPACE.match(namespace)
    if match is None:
        return Standard("unknown", etree.QName(element).localname, None, namespace)
    po, name, date = match.groups()
    plo = "unknown" if name in PLO_COMPONENTS else "plo"
    return Standard(plo if po else FAMILIES.get(name.lower(), "unknown"), name, date, namespace)


def is_message(element: etree._Element) -> bool:
    """A root a KITH archive may hold: a MsgHead or a standard's own message."""
    return standard_of(element).known
