"""QueryVectors against one index: vector kNN, full-text (BM25) and hybrid (RRF) rankings, and
the paging of results beyond the first page (docs/emulator.md, "Search")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from s3vectors_emulator.backend.querypages import BuiltRows, QueryPages, ResultSet, Rows
from s3vectors_emulator.backend.vectorindex import F32, VectorIndex
from s3vectors_emulator.exceptions import ValidationError
from s3vectors_emulator.search.filters import Node, compile_filter, uses_operator
from s3vectors_emulator.search.textindex import check_query_texts, fuse, text_ranking

Row = dict[str, Any]


@dataclass(frozen=True)
class Query:
    top_k: int
    mode: str | None  # queryMode as sent
    classic: bool  # the search runs as CLASSIC (mode, or the index's mode)
    pairs: list[tuple[str, str]]  # (metadata key, text) of queryTexts
    vector: F32 | None  # (1, dimension)
    raw_filter: Any
    with_metadata: bool
    with_distance: bool
    with_scores: bool
    token: str | None


def plan(
    index: VectorIndex, mode: str | None, texts: Any, has_vector: bool
) -> tuple[bool, list[tuple[str, str]]]:
    """Whether the query runs as CLASSIC, and its (key, text) pairs; refuses what the index's
    mode or text search configurations do not allow."""
    if mode == "CLASSIC" and index.index_mode == "ENHANCED":
        raise ValidationError("queryMode: CLASSIC cannot be used on an ENHANCED index", "queryMode")
    classic = (mode or index.index_mode) == "CLASSIC"
    pairs: list[tuple[str, str]] = []
    if texts is not None:
        if index.index_mode != "ENHANCED":
            raise ValidationError(
                f"queryTexts: full-text and hybrid search need an ENHANCED index; index "
                f"'{index.name}' is CLASSIC",
                "queryTexts",
            )
        pairs = check_query_texts(texts, index.text)
    if not has_vector and not pairs:
        raise ValidationError(
            "queryVector: a request needs queryVector, queryTexts or both", "queryVector"
        )
    return classic, pairs


def run(index: VectorIndex, query: Query, pages: QueryPages, page_size: int) -> Row:
    """The first page of results (or the page a nextToken stands for) and the next token."""
    vector = query.vector
    if vector is not None:
        index.check_query(vector)
    where = None
    if query.raw_filter is not None:
        where = compile_filter(query.raw_filter, frozenset(index.non_filterable_keys))
        if query.classic and uses_operator(where, "$startsWith"):
            raise ValidationError(
                "filter: $startsWith needs an ENHANCED index or queryMode ENHANCED", "filter"
            )
    fingerprint = _fingerprint(index, query)
    results: ResultSet
    if query.token is not None:
        results = pages.take(query.token, fingerprint)
    elif not query.pairs:
        assert vector is not None
        results = _vector_results(index, query, vector, where)
    else:
        results = BuiltRows(_text_rows(index, query, where))
    page, rest = results.split(page_size)
    out: Row = {"vectors": page, "distanceMetric": index.distance_metric}
    if rest is not None:
        out["nextToken"] = pages.store(fingerprint, rest)
    return out


def _fingerprint(index: VectorIndex, q: Query) -> str:
    """What a nextToken must be sent back with: the same index and query."""
    flags = [q.with_metadata, q.with_distance, q.with_scores]
    described = [index.arn, q.top_k, q.raw_filter, *flags, q.mode, q.pairs]
    return hashlib.sha256(
        json.dumps(described, sort_keys=True).encode()
        + (q.vector.tobytes() if q.vector is not None else b"")
    ).hexdigest()


class _VectorResults:
    """Vector results as (key, distance) in rank order; a page's rows are built when it is sent,
    with the metadata the vector has then (writes between pages may change a later page, as the
    service documents; a vector deleted meanwhile is left out)."""

    def __init__(self, index: VectorIndex, hits: list[tuple[str, float]], q: Query) -> None:
        self._index, self._hits, self._q = index, hits, q

    def split(self, size: int) -> tuple[Rows, ResultSet | None]:
        rows: Rows = []
        row_of, metadata = self._index.row_of, self._index.metadata
        for key, distance in self._hits[:size]:
            row = row_of.get(key)
            if row is None:
                continue
            item: Row = {"key": key}
            if self._q.with_distance:
                item["distance"] = distance
            if self._q.with_metadata:
                item["metadata"] = metadata[row]
            rows.append(item)
        rest = self._hits[size:]
        return rows, (_VectorResults(self._index, rest, self._q) if rest else None)


def _vector_results(index: VectorIndex, q: Query, vector: F32, where: Node | None) -> ResultSet:
    found = index.query(vector[0], q.top_k, index.mask(where), q.classic)
    keys = index.keys
    return _VectorResults(
        index, [(keys[row], float(np.float32(distance))) for row, distance in found], q
    )


def _text_rows(index: VectorIndex, q: Query, where: Node | None) -> list[Row]:
    """Rows of a full-text (BM25) or hybrid (RRF) query; the filter applies to both rankings,
    each ranking is topK deep."""
    mask = index.mask(where)  # one evaluation of the filter serves both rankings
    hits = text_ranking(q.pairs, index.text, q.top_k, index.allowed_keys(mask))
    bm25 = {hit.key: hit.bm25 for hit in hits}
    distances: dict[str, float] = {}
    if q.vector is None:
        ranked: list[tuple[str, float | None]] = [(hit.key, None) for hit in hits]
    else:
        nearest_rows = index.query(q.vector[0], q.top_k, mask)
        distances = {index.keys[row]: float(np.float32(dist)) for row, dist in nearest_rows}
        fused = fuse(list(distances), [hit.key for hit in hits])
        ranked = [(key, score) for key, score in fused[: q.top_k]]
    rows: list[Row] = []
    for key, fused_score in ranked:
        item: Row = {"key": key}
        distance = distances.get(key)
        if q.with_distance and distance is not None:
            item["distance"] = distance
        if q.with_scores:
            item["scores"] = _scores(fused_score, bm25.get(key), distance)
        if q.with_metadata:
            item["metadata"] = index.metadata[index.row_of[key]]
        rows.append(item)
    return rows


def _scores(fused: float | None, matched: dict[str, float] | None, distance: float | None) -> Row:
    scores: Row = {}
    if fused is not None:
        scores["fused"] = fused
    if matched:
        scores["bm25Scores"] = [
            {"metadataKey": name, "score": score} for name, score in matched.items()
        ]
    if distance is not None:
        scores["vectorDistance"] = distance
    return scores
