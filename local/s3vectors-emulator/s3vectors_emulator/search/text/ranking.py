"""Order scored documents: score descending, ties by vector key, restricted by a filter.

Shared by one-field and several-field searches; works on numpy arrays of document ids and
scores and turns only the returned ids into keys.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from s3vectors_emulator.search.text.docids import DocIds

Ids = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Allowed = Callable[[str], bool] | AbstractSet[str] | None


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")


def best(
    docs: DocIds, ids: Ids, scores: F64, limit: int | None, allowed: Allowed
) -> list[tuple[int, float]]:
    """(id, score) of the documents with score > 0 that `allowed` admits, best first, equal
    scores in key order, at most `limit` (None: all)."""
    if limit == 0:
        return []
    positive = scores > 0.0
    if not positive.all():
        ids, scores = ids[positive], scores[positive]
    predicate: Callable[[str], bool] | None = None
    if isinstance(allowed, AbstractSet):
        # Either look up every allowed key (a mask), or test candidates best first until
        # `limit` pass (about limit / (share of keys allowed) tests): whichever costs less.
        tests = ids.shape[0]
        if limit is not None and allowed:
            tests = min(tests, limit * len(docs) // len(allowed) + 1)
        if len(allowed) < tests:
            keep = _member(docs, allowed)[ids]
            ids, scores = ids[keep], scores[keep]
        else:
            predicate = allowed.__contains__
    elif allowed is not None:
        predicate = allowed
    if limit is None or ids.shape[0] <= limit:
        return _walk(docs.keys, ids, scores, limit, predicate)
    # Rank only the best `depth` candidates (with everything tied with the last): they are a
    # prefix of the full order, so if `limit` of them pass, they are the answer. A predicate
    # may reject many: then look 4 times deeper.
    depth = limit
    while True:
        cut = ids.shape[0] - depth
        if cut <= 0:
            return _walk(docs.keys, ids, scores, limit, predicate)
        keep = scores >= np.partition(scores, cut)[cut]
        found = _walk(docs.keys, ids[keep], scores[keep], limit, predicate)
        if len(found) == limit:
            return found
        depth *= 4


def _member(docs: DocIds, allowed: AbstractSet[str]) -> npt.NDArray[np.bool_]:
    member = np.zeros(len(docs), dtype=np.bool_)
    found = [doc for doc in map(docs.get, allowed) if doc is not None]
    member[np.asarray(found, dtype=np.int64)] = True
    return member


def _walk(
    keys: list[str],
    ids: Ids,
    scores: F64,
    limit: int | None,
    predicate: Callable[[str], bool] | None,
) -> list[tuple[int, float]]:
    """Groups of equal score, best first, each group in key order, up to `limit`."""
    if ids.shape[0] == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    ids, scores = ids[order], scores[order]
    bounds = (np.flatnonzero(scores[1:] != scores[:-1]) + 1).tolist()
    id_list, values = ids.tolist(), scores.tolist()
    out: list[tuple[int, float]] = []
    for start, end in zip([0, *bounds], [*bounds, len(id_list)], strict=True):
        score = values[start]
        group = id_list[start:end]
        need = None if limit is None or predicate is not None else limit - len(out)
        if need is not None and end - start > need:
            group = heapq.nsmallest(need, group, key=keys.__getitem__)
        elif end - start > 1:
            group.sort(key=keys.__getitem__)
        if predicate is not None:
            for doc in group:
                if predicate(keys[doc]):
                    out.append((doc, score))
                    if len(out) == limit:
                        return out
            continue
        out.extend(zip(group, [score] * len(group), strict=True))
        if len(out) == limit:
            return out
    return out
