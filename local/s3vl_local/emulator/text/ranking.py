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

from s3vl_local.emulator.text.docids import DocIds

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
    predicate: Callable[[str], bool] | None = None
    if isinstance(allowed, AbstractSet):
        keep = _allowed_mask(docs, ids, allowed)
        ids, scores = ids[keep], scores[keep]
    elif allowed is not None:
        predicate = allowed
    positive = scores > 0.0
    if not positive.all():
        ids, scores = ids[positive], scores[positive]
    if predicate is None and limit is not None and ids.shape[0] > limit:
        # Only the best `limit` scores (and everything tied with the last) can be returned.
        cut = ids.shape[0] - limit
        threshold = np.partition(scores, cut)[cut]
        keep = scores >= threshold
        ids, scores = ids[keep], scores[keep]
    return _walk(docs.keys, ids, scores, limit, predicate)


def _allowed_mask(docs: DocIds, ids: Ids, allowed: AbstractSet[str]) -> npt.NDArray[np.bool_]:
    keys = docs.keys
    if len(allowed) < ids.shape[0]:  # look up whichever side is smaller
        member = np.zeros(len(keys), dtype=np.bool_)
        found = [doc for doc in map(docs.get, allowed) if doc is not None]
        member[np.asarray(found, dtype=np.int64)] = True
        return member[ids]  # type: ignore[no-any-return]
    return np.fromiter((keys[i] in allowed for i in ids.tolist()), np.bool_, ids.shape[0])


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
