"""Small helper for writing namespaced XML with lxml without repeating Clark names."""

from __future__ import annotations


class Namespace(dict[str, str]):
    """Tag names of one XML namespace in lxml's '{uri}local' form: NS["Patient"].
    A dict so that the many lookups while writing large files stay cheap."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def __missing__(self, local: str) -> str:
        tag = self[local] = f"{{{self.uri}}}{local}"
        return tag
