"""The BM25 index of one searchable metadata key: incremental postings, numpy scoring.

Each document (vector key) gets a small integer id. The postings of a term map ids to term
frequencies in a dict, so a put or delete touches only the document's own terms; a search
turns the postings of its few query terms into numpy arrays (cached per term until a write
touches that term) and scores every candidate in one vectorised pass.

Score of document d for a query with distinct terms t (Okapi BM25, Robertson and Zaragoza
2009, with Lucene's non-negative idf):
    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(d) = sum over t of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
with N the documents that have text for the key, df(t) those containing t, tf the count of t
in d, dl the token count of d and avgdl the mean dl. Not thread-safe for writes: the caller
serialises writes against searches (the emulator's index lock).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from s3vl_local.emulator.text.analyzers import analyze, check_language

# AWS does not publish its parameters; these are Lucene's and the textbook defaults.
BM25_K1 = 1.2
BM25_B = 0.75

Ids = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Allowed = Callable[[str], bool] | AbstractSet[str] | None


def _text_parts(value: object) -> Iterator[str]:
    """The strings a metadata value contributes: itself, or a list's string elements."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        yield from (item for item in value if isinstance(item, str))


class TextField:
    """BM25 index of ONE searchable metadata key of ONE vector index."""

    def __init__(self, language: str | None) -> None:
        check_language(language)
        self.language = language
        self._ids: dict[str, int] = {}
        self._keys: list[str] = []
        self._free: list[int] = []
        self._doc_terms: list[Counter[str] | None] = []
        self._lengths: F64 = np.zeros(16, dtype=np.float64)
        self._total_length = 0
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[Ids, F64]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

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
        self.delete(key)
        terms = Counter(self.tokens(value))
        if not terms:
            return
        doc = self._new_id(key)
        self._doc_terms[doc] = terms
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
        doc = self._ids.pop(key, None)
        if doc is None:
            return
        terms = self._doc_terms[doc]
        assert terms is not None
        for term in terms:
            postings = self._postings[term]
            del postings[doc]
            if not postings:
                del self._postings[term]
            self._arrays.pop(term, None)
        self._total_length -= int(self._lengths[doc])
        self._lengths[doc] = 0.0
        self._doc_terms[doc] = None
        self._free.append(doc)

    def _new_id(self, key: str) -> int:
        if self._free:
            doc = self._free.pop()
            self._keys[doc] = key
        else:
            doc = len(self._keys)
            self._keys.append(key)
            self._doc_terms.append(None)
            if doc >= self._lengths.shape[0]:
                grown = np.zeros(self._lengths.shape[0] * 2, dtype=np.float64)
                grown[: self._lengths.shape[0]] = self._lengths
                self._lengths = grown
        self._ids[key] = doc
        return doc

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
        n = len(self._ids)
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
        if len(per_term) == 1:
            return per_term[0]
        dense = np.zeros(len(self._keys), dtype=np.float64)
        for ids, part in per_term:  # ids are unique within one term's postings
            dense[ids] += part
        hits = np.flatnonzero(dense).astype(np.int64)
        return hits, dense[hits]

    def search(
        self, query: str, limit: int | None = None, allowed: Allowed = None
    ) -> list[tuple[str, float]]:
        """(key, BM25 score) of the documents matching `query`, best first, ties by key.

        Only scores > 0 are returned, at most `limit` of them (None: all). `allowed` (a set of
        keys or a predicate on a key) restricts the candidates; N, avgdl and df stay those of
        the whole field, so a key's score does not depend on the filter.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        if limit == 0:
            return []
        ids, scores = self.scores(query)
        predicate: Callable[[str], bool] | None = None
        if isinstance(allowed, AbstractSet):
            keep = self._allowed_mask(ids, allowed)
            ids, scores = ids[keep], scores[keep]
        elif allowed is not None:
            predicate = allowed
        positive = scores > 0.0
        if not positive.all():
            ids, scores = ids[positive], scores[positive]
        if predicate is None and limit is not None and ids.shape[0] > limit:
            # Only the best `limit` scores (and everything tied with the last) can be returned.
            threshold = np.partition(scores, ids.shape[0] - limit)[ids.shape[0] - limit]
            keep = scores >= threshold
            ids, scores = ids[keep], scores[keep]
        return self._ranked(ids, scores, limit, predicate)

    def _allowed_mask(self, ids: Ids, allowed: AbstractSet[str]) -> npt.NDArray[np.bool_]:
        keys = self._keys
        if len(allowed) < ids.shape[0]:
            member = np.zeros(len(keys), dtype=np.bool_)
            allowed_ids = [self._ids[k] for k in allowed if k in self._ids]
            member[np.asarray(allowed_ids, dtype=np.int64)] = True
            return member[ids]  # type: ignore[no-any-return]
        return np.fromiter((keys[i] in allowed for i in ids.tolist()), np.bool_, ids.shape[0])

    def _ranked(
        self, ids: Ids, scores: F64, limit: int | None, predicate: Callable[[str], bool] | None
    ) -> list[tuple[str, float]]:
        """Walk groups of equal score, best first, each group in key order, up to `limit`."""
        if ids.shape[0] == 0:
            return []
        order = np.argsort(-scores, kind="stable")
        ids, scores = ids[order], scores[order]
        bounds = (np.flatnonzero(scores[1:] != scores[:-1]) + 1).tolist()
        out: list[tuple[str, float]] = []
        keys = self._keys
        for start, end in zip([0, *bounds], [*bounds, ids.shape[0]], strict=True):
            score = float(scores[start])
            group = [keys[i] for i in ids[start:end].tolist()]
            if predicate is not None:
                for key in sorted(group):
                    if predicate(key):
                        out.append((key, score))
                        if len(out) == limit:
                            return out
                continue
            chosen = sorted(group) if limit is None else heapq.nsmallest(limit - len(out), group)
            out.extend((key, score) for key in chosen)
            if limit is not None and len(out) >= limit:
                return out
        return out
