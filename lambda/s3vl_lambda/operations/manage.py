"""Vectors managed by filter (filter_vectors: count, list, delete) and metadata patched in place
(update_metadata). S3 Vectors has none of these; see docs/protocol.md.

filter_vectors reads ListVectors segments in parallel with their metadata, evaluates the filter
here (metadata_filter.py) and works for a bounded time: what is left is described by a resume
token that the next invocation continues from.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import limits
from ..clients import SHORTEST_CALL_S
from ..deadline import Deadline
from ..errors import S3vlError, validation_error
from ..fields import (
    Request,
    check_keys,
    check_metadata,
    get_bool,
    get_int,
    get_list,
    get_metadata_filter,
    get_optional_bounded_str,
    get_optional_object,
    get_optional_str,
    json_size,
)
from ..index_info import index_info_if_allowed
from ..index_ref import IndexRef, resolve_index
from ..metadata_filter import Predicate, compile_filter
from ..service import call
from .write import send_with_retries

ACTIONS = ("count", "list", "delete")
# A page is not started with less than this left of the Lambda's own time: the page, its deletes
# and the answer must still fit.
_PAGE_RESERVE_S = 2.0
_TOKEN_VERSION = 1

# One segment's position: [segment_index, ListVectors token of the page to read (None: the
# segment's first page), vectors of that page already handled (list only)].
Position = list[Any]


def _encode_token(segment_count: int, positions: list[Position]) -> str | None:
    if not positions:
        return None
    body = json.dumps({"v": _TOKEN_VERSION, "sc": segment_count, "s": positions},
                      separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode()


def _bad_token(detail: str) -> S3vlError:
    return validation_error("resume_token", f"is not a token this function issued ({detail})")


def _decode_token(token: str) -> tuple[int, list[Position]]:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_token("not base64 JSON") from exc
    if not isinstance(body, dict) or body.get("v") != _TOKEN_VERSION:
        raise _bad_token("unknown version")
    count = body.get("sc")
    positions = body.get("s")
    low, high = limits.MIN_SEGMENT_COUNT, limits.MAX_SEGMENT_COUNT
    if not isinstance(count, int) or not low <= count <= high:
        raise _bad_token("segment count")
    if not isinstance(positions, list) or not positions:
        raise _bad_token("no segments")
    seen: set[int] = set()
    for pos in positions:
        ok = (isinstance(pos, list) and len(pos) == 3 and isinstance(pos[0], int)
              and 0 <= pos[0] < count and pos[0] not in seen
              and (pos[1] is None or isinstance(pos[1], str))
              and isinstance(pos[2], int) and 0 <= pos[2] <= limits.MAX_LIST_MAX_RESULTS)
        if not ok:
            raise _bad_token("segment position")
        seen.add(pos[0])
    return count, positions


class _Scan:
    """Shared state of one invocation's segment workers."""

    def __init__(self, action: str, match: Predicate, return_metadata: bool, max_matches: int,
                 stop_at: float, deadline: Deadline) -> None:
        self.action = action
        self.match = match
        self.return_metadata = return_metadata
        self.max_matches = max_matches
        self.stop_at = stop_at
        self.deadline = deadline
        self.lock = threading.Lock()
        self.examined = 0
        self.matched = 0
        self.deleted = 0
        self.rows: list[dict[str, Any]] = []
        self.row_bytes = 0

    def may_start_page(self) -> bool:
        if time.monotonic() >= self.stop_at or self.deadline.remaining() <= _PAGE_RESERVE_S:
            return False
        return not self.full()

    def full(self) -> bool:
        return self.action == "list" and (
            len(self.rows) >= self.max_matches or self.row_bytes >= limits.LIST_ANSWER_BYTES)

    def take_page(self, vectors: list[dict[str, Any]], offset: int) -> tuple[int, list[str]]:
        """Handle vectors[offset:]; returns how far it got and the matching keys (delete)."""
        keys: list[str] = []
        examined = matched = 0
        end = len(vectors)
        with self.lock:
            for n in range(offset, len(vectors)):
                if self.full():
                    end = n
                    break
                v = vectors[n]
                examined += 1
                metadata = v.get("metadata") or {}
                if not self.match(metadata):
                    continue
                matched += 1
                if self.action == "delete":
                    keys.append(v["key"])
                elif self.action == "list":
                    row = {"vector_id": v["key"],
                           "metadata": metadata if self.return_metadata else {}}
                    self.rows.append(row)
                    self.row_bytes += json_size(row)
            self.examined += examined
            self.matched += matched
        return end, keys


def _delete(ref: IndexRef, deadline: Deadline, scan: _Scan, keys: list[str]) -> None:
    step = limits.MAX_DELETE_KEYS_PER_CALL
    for i in range(0, len(keys), step):
        chunk = keys[i : i + step]
        call(ref, deadline, "delete_vectors", keys=chunk)
        with scan.lock:
            scan.deleted += len(chunk)


def _run_segment(ref: IndexRef, deadline: Deadline, scan: _Scan, segment_count: int,
                 page_size: int, position: Position) -> Position | None:
    """Reads one segment until it ends (None) or the invocation's time or answer is used up."""
    segment, token, offset = position
    first = True  # every segment reads a page per invocation, so a resumed run always advances
    while (first and not scan.full()) or scan.may_start_page():
        first = False
        params: dict[str, Any] = {"maxResults": page_size, "returnData": False,
                                  "returnMetadata": True}
        if segment_count > 1:
            params["segmentCount"] = segment_count
            params["segmentIndex"] = segment
        if token is not None:
            params["nextToken"] = token
        response = call(ref, deadline, "list_vectors", **params)
        vectors = list(response.get("vectors", ()))
        end, keys = scan.take_page(vectors, offset)
        if keys:
            _delete(ref, deadline, scan, keys)
        if end < len(vectors):  # the answer is full: this page continues next time
            return [segment, token, end]
        token, offset = response.get("nextToken") or None, 0
        if token is None:
            return None
    return [segment, token, offset]


def filter_vectors(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    action = get_optional_str(req, "action") or "count"
    if action not in ACTIONS:
        raise validation_error("action", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    metadata_filter = get_metadata_filter(req)
    return_metadata = get_bool(req, "return_metadata", True)
    page_size = get_int(req, "page_size", limits.MAX_LIST_MAX_RESULTS,
                        limits.MIN_LIST_MAX_RESULTS, limits.MAX_LIST_MAX_RESULTS)
    max_matches = get_int(req, "max_vectors", limits.DEFAULT_LIST_MATCHES, 1,
                          limits.MAX_LIST_MATCHES)
    budget_ms = get_int(req, "time_budget_ms", None, limits.MIN_TIME_BUDGET_MS,
                        limits.MAX_TIME_BUDGET_MS)
    token = get_optional_bounded_str(req, "resume_token", 1, limits.MAX_RESUME_TOKEN_LENGTH)
    if token is not None:
        segment_count, positions = _decode_token(token)
    else:
        segment_count = get_int(req, "segment_count", limits.DEFAULT_MANAGE_SEGMENTS,
                                limits.MIN_SEGMENT_COUNT, limits.MAX_SEGMENT_COUNT) or 1
        positions = [[i, None, 0] for i in range(segment_count)]
    assert page_size is not None and max_matches is not None
    match: Predicate = lambda _metadata: True  # noqa: E731  (no filter: every vector)
    if metadata_filter is not None:
        info = index_info_if_allowed(ref, deadline)
        match = compile_filter(metadata_filter,
                               info.non_filterable_metadata_keys if info else frozenset())
    stop_at = time.monotonic() + (budget_ms / 1000.0 if budget_ms is not None
                                  else max(deadline.remaining() - _PAGE_RESERVE_S, 0.0))
    scan = _Scan(action, match, return_metadata, max_matches, stop_at, deadline)

    def run(position: Position) -> Position | None:
        return _run_segment(ref, deadline, scan, segment_count, page_size, position)

    try:
        if len(positions) == 1:
            left = [run(positions[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(positions)) as pool:
                left = list(pool.map(run, positions))
    except S3vlError as err:
        if scan.deleted == 0:
            raise
        raise S3vlError(err.error_type, f"{err.message} ({scan.deleted} vectors were deleted "
                        "before the failure; run the same request again to finish)",
                        code=err.code, retryable=err.retryable, field=err.field) from err
    result: dict[str, Any] = {
        "examined": scan.examined,
        "matched": scan.matched,
        "deleted": scan.deleted,
        "vectors": scan.rows,
        "resume_token": _encode_token(segment_count, [p for p in left if p is not None]),
    }
    return result


# ---- update_metadata -----------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, a null member removes the key,
    anything else replaces the target."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _get_all(ref: IndexRef, deadline: Deadline, keys: list[str]) -> dict[str, dict[str, Any]]:
    step = limits.MAX_GET_KEYS_PER_CALL
    chunks = [keys[i : i + step] for i in range(0, len(keys), step)]

    def fetch(chunk: list[str]) -> dict[str, Any]:
        return call(ref, deadline, "get_vectors", keys=chunk, returnData=True,
                    returnMetadata=True)

    if len(chunks) == 1:
        responses = [fetch(chunks[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(limits.BATCH_CONCURRENCY, len(chunks))) as pool:
            responses = list(pool.map(fetch, chunks))
    return {v["key"]: v for r in responses for v in r.get("vectors", ())}


def _put(ref: IndexRef, deadline: Deadline, vectors: list[dict[str, Any]],
         restores_after: int) -> None:
    """One PutVectors call on the writes' own retry schedule (a 429 past the index's write rate
    waits for the budget instead of failing the patch), leaving time for `restores_after`
    restoring calls should this or a later call fail."""
    err = send_with_retries(ref, deadline.keeping(restores_after * SHORTEST_CALL_S),
                            "put_vectors", vectors=vectors)
    if err is not None:
        raise err


def update_metadata(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    keys = list(dict.fromkeys(check_keys(get_list(req, "vector_ids"), "vector_ids")))
    if len(keys) > limits.MAX_UPDATE_IDS:
        raise validation_error("vector_ids", f"has {len(keys)} distinct ids; at most "
                                             f"{limits.MAX_UPDATE_IDS} per request")
    patch = get_optional_object(req, "patch")
    if patch is None:
        raise validation_error("patch", "is required (a JSON object, RFC 7396 merge patch)")
    info = index_info_if_allowed(ref, deadline)
    stored = _get_all(ref, deadline, keys)
    missing = [k for k in keys if k not in stored]
    originals: list[dict[str, Any]] = []
    patched: list[dict[str, Any]] = []
    # Every patched metadata is checked before the first write: a bad one writes nothing.
    for key in keys:
        vector = stored.get(key)
        if vector is None:
            continue
        data = (vector.get("data") or {}).get("float32")
        if data is None:
            raise S3vlError("InternalError", f"GetVectors returned no data for {key!r}")
        metadata = merge_patch(vector.get("metadata") or {}, patch)
        try:
            check_metadata(metadata, "patch", info.non_filterable_metadata_keys if info else None)
        except S3vlError as err:
            raise validation_error("patch", f"applied to vector {key!r}, "
                                   f"{err.message.removeprefix('patch: ')}; nothing was "
                                   "written") from err
        original: dict[str, Any] = {"key": key, "data": {"float32": data}}
        if vector.get("metadata"):
            original["metadata"] = vector["metadata"]
        originals.append(original)
        patched.append({"key": key, "data": {"float32": data}, "metadata": metadata})
    step = limits.MAX_PUT_VECTORS_PER_CALL
    done = 0
    for i in range(0, len(patched), step):
        try:
            _put(ref, deadline, patched[i : i + step], restores_after=i // step)
        except S3vlError as err:
            raise _restore(ref, deadline, originals[:done], err) from err
        done = i + len(patched[i : i + step])
    get_calls = (len(keys) + limits.MAX_GET_KEYS_PER_CALL - 1) // limits.MAX_GET_KEYS_PER_CALL
    return {"updated": done, "missing": missing,
            "calls": {"get_vectors": get_calls, "put_vectors": (done + step - 1) // step}}


def _restore(ref: IndexRef, deadline: Deadline, originals: list[dict[str, Any]],
             err: S3vlError) -> S3vlError:
    """Puts back what earlier calls of this request patched, so nothing stays half-applied."""
    if not originals:
        return err
    try:
        starts = range(0, len(originals), limits.MAX_PUT_VECTORS_PER_CALL)
        for n, i in enumerate(starts):
            _put(ref, deadline, originals[i : i + limits.MAX_PUT_VECTORS_PER_CALL],
                 restores_after=len(starts) - n - 1)
    except S3vlError as again:
        return S3vlError(err.error_type, f"{err.message}; restoring the {len(originals)} vectors "
                         f"patched before the failure failed too ({again.message}): they keep "
                         "the patch", code=err.code, retryable=err.retryable, field=err.field)
    return S3vlError(err.error_type, f"{err.message} (the {len(originals)} vectors patched "
                     "before the failure were restored; nothing was changed)",
                     code=err.code, retryable=err.retryable, field=err.field)
