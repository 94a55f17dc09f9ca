"""The BM25 index of one searchable metadata key: incremental postings, numpy scoring.

Each document (vector key) has a small integer id (from a `DocIds`, shared by the fields of
one vector index). The postings of a term map ids to term frequencies in a dict, so a put or
delete touches only the document's own terms; a search turns the postings of its few query
terms into numpy arrays (cached per term until a write touches that term) and scores every
candidate in one vectorised pass.

Score of document d for a query with distinct terms t (Okapi BM25, Robertson and Zaragoza
2009, with Lucene's non-negative idf):
    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(d) = sum over t of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
with N the documents that have text for the key, df(t) those containing t, tf the count of t
in d, dl the token count of d and avgdl the mean dl. Not thread-safe for writes: the caller
serialises writes against searches (the emulator's index lock).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from s3vectors_emulator.search.text.analyzers import analyze, check_language
from s3vectors_emulator.search.text.docids import DocIds
from s3vectors_emulator.search.text.ranking import F64, Allowed, Ids, best, check_limit

# AWS does not publish its parameters; these are Lucene's and the textbook defaults.
BM25_K1 = 1.2
BM25_B = 0.75


def _text_parts(value: object) -> Iterator[str]:
    """The strings a metadata value contributes: itself, or a list's string elements."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        yield from (item for item in value if isinstance(item, str))


class TextField:
    """BM25 index of ONE searchable metadata key of ONE vector index.

    `doc_ids`: pass the same `DocIds` to every field of one vector index to search several
    fields at once with `search_fields`; by default the field has its own.
    """

    def __init__(self, language: str | None, doc_ids: DocIds | None = None) -> None:
        check_language(language)
        self.language = language
        self.doc_ids = doc_ids if doc_ids is not None else DocIds()
        self._docs: dict[int, tuple[str, ...]] = {}  # id -> its distinct terms, to delete
        self._lengths: F64 = np.zeros(16, dtype=np.float64)
        self._total_length = 0
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[Ids, F64]] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._id(key) is not None

    def _id(self, key: str) -> int | None:
        doc = self.doc_ids.get(key)
        return doc if doc is not None and doc in self._docs else None

    def tokens(self, value: object) -> list[str]:
        """The tokens this field indexes for a metadata value (empty: no text)."""
        tokens: list[str] = []
        for part in _text_parts(value):
            tokens.extend(analyze(part, self.language))
        return tokens

    def put(self, key: str, value: object) -> None:
        """Index `value` as the text of `key`, replacing any earlier value.

        A string is one text; a list's string elements are indexed together as one document
        (their tokens concatenated); anything else, or a value with no token, leaves `key`
        without text for this field.
        """
        terms = Counter(self.tokens(value))
        self.delete(key)
        if not terms:
            return
        doc = self.doc_ids.acquire(key)
        self._docs[doc] = tuple(terms)
        if doc >= self._lengths.shape[0]:
            grown = np.zeros(max(2 * self._lengths.shape[0], doc + 1), dtype=np.float64)
            grown[: self._lengths.shape[0]] = self._lengths
            self._lengths = grown
        length = sum(terms.values())
        self._lengths[doc] = length
        self._total_length += length
        for term, tf in terms.items():
            self._postings.setdefault(term, {})[doc] = tf
            self._arrays.pop(term, None)

    def put_many(self, items: Iterable[tuple[str, object]]) -> None:
        """`put` for each (key, value) in order (e.g. to rebuild a field from stored metadata)."""
        for key, value in items:
            self.put(key, value)

    def delete(self, key: str) -> None:
        """Remove `key`'s text; no-op if it has none."""
        doc = self._id(key)
        if doc is None:
            return
        for term in self._docs.pop(doc):
            postings = self._postings[term]
            del postings[doc]
            if not postings:
                del self._postings[term]
            self._arrays.pop(term, None)
        self._total_length -= int(self._lengths[doc])
        self._lengths[doc] = 0.0
        self.doc_ids.release(doc)

    def clear(self) -> None:
        """Remove every text (e.g. when the key's text search configuration is dropped),
        releasing the field's hold on the shared document ids."""
        for doc in self._docs:
            self.doc_ids.release(doc)
        self._docs.clear()
        self._lengths = np.zeros(16, dtype=np.float64)
        self._total_length = 0
        self._postings.clear()
        self._arrays.clear()

    def _term_arrays(self, term: str) -> tuple[Ids, F64]:
        cached = self._arrays.get(term)
        if cached is None:
            postings = self._postings[term]
            ids = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
            tfs = np.fromiter(postings.values(), dtype=np.float64, count=len(postings))
            cached = self._arrays[term] = (ids, tfs)
        return cached

    def scores(self, query: str) -> tuple[Ids, F64]:
        """Ids of every document matching `query` and their BM25 scores (unordered)."""
        terms = [t for t in dict.fromkeys(analyze(query, self.language)) if t in self._postings]
        n = len(self._docs)
        if not terms or n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        avgdl = self._total_length / n
        per_term = []
        for term in terms:
            ids, tfs = self._term_arrays(term)
            df = ids.shape[0]
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self._lengths[ids] / avgdl)
            per_term.append((ids, idf * tfs * (BM25_K1 + 1.0) / (tfs + norm)))
        return _sum_by_id(per_term, len(self.doc_ids))

    def search(
        self, query: str, limit: int | None = None, allowed: Allowed = None
    ) -> list[tuple[str, float]]:
        """(key, BM25 score) of the documents matching `query`, best first, ties by key.

        Only scores > 0 are returned, at most `limit` of them (None: all). `allowed` (a set of
        keys or a predicate on a key) restricts the candidates; N, avgdl and df stay those of
        the whole field, so a key's score does not depend on the filter.
        """
        check_limit(limit)
        ids, scores = self.scores(query)
        keys = self.doc_ids.keys
        return [
            (keys[doc], score) for doc, score in best(self.doc_ids, ids, scores, limit, allowed)
        ]


def search_fields(
    queries: Sequence[tuple[TextField, str]], limit: int | None = None, allowed: Allowed = None
) -> list[tuple[str, float, tuple[float, ...]]]:
    """Documents matching any (field, query) pair, by the sum of their BM25 scores.

    Returns (key, total, per-pair scores in the order of `queries`, 0.0 where that pair did
    not match), best total first, ties by key, at most `limit`; `allowed` as for
    `TextField.search`. The fields must share one `DocIds`.
    """
    check_limit(limit)
    if not queries:
        return []
    doc_ids = queries[0][0].doc_ids
    if any(field.doc_ids is not doc_ids for field, _ in queries):
        raise ValueError("search_fields: the fields must share one DocIds")
    parts = [field.scores(query) for field, query in queries]
    hits, totals = _sum_by_id(parts, len(doc_ids))
    found = best(doc_ids, hits, totals, limit, allowed)
    chosen = np.fromiter((doc for doc, _ in found), dtype=np.int64, count=len(found))
    per_pair = np.zeros((len(parts), len(found)), dtype=np.float64)
    scratch = np.zeros(len(doc_ids), dtype=np.float64)
    for row, (ids, scores) in enumerate(parts):
        scratch[ids] = scores
        per_pair[row] = scratch[chosen]
        scratch[ids] = 0.0
    keys = doc_ids.keys
    return [
        (keys[doc], score, tuple(column))
        for (doc, score), column in zip(found, per_pair.T.tolist(), strict=True)
    ]


def _sum_by_id(parts: Sequence[tuple[Ids, F64]], capacity: int) -> tuple[Ids, F64]:
    """Ids present in any part (ids unique within a part) and their scores summed in part
    order, so equal inputs give bit-identical sums."""
    if len(parts) == 1:
        return parts[0]
    size = sum(ids.shape[0] for ids, _ in parts)
    if size * 16 < capacity:  # few candidates: sorting them beats a pass over every id
        hits, inverse = np.unique(np.concatenate([ids for ids, _ in parts]), return_inverse=True)
        sums = np.bincount(inverse, weights=np.concatenate([s for _, s in parts]))
        return hits.astype(np.int64), sums.astype(np.float64, copy=False)
    dense = np.zeros(capacity, dtype=np.float64)
    seen = np.zeros(capacity, dtype=np.bool_)
    for ids, scores in parts:
        dense[ids] += scores
        seen[ids] = True
    hits = np.flatnonzero(seen).astype(np.int64)
    return hits, dense[hits]
