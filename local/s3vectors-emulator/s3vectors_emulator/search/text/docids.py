"""Vector key <-> small integer document id, shared by the text fields of one vector index.

Fields that share a `DocIds` give the same id to the same vector key, so scores of several
fields add up in one numpy array (`search_fields`) instead of a dict keyed by string.
"""

from __future__ import annotations


class DocIds:
    """Ids handed out per vector key, counted per field holding it, reused once no field does."""

    def __init__(self) -> None:
        self.keys: list[str] = []  # id -> key ("" while free)
        self._ids: dict[str, int] = {}
        self._refs: list[int] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        """Capacity: one more than the largest id ever handed out."""
        return len(self.keys)

    def get(self, key: str) -> int | None:
        return self._ids.get(key)

    def acquire(self, key: str) -> int:
        """The id of `key`, counting one more field that holds it."""
        doc = self._ids.get(key)
        if doc is None:
            if self._free:
                doc = self._free.pop()
                self.keys[doc] = key
            else:
                doc = len(self.keys)
                self.keys.append(key)
                self._refs.append(0)
            self._ids[key] = doc
        self._refs[doc] += 1
        return doc

    def release(self, doc: int) -> None:
        """One field fewer holds this id; the id is freed when none does."""
        self._refs[doc] -= 1
        if self._refs[doc] == 0:
            del self._ids[self.keys[doc]]
            self.keys[doc] = ""
            self._free.append(doc)
