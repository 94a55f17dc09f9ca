"""put_vectors and delete_vectors: validate everything first, then split into per-call chunks."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

from .. import limits
from ..clients import SHORTEST_CALL_S
from ..deadline import Deadline
from ..errors import THROTTLED, S3vlError, validation_error
from ..fields import (
    Request,
    all_finite_float32,
    check_dimension,
    check_key,
    check_keys,
    check_metadata,
    check_vector,
    check_vector_shape,
    get_list,
    is_zero_vector,
    json_type,
    wire_size,
)
from ..index_info import IndexInfo, forget_on_error, index_info_if_allowed
from ..index_ref import IndexRef, resolve_index
from ..service import call
from .embed import embed_put_texts

# Upper bound on the JSON bytes of one float32 number ("-1.2345678901234567e-38,").
_BYTES_PER_NUMBER = 26
_BYTES_PER_VECTOR_OVERHEAD = 64


def check_put_vector(
    item: Any, i: int, info: IndexInfo | None, numbers: bool = True
) -> tuple[dict[str, Any], int]:
    """One validated PutVectors input vector and an upper bound on its JSON size. `numbers`
    False leaves the vector's elements unchecked (check_put_vectors checks a batch's at once)."""
    field = f"vectors[{i}]"
    if not isinstance(item, dict):
        raise validation_error(field, f"must be an object, got {json_type(item)}")
    key = check_key(item.get("key"), f"{field}.key")
    data = item.get("data")
    if isinstance(data, dict):
        data = data.get("float32")
    vector = (check_vector if numbers else check_vector_shape)(data, f"{field}.data")
    if info is not None:
        check_dimension(vector, f"{field}.data", info.dimension)
    if info is not None and info.distance_metric == "cosine" and is_zero_vector(vector):
        raise validation_error(
            f"{field}.data", "an all-zero vector has no direction; a cosine index rejects it"
        )
    out: dict[str, Any] = {"key": key, "data": {"float32": vector}}
    size = wire_size(key) + len(vector) * _BYTES_PER_NUMBER + _BYTES_PER_VECTOR_OVERHEAD
    metadata = item.get("metadata")
    if metadata is not None:
        non_filterable = info.non_filterable_metadata_keys if info is not None else None
        out["metadata"] = check_metadata(metadata, f"{field}.metadata", non_filterable)
        size += wire_size(metadata)
    return out, size


def check_put_vectors(
    items: list[Any], infos: Sequence[IndexInfo | None]
) -> list[tuple[dict[str, Any], int]]:
    """check_put_vector for every item (infos[i] is item i's index). A batch of well-formed
    vectors takes a fast path (one pass over all numbers at once); anything else is checked one
    vector at a time, so the error is the same, naming the first offending vector."""
    fast = _check_put_vectors_fast(items, infos)
    if fast is not None:
        return fast
    return [check_put_vector(item, i, info)
            for i, (item, info) in enumerate(zip(items, infos, strict=True))]


def _check_put_vectors_fast(
    items: list[Any], infos: Sequence[IndexInfo | None]
) -> list[tuple[dict[str, Any], int]] | None:
    """The checked vectors, their numbers checked in one pass over the batch, or None at the
    first thing that is not plainly valid."""
    try:
        checked = [check_put_vector(item, i, info, numbers=False)
                   for i, (item, info) in enumerate(zip(items, infos, strict=True))]
    except Exception:  # the slow path says what, in order
        return None
    numbers = list(chain.from_iterable(vector["data"]["float32"] for vector, _ in checked))
    return checked if not numbers or all_finite_float32(numbers) else None


def chunks(
    items: list[tuple[dict[str, Any], int]], max_count: int, max_bytes: int
) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    used = 0
    for vector, size in items:
        if chunk and (len(chunk) >= max_count or used + size > max_bytes):
            yield chunk
            chunk, used = [], 0
        chunk.append(vector)
        used += size
    if chunk:
        yield chunk


def partial(err: S3vlError, done: int, total: int, verb: str) -> S3vlError:
    if done == 0:
        return err
    return S3vlError(
        err.error_type,
        f"{err.message} ({done} of {total} {verb} by other calls of this request)",
        code=err.code,
        retryable=err.retryable,
        field=err.field,
    )


# A write refused as retryable (429 past the index's write rate, 5xx, a dropped connection) is
# sent again after a pause drawn from [0, min(cap, first * 2^n)) (full jitter) while the deadline
# leaves room: up to WRITE_ATTEMPTS in all, WRITE_THROTTLED_ATTEMPTS when throttled. Pauses start
# at milliseconds and stop growing at 0.2 s, the time an index's budget takes to refill one full
# PutVectors call (500 vectors at 2,500 vectors/s): the budget refills continuously, so a longer
# pause only leaves it idle, and the request's other partitions wait on its slowest.
WRITE_ATTEMPTS = 8
WRITE_THROTTLED_ATTEMPTS = 30
WRITE_PAUSE_FIRST_S = 0.05
WRITE_PAUSE_CAP_S = 0.2
# A retry is made only while one more call still fits after the pause (a later attempt would
# only fail with Timeout, hiding the error that made it retry).
WRITE_DEADLINE_MARGIN_S = SHORTEST_CALL_S


def send_with_retries(ref: IndexRef, deadline: Deadline, api: str,
                      **params: Any) -> S3vlError | None:
    """One PutVectors/DeleteVectors call, retried on its own schedule; the last error or None."""
    attempt = 0
    while True:
        attempt += 1
        try:
            call(ref, deadline, api, retries=False, **params)
            return None
        except S3vlError as err:
            most = WRITE_THROTTLED_ATTEMPTS if err.error_type == THROTTLED else WRITE_ATTEMPTS
            pause = random.uniform(0, min(WRITE_PAUSE_CAP_S,
                                          WRITE_PAUSE_FIRST_S * 2 ** (attempt - 1)))
            if (not err.retryable or attempt >= most
                    or deadline.remaining() < pause + WRITE_DEADLINE_MARGIN_S):
                return err
            time.sleep(pause)


def write_chunks(
    ref: IndexRef,
    deadline: Deadline,
    api: str,
    chunks: Iterator[list[Any]],
    total: int,
    param: str,
    verb: str,
) -> tuple[int, int]:
    """Send the chunks, a few at a time: keys are unique within a request, so order is free.

    Concurrency overlaps one call's serialisation with another's round trip; it stays far below
    the service's 1,000 write requests/s per index. A retryable failure is sent again
    (send_with_retries).
    """
    batches = list(chunks)

    def send(chunk: list[Any]) -> S3vlError | None:
        return send_with_retries(ref, deadline, api, **{param: chunk})

    workers = min(limits.WRITE_CONCURRENCY, len(batches))
    if workers <= 1:
        outcomes = [send(chunk) for chunk in batches]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(send, batches))
    done = sum(len(chunk) for chunk, err in zip(batches, outcomes, strict=True) if err is None)
    first_error = next((err for err in outcomes if err is not None), None)
    if first_error is not None:
        forget_on_error(ref, first_error)
        raise partial(first_error, done, total, verb) from first_error
    return done, len(batches)


def check_unique_keys(checked: list[tuple[dict[str, Any], int]]) -> None:
    seen: dict[str, int] = {}
    for i, (vector, _) in enumerate(checked):
        first = seen.setdefault(vector["key"], i)
        if first != i:
            raise validation_error(
                f"vectors[{i}].key",
                f"duplicates vectors[{first}].key {vector['key']!r}; keys must be unique",
            )


def put_vectors(req: Request, deadline: Deadline) -> dict[str, int]:
    ref = resolve_index(req)
    items = get_list(req, "vectors")
    # Entries that carry text are embedded first (sync with a text column).
    items, embedded, reused = embed_put_texts(req, ref, items, deadline)
    info = index_info_if_allowed(ref, deadline)
    checked = check_put_vectors(items, [info] * len(items))
    check_unique_keys(checked)
    batches = chunks(
        checked,
        limits.MAX_PUT_VECTORS_PER_CALL,
        limits.MAX_REQUEST_BYTES - limits.REQUEST_BYTES_HEADROOM,
    )
    written, calls = write_chunks(
        ref, deadline, "put_vectors", batches, len(checked), "vectors", "were written"
    )
    if embedded or reused:
        return {"written": written, "calls": calls, "embedded": embedded, "reused": reused}
    return {"written": written, "calls": calls}


def delete_vectors(req: Request, deadline: Deadline) -> dict[str, int]:
    ref = resolve_index(req)
    keys = list(dict.fromkeys(check_keys(get_list(req, "keys"), "keys")))
    step = limits.MAX_DELETE_KEYS_PER_CALL
    batches = (keys[i : i + step] for i in range(0, len(keys), step))
    deleted, calls = write_chunks(
        ref, deadline, "delete_vectors", batches, len(keys), "keys", "were deleted"
    )
    return {"deleted": deleted, "calls": calls}
