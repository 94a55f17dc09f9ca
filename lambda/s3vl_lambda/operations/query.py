"""query_vectors (QueryVectors, following nextToken) and query_vectors_batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..errors import SERVICE_ERROR, S3vlError, from_exception, validation_error
from ..fields import (
    Request,
    check_dimension,
    check_vector,
    get_bool,
    get_int,
    get_list,
    get_optional_object,
)
from ..index_info import IndexInfo, forget_on_error, index_info_if_allowed
from ..index_ref import IndexRef, resolve_index
from ..service import call


def similarity(distance: float, metric: str) -> float:
    """Cosine: 1 - distance. Euclidean: 1 / (1 + distance), monotone into (0, 1]."""
    if metric == "euclidean":
        return 1.0 / (1.0 + distance)
    return 1.0 - distance


class _QueryOptions:
    __slots__ = ("metadata_filter", "return_metadata", "top_k")

    def __init__(self, req: Request) -> None:
        top_k = get_int(req, "top_k", limits.DEFAULT_TOP_K, limits.MIN_TOP_K, limits.MAX_TOP_K)
        assert top_k is not None
        self.top_k = top_k
        self.return_metadata = get_bool(req, "return_metadata", True)
        self.metadata_filter = get_optional_object(req, "metadata_filter")


def _run_query(
    ref: IndexRef,
    info: IndexInfo | None,
    vector: list[float],
    opts: _QueryOptions,
    deadline: Deadline,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "topK": opts.top_k,
        "queryVector": {"float32": vector},
        "returnMetadata": opts.return_metadata,
        "returnDistance": True,
    }
    if opts.metadata_filter is not None:
        params["filter"] = opts.metadata_filter
    metric = info.distance_metric if info is not None else "cosine"
    results: list[dict[str, Any]] = []
    seen_tokens: set[str] = set()
    while True:
        try:
            response = call(ref, deadline, "query_vectors", **params)
        except S3vlError as err:
            forget_on_error(ref, err)
            raise
        metric = str(response.get("distanceMetric") or metric).lower()
        for v in response.get("vectors", ()):
            distance = float(v.get("distance", 0.0))
            results.append(
                {
                    "vector_id": v["key"],
                    "distance": distance,
                    "similarity_score": similarity(distance, metric),
                    "metadata": (v.get("metadata") or {}) if opts.return_metadata else {},
                }
            )
        token = response.get("nextToken")
        if len(results) >= opts.top_k or not token:
            break
        if token in seen_tokens or len(seen_tokens) + 1 >= limits.MAX_QUERY_PAGES:
            # Stopping quietly would truncate the answer; say so instead.
            raise S3vlError(
                SERVICE_ERROR,
                f"query_vectors: QueryVectors paging did not end (repeated nextToken or more "
                f"than {limits.MAX_QUERY_PAGES} pages) after {len(results)} of top_k "
                f"{opts.top_k} results",
                code="PagingError",
            )
        seen_tokens.add(token)
        params["nextToken"] = token
    # Pages are each sorted; keep the contract (ascending distance) even across pages.
    results.sort(key=lambda r: r["distance"])
    return results[: opts.top_k]


def query_vectors(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ref = resolve_index(req)
    vector = check_vector(req.get("query_vector"), "query_vector")
    opts = _QueryOptions(req)
    info = index_info_if_allowed(ref, deadline)
    if info is not None:
        check_dimension(vector, "query_vector", info.dimension)
    return _run_query(ref, info, vector, opts, deadline)


def query_vectors_batch(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ref = resolve_index(req)
    vectors = get_list(req, "query_vectors")
    if len(vectors) > limits.MAX_BATCH_QUERIES:
        raise validation_error(
            "query_vectors",
            f"has {len(vectors)} queries; at most {limits.MAX_BATCH_QUERIES} per request",
        )
    query_ids = req.get("query_ids")
    if query_ids is not None and (
        not isinstance(query_ids, list)
        or len(query_ids) != len(vectors)
        or not all(isinstance(q, str) for q in query_ids)
    ):
        raise validation_error(
            "query_ids", f"must be an array of {len(vectors)} strings (one per query vector)"
        )
    opts = _QueryOptions(req)
    info = index_info_if_allowed(ref, deadline)

    def one(i: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "query_index": i,
            "query_id": query_ids[i] if query_ids is not None else None,
        }
        try:
            field = f"query_vectors[{i}]"
            vector = check_vector(vectors[i], field)
            if info is not None:
                check_dimension(vector, field, info.dimension)
            entry["results"] = _run_query(ref, info, vector, opts, deadline)
            entry["success"] = True
        except Exception as exc:  # one bad query fails only its own entry
            entry["success"] = False
            entry["error"] = from_exception(exc, "query_vectors").to_dict()
        return entry

    if len(vectors) == 1:
        return [one(0)]
    workers = min(limits.BATCH_CONCURRENCY, len(vectors))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(vectors))))
