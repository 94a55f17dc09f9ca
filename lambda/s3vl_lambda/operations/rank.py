"""rank_vectors: the exact top_k among given keys (the prefilter plan of query_vectors_where).

The vectors are read with GetVectors (100 keys a call, calls in parallel) and ranked here by the
index's metric, so the answer is exact whatever share of the index the keys are."""

from __future__ import annotations

import math
import operator
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..errors import S3vlError, validation_error
from ..fields import (
    Request,
    check_dimension,
    check_keys,
    check_vector,
    get_bool,
    get_int,
    get_list,
    get_metadata_filter,
)
from ..index_info import get_index_info
from ..index_ref import IndexRef, resolve_index
from ..metadata_filter import compile_filter
from ..partitions import Partition, PartitionSet, note_read, read_partitions, relabel
from ..service import call
from ..text_query import similarity


def _float32(values: list[float]) -> list[float]:
    """The query as S3 Vectors stores vectors: rounded to float32."""
    return list(struct.unpack(f"{len(values)}f", struct.pack(f"{len(values)}f", *values)))


def distance(data: list[float], query: list[float], metric: str,
             query_norm: float | None = None) -> float:
    """S3 Vectors' distance in double precision (cosine: 1 - cos, never negative; euclidean: L2)."""
    if metric == "cosine":
        dot = sum(map(operator.mul, data, query))
        qn = query_norm if query_norm is not None else math.sqrt(sum(map(operator.mul, query,
                                                                        query)))
        norms = math.sqrt(sum(map(operator.mul, data, data))) * qn
        return max(1.0 - dot / norms, 0.0) if norms > 0 else 1.0
    return math.sqrt(sum((a - b) * (a - b) for a, b in zip(data, query, strict=True)))


def _targets(req: Request, keys: list[str],
             metadata_filter: dict[str, Any] | None) -> list[tuple[IndexRef, Partition | None,
                                                                    list[str]]]:
    """(index, its partition or None for a plain index, keys to read there)."""
    if req.get("partitions") is None:
        return [(resolve_index(req), None, keys)]
    ps: PartitionSet = read_partitions(req)
    if ps.hashed:
        groups: dict[int, list[str]] = {}
        for k in keys:
            groups.setdefault(ps.for_key(k).ordinal, []).append(k)
        return [(p.ref, p, groups[p.ordinal]) for p in ps.partitions if p.ordinal in groups]
    return [(p.ref, p, keys) for p in ps.pinned(metadata_filter)]


def rank_vectors(req: Request, deadline: Deadline) -> dict[str, Any]:
    keys = list(dict.fromkeys(check_keys(get_list(req, "vector_ids"), "vector_ids")))
    if len(keys) > limits.MAX_RANK_KEYS:
        raise validation_error(
            "vector_ids", f"has {len(keys)} keys; at most {limits.MAX_RANK_KEYS} per request")
    query = check_vector(req.get("query_vector"), "query_vector")
    top_k = get_int(req, "top_k", limits.DEFAULT_TOP_K, limits.MIN_TOP_K, limits.MAX_TOP_K)
    assert top_k is not None
    return_metadata = get_bool(req, "return_metadata", True)
    metadata_filter = get_metadata_filter(req)
    passes = compile_filter(metadata_filter) if metadata_filter is not None else (lambda m: True)
    targets = _targets(req, keys, metadata_filter)
    step = limits.MAX_GET_KEYS_PER_CALL
    metrics: dict[int, str] = {}
    for n, (ref, part, _) in enumerate(targets):
        try:
            info = get_index_info(ref, deadline)
        except S3vlError as err:
            raise (relabel(err, part) if part is not None else err) from err
        check_dimension(query, "query_vector", info.dimension)
        metrics[n] = info.distance_metric
    parts = [part.ordinal for _, part, _ in targets if part is not None]
    if parts:
        note_read(parts)
    rounded = _float32(query)
    query_norm = math.sqrt(sum(map(operator.mul, rounded, rounded)))
    calls = [(n, chunk_keys) for n, (_, _, ks) in enumerate(targets)
             for chunk_keys in (ks[i : i + step] for i in range(0, len(ks), step))]

    def fetch(task: tuple[int, list[str]]) -> tuple[int, list[dict[str, Any]]]:
        n, chunk_keys = task
        ref, part, _ = targets[n]
        try:
            response = call(ref, deadline, "get_vectors", keys=chunk_keys, returnData=True,
                            returnMetadata=True)
        except S3vlError as err:
            raise (relabel(err, part) if part is not None else err) from err
        metric = metrics[n]
        rows = []
        for v in response.get("vectors", ()):
            metadata = v.get("metadata") or {}
            data = (v.get("data") or {}).get("float32")
            if data is None or not passes(metadata):
                continue
            d = distance(data, rounded, metric, query_norm)
            rows.append({"vector_id": v["key"], "distance": d,
                         "similarity_score": similarity(d, metric),
                         "metadata": metadata if return_metadata else {}})
        return len(response.get("vectors", ())), rows

    if len(calls) <= 1:
        answers = [fetch(c) for c in calls]
    else:
        with ThreadPoolExecutor(max_workers=min(limits.PARTITION_CONCURRENCY, len(calls))) as pool:
            answers = list(pool.map(fetch, calls))
    best: dict[str, dict[str, Any]] = {}
    examined = 0
    for found, rows in answers:  # ordinal order: the lowest ordinal's copy of a key wins
        examined += found
        for row in rows:
            best.setdefault(row["vector_id"], row)
    ranked = sorted(best.values(), key=lambda r: (r["distance"], r["vector_id"]))
    return {"vectors": ranked[:top_k], "examined": examined, "calls": len(calls)}
