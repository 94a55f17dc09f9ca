"""get_vectors (GetVectors in chunks of 100, request order) and list_vectors (one page)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..errors import validation_error
from ..fields import Request, check_keys, get_bool, get_int, get_list, get_optional_str
from ..index_ref import IndexRef, resolve_index
from ..service import call


def vector_data(v: dict[str, Any]) -> list[float] | None:
    data = v.get("data")
    if not data:
        return None
    floats = data.get("float32")
    return list(floats) if floats is not None else None


def fetch_vectors(
    ref: IndexRef, keys: list[str], include_data: bool, include_metadata: bool,
    deadline: Deadline,
) -> tuple[dict[str, dict[str, Any]], int]:
    """The stored vectors of `keys` (absent keys left out) and the GetVectors calls made."""
    step = limits.MAX_GET_KEYS_PER_CALL
    chunks = [keys[i : i + step] for i in range(0, len(keys), step)]

    def fetch(keys: list[str]) -> dict[str, Any]:
        return call(
            ref, deadline, "get_vectors",
            keys=keys, returnData=include_data, returnMetadata=include_metadata,
        )

    if not chunks:
        responses = []
    elif len(chunks) == 1:
        responses = [fetch(chunks[0])]
    else:
        # Chunks are independent reads: fetch them concurrently (clients are thread-safe).
        with ThreadPoolExecutor(max_workers=min(limits.BATCH_CONCURRENCY, len(chunks))) as pool:
            responses = list(pool.map(fetch, chunks))
    found: dict[str, dict[str, Any]] = {}
    for response in responses:
        for v in response.get("vectors", ()):
            found[v["key"]] = v
    return found, len(chunks)


def get_answer(
    unique: list[str], found: dict[str, dict[str, Any]], include_data: bool,
    include_metadata: bool,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in unique:
        v = found.get(key)
        if v is None:
            out.append({"vector_id": key, "embedding": None, "metadata": {}, "found": False})
        else:
            out.append(
                {
                    "vector_id": key,
                    "embedding": vector_data(v) if include_data else None,
                    "metadata": (v.get("metadata") or {}) if include_metadata else {},
                    "found": True,
                }
            )
    return out


def get_request(req: Request) -> tuple[list[str], bool, bool]:
    keys = check_keys(get_list(req, "vector_ids"), "vector_ids")
    include_data = get_bool(req, "include_vector_data", True)
    include_metadata = get_bool(req, "include_metadata", True)
    # A repeated id is fetched and answered once, at its first position (as the reference sample).
    return list(dict.fromkeys(keys)), include_data, include_metadata


def get_vectors(req: Request, deadline: Deadline) -> list[dict[str, Any]]:
    ref = resolve_index(req)
    unique, include_data, include_metadata = get_request(req)
    found, _ = fetch_vectors(ref, unique, include_data, include_metadata, deadline)
    return get_answer(unique, found, include_data, include_metadata)


def list_params(req: Request) -> dict[str, Any]:
    """The ListVectors parameters of a list_vectors request (without nextToken), checked."""
    max_results = get_int(
        req,
        "max_results",
        limits.DEFAULT_LIST_MAX_RESULTS,
        limits.MIN_LIST_MAX_RESULTS,
        limits.MAX_LIST_MAX_RESULTS,
    )
    return_data = get_bool(req, "return_data", False)
    return_metadata = get_bool(req, "return_metadata", True)
    segment_count = get_int(
        req, "segment_count", None, limits.MIN_SEGMENT_COUNT, limits.MAX_SEGMENT_COUNT
    )
    segment_index = get_int(req, "segment_index", None, 0, limits.MAX_SEGMENT_COUNT - 1)
    params: dict[str, Any] = {
        "maxResults": max_results,
        "returnData": return_data,
        "returnMetadata": return_metadata,
    }
    if (segment_count is None) != (segment_index is None):
        missing = "segment_index" if segment_index is None else "segment_count"
        raise validation_error(missing, "is required when the other segment field is given")
    if segment_count is not None and segment_index is not None:
        if segment_index >= segment_count:
            raise validation_error(
                "segment_index",
                f"must be less than segment_count ({segment_count}), got {segment_index}",
            )
        params["segmentCount"] = segment_count
        params["segmentIndex"] = segment_index
    return params


def list_page(
    ref: IndexRef, params: dict[str, Any], next_token: str | None, deadline: Deadline
) -> tuple[list[dict[str, Any]], str | None]:
    """One ListVectors page as protocol rows, and the service's nextToken."""
    if next_token is not None:
        params = {**params, "nextToken": next_token}
    response = call(ref, deadline, "list_vectors", **params)
    vectors = [
        {
            "vector_id": v["key"],
            "vector_data": vector_data(v) if params["returnData"] else None,
            "metadata": (v.get("metadata") or {}) if params["returnMetadata"] else {},
        }
        for v in response.get("vectors", ())
    ]
    return vectors, response.get("nextToken") or None


def list_vectors(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    params = list_params(req)
    next_token = get_optional_str(req, "next_token") or None
    vectors, token = list_page(ref, params, next_token, deadline)
    return {"vectors": vectors, "next_token": token, "total_count": len(vectors)}
