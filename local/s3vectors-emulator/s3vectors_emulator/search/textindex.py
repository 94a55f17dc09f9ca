"""Per-index full-text search: one text search configuration per metadata key, kept current on
every write, and the text-only and hybrid rankings of QueryVectors.

Tokenising, stemming, BM25 and RRF live in the engine (`text/`, which also decides what text a
metadata value holds: a string, or the strings of a list); this module decides when a
configuration serves queries (BUILDING until its build delay has passed, ACTIVE after) and how
rankings are combined (docs/emulator.md, "Full-text and hybrid search").
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from s3vectors_emulator.exceptions import ValidationError
from s3vectors_emulator.search.text import RRF_K, DocIds, TextField, rrf, search_fields


@dataclass
class TextConfig:
    metadata_key: str
    language: str | None
    ready_at: float  # wall-clock time at which the configuration becomes ACTIVE
    doc_ids: DocIds  # shared by the configurations of one index, so their scores can be summed
    built: bool = True  # False while existing vectors are still being backfilled
    dropped: bool = False  # set when the configuration or its index goes away mid-backfill
    field: TextField = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.field = TextField(self.language, self.doc_ids)

    def status(self, now: float | None = None) -> str:
        """ACTIVE once the backfill is done and the configured build delay has passed."""
        ready = (time.time() if now is None else now) >= self.ready_at
        return "ACTIVE" if self.built and ready else "BUILDING"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metadataKey": self.metadata_key, "status": self.status()}
        if self.language is not None:
            out["language"] = self.language
        return out

    def index_all(self, keys: Sequence[str], metadata: Sequence[Mapping[str, Any]]) -> None:
        name = self.metadata_key
        self.field.put_many(
            (key, meta[name]) for key, meta in zip(keys, metadata, strict=True) if name in meta
        )

    def backfill(self, keys: Sequence[str], current: Mapping[str, Mapping[str, Any]]) -> None:
        """Index the *current* metadata of `keys` (a slice of the index's keys when the
        configuration was added). Writes made meanwhile indexed their keys already; putting
        the same value again is harmless, and a key deleted meanwhile is skipped."""
        name = self.metadata_key
        for key in keys:
            meta = current.get(key)
            if meta is not None and name in meta:
                self.field.put(key, meta[name])

    def update(self, key: str, meta: Mapping[str, Any], existed: bool) -> None:
        value = meta.get(self.metadata_key)
        if value is not None:
            self.field.put(key, value)  # replaces an earlier text; no text leaves none
        elif existed:
            self.field.delete(key)


@dataclass(frozen=True)
class TextHit:
    key: str
    bm25: dict[str, float]  # metadata key -> BM25 score, for the keys the document matched


def check_query_texts(
    texts: Sequence[Mapping[str, Any]], configs: Mapping[str, TextConfig]
) -> list[tuple[str, str]]:
    """(metadata key, text) pairs of a request, each key distinct, searchable and ACTIVE."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    now = time.time()
    for item in texts:
        key, text = item["metadataKey"], item["text"]
        if key in seen:
            raise ValidationError(
                f"queryTexts: metadata key '{key}' appears more than once; each entry must "
                "target a distinct searchable metadata key",
                "queryTexts",
            )
        seen.add(key)
        config = configs.get(key)
        if config is None:
            raise ValidationError(
                f"queryTexts: metadata key '{key}' has no text search configuration on this "
                "index (add one with UpdateMetadataConfiguration)",
                "queryTexts",
            )
        if config.status(now) != "ACTIVE":
            raise ValidationError(
                f"queryTexts: the text search configuration of metadata key '{key}' is BUILDING "
                "and does not serve queries yet; retry when GetIndex shows it ACTIVE",
                "queryTexts",
            )
        pairs.append((key, text))
    return pairs


def text_ranking(
    pairs: Sequence[tuple[str, str]],
    configs: Mapping[str, TextConfig],
    depth: int,
    allowed: AbstractSet[str] | None,
) -> list[TextHit]:
    """Documents matching any query text, by the sum of their BM25 scores over the keys, best
    first (ties by vector key), at most `depth`."""
    if len(pairs) == 1:
        key, text = pairs[0]
        found = configs[key].field.search(text, limit=depth, allowed=allowed)
        return [TextHit(doc, {key: score}) for doc, score in found]
    queries = [(configs[key].field, text) for key, text in pairs]
    return [
        TextHit(doc, {key: score for (key, _), score in zip(pairs, scores, strict=True) if score})
        for doc, _, scores in search_fields(queries, limit=depth, allowed=allowed)
    ]


def fuse(vector_keys: Sequence[str], text_keys: Sequence[str]) -> list[tuple[str, float]]:
    """Reciprocal Rank Fusion of the vector ranking and the (combined) text ranking."""
    return rrf([list(vector_keys), list(text_keys)], k=RRF_K)
