"""query_vectors (vector, full-text and hybrid QueryVectors; whole or page by page) and
query_vectors_batch (vector-only)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..embeddings import check_text as check_embed_text
from ..embeddings import embed_one, function_region, read_spec
from ..errors import SERVICE_ERROR, TIMEOUT, S3vlError, from_exception, validation_error
from ..fields import (
    Request,
    check_dimension,
    check_vector,
    get_bool,
    get_int,
    get_list,
    get_metadata_filter,
    get_optional_bounded_str,
)
from ..index_info import IndexInfo, forget_on_error, index_info_if_allowed
from ..index_ref import IndexRef, resolve_index
from ..service import call
from ..text_query import read_query_texts, similarity, text_row

__all__ = ["query_vectors", "query_vectors_batch", "similarity"]

# Present in a request (even as null): the answer is one page-by-page object, not an array.
_PAGING_FIELDS = ("page_token", "max_pages")


class _QueryOptions:
    __slots__ = ("metadata_filter", "return_metadata", "top_k")

    def __init__(self, req: Request) -> None:
        top_k = get_int(req, "top_k", limits.DEFAULT_TOP_K, limits.MIN_TOP_K, limits.MAX_TOP_K)
        assert top_k is not None
        self.top_k = top_k
        self.return_metadata = get_bool(req, "return_metadata", True)
        self.metadata_filter = get_metadata_filter(req)


class _Paging:
    """Where to start (`page_token`) and how many service pages to fetch (`max_pages`)."""

    __slots__ = ("max_pages", "page_token")

    def __init__(self, req: Request) -> None:
        self.page_token = get_optional_bounded_str(
            req, "page_token", limits.MIN_NEXT_TOKEN_LENGTH, limits.MAX_NEXT_TOKEN_LENGTH
        )
        self.max_pages = get_int(
            req, "max_pages", None, limits.MIN_MAX_PAGES, limits.MAX_QUERY_PAGES
        )


_WHOLE = _Paging({})  # the non-paged query: from the first page, until top_k or the end


def _vector_row(v: dict[str, Any], metric: str, return_metadata: bool) -> dict[str, Any]:
    distance = float(v.get("distance", 0.0))
    return {
        "vector_id": v["key"],
        "distance": distance,
        "similarity_score": similarity(distance, metric),
        "metadata": (v.get("metadata") or {}) if return_metadata else {},
    }


def _run_query(
    ref: IndexRef,
    info: IndexInfo | None,
    vector: list[float] | None,
    texts: list[dict[str, str]] | None,
    opts: _QueryOptions,
    paging: _Paging,
    deadline: Deadline,
) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of the pages fetched, and the service's nextToken after the last one."""
    params: dict[str, Any] = {"topK": opts.top_k, "returnMetadata": opts.return_metadata}
    if vector is not None:
        params["queryVector"] = {"float32": vector}
    if texts is not None:
        # Text and hybrid scores (BM25, RRF, vector distance) all come in `scores`.
        params["queryTexts"] = texts
        params["returnScores"] = True
        to_row = text_row
    else:
        params["returnDistance"] = True
        to_row = _vector_row
    if opts.metadata_filter is not None:
        params["filter"] = opts.metadata_filter
    seen_tokens: set[str] = set()
    if paging.page_token is not None:
        params["nextToken"] = paging.page_token
        seen_tokens.add(paging.page_token)
    metric = info.distance_metric if info is not None else "cosine"
    results: list[dict[str, Any]] = []
    pages = 0
    token: str | None = None
    while True:
        try:
            response = call(ref, deadline, "query_vectors", **params)
        except S3vlError as err:
            if err.error_type == TIMEOUT and pages > 0 and paging is not _WHOLE:
                # Out of time after some pages: hand back what was fetched and the token of the
                # page not fetched yet, so the caller continues instead of starting over.
                token = params["nextToken"]
                break
            forget_on_error(ref, err)
            raise
        pages += 1
        metric = str(response.get("distanceMetric") or metric).lower()
        results.extend(to_row(v, metric, opts.return_metadata) for v in response.get("vectors", ()))
        token = response.get("nextToken") or None
        if (
            token is None
            or len(results) >= opts.top_k
            or (paging.max_pages is not None and pages >= paging.max_pages)
        ):
            break
        if token in seen_tokens or pages >= limits.MAX_QUERY_PAGES:
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
    if texts is None:
        # Pages are each sorted; keep the contract (ascending distance) across pages. Text and
        # hybrid rows keep the service's ranking (BM25 or RRF), which has no distance to sort by.
        results.sort(key=lambda r: r["distance"])
    return results, token


def query_vectors(req: Request, deadline: Deadline) -> Any:
    ref = resolve_index(req)
    texts = read_query_texts(req)
    raw_vector = req.get("query_vector")
    query_text = req.get("query_text")
    if raw_vector is None and texts is None and query_text is None:
        raise validation_error("query_vector", "is required unless query_text or query_texts "
                               "is given")
    if query_text is not None and raw_vector is not None:
        raise validation_error("query_text", "send query_vector or query_text, not both")
    vector = None if raw_vector is None else check_vector(raw_vector, "query_vector")
    if query_text is not None:
        # Embedded here, then queried in the same invocation (one round trip from SQL).
        spec = read_spec(req)
        vector, _ = embed_one(check_embed_text(query_text, "query_text"), spec,
                              function_region(), deadline, "query_text")
    opts = _QueryOptions(req)
    paged = any(f in req for f in _PAGING_FIELDS)
    paging = _Paging(req) if paged else _WHOLE
    # A text-only query has no vector to pre-check; it needs no GetIndex.
    info = index_info_if_allowed(ref, deadline) if vector is not None else None
    if info is not None and vector is not None:
        check_dimension(vector, "query_vector" if query_text is None else "query_text",
                        info.dimension)
    rows, token = _run_query(ref, info, vector, texts, opts, paging, deadline)
    if paged:
        # Every row of the pages fetched: the caller continues from `next_token`, so none may
        # be dropped.
        return {"vectors": rows, "next_token": token}
    return rows[: opts.top_k]


def batch_request(req: Request) -> tuple[list[Any], list[str] | None, _QueryOptions]:
    """The query vectors, ids and shared options of a query_vectors_batch request, checked."""
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
    for field in ("query_texts", "query_text", *_PAGING_FIELDS):
        if req.get(field) is not None:
            raise validation_error(
                field,
                "query_vectors_batch is vector-only; send text and hybrid queries with "
                "query_vectors" if field.startswith("query_text") else
                "query_vectors_batch does not page; send paged queries with query_vectors",
            )
    return vectors, query_ids, _QueryOptions(req)


def run_batch(
    vectors: list[Any],
    query_ids: list[str] | None,
    search: Callable[[list[float], str], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """One entry per query; `search(vector, field)` answers one checked vector."""

    def one(i: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "query_index": i,
            "query_id": query_ids[i] if query_ids is not None else None,
        }
        try:
            field = f"query_vectors[{i}]"
            entry["results"] = search(check_vector(vectors[i], field), field)
            entry["success"] = True
        except Exception as exc:  # one bad query fails only its own entry
            entry["success"] = False
            entry["error"] = from_exception(exc, "query_vectors").to_dict()
        return entry

    if len(vectors) == 1:
        return [one(0)]
    workers = min(limits.BATCH_CONCURRENCY, len(vectors))
    # Each query runs with a copy of this invocation's context: a partitioned index's fan-out
    # then shares the invocation's pool (partitions.bind_fan_out_pool).
    contexts = [contextvars.copy_context() for _ in vectors]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: contexts[i].run(one, i), range(len(vectors))))


def query_vectors_batch(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ref = resolve_index(req)
    vectors, query_ids, opts = batch_request(req)
    info = index_info_if_allowed(ref, deadline)

    def search(vector: list[float], field: str) -> list[dict[str, Any]]:
        if info is not None:
            check_dimension(vector, field, info.dimension)
        rows, _ = _run_query(ref, info, vector, None, opts, _WHOLE, deadline)
        return rows[: opts.top_k]

    return run_batch(vectors, query_ids, search)
