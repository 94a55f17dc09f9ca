"""A partitioned logical index (docs/protocol.md, "Partitioned requests"): reading the
`partitions` field, routing keys and vectors to partitions, pinning by the metadata filter, and
running one call per partition in parallel threads with errors named by partition."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from . import limits
from .errors import S3vlError, validation_error
from .fields import Request, check_string, json_type
from .index_ref import IndexRef, check_allowed, parse_index_arn
from .observability import logger

T = TypeVar("T")
R = TypeVar("R")

TOKEN_PREFIX = "s3vlp1."


@dataclass(frozen=True)
class Partition:
    ref: IndexRef
    ordinal: int
    value: str | None

    def label(self) -> str:
        """How errors name the partition: never by its ARN."""
        if self.value is not None:
            return f"partition {json.dumps(self.value)}"
        return f"partition {self.ordinal}"


@dataclass(frozen=True)
class PartitionSet:
    partitions: tuple[Partition, ...]  # ascending ordinal
    key: str | None  # None: hash partitions

    @property
    def hashed(self) -> bool:
        return self.key is None

    def by_ordinal(self, ordinal: int) -> Partition | None:
        for p in self.partitions:
            if p.ordinal == ordinal:
                return p
        return None

    def default(self) -> Partition | None:
        return next((p for p in self.partitions if p.value is None), None)

    def for_key(self, key: str) -> Partition:
        """Hash routing: the one partition that holds `key`."""
        return self.partitions[key_slot(key, len(self.partitions))]

    def for_value_text(self, text: str) -> Partition | None:
        """Value routing: the partition of this value, else the default one (or None)."""
        for p in self.partitions:
            if p.value == text:
                return p
        return self.default()

    def pinned(self, metadata_filter: dict[str, Any] | None) -> tuple[Partition, ...]:
        """The partitions a query with this filter may find rows in."""
        if self.key is None or metadata_filter is None:
            return self.partitions
        values = pinned_values(metadata_filter, self.key)
        if values is None:
            return self.partitions
        chosen = {p.ordinal for text in values if (p := self.for_value_text(text)) is not None}
        return tuple(p for p in self.partitions if p.ordinal in chosen)


def key_slot(key: str, count: int) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def value_text(value: Any) -> str | None:
    """The text a scalar metadata value routes by; None for anything else (arrays, objects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _scalar_set(operand: Any) -> set[str] | None:
    """The values an operand on the partition key pins it to, or None when it pins nothing."""
    if isinstance(operand, dict):
        found: set[str] | None = None
        for op, arg in operand.items():
            here: set[str] | None = None
            if op == "$eq":
                text = value_text(arg)
                here = None if text is None else {text}
            elif op == "$in" and isinstance(arg, list):
                texts = [value_text(a) for a in arg]
                known = {t for t in texts if t is not None}
                here = known if len(known) == len(set(texts)) else None
            if here is not None:
                found = here if found is None else found & here
        return found
    text = value_text(operand)
    return None if text is None else {text}


def pinned_values(metadata_filter: Any, key: str) -> set[str] | None:
    """The values of `key` every vector matching the filter has (None: not pinned)."""
    if not isinstance(metadata_filter, dict):
        return None
    found: set[str] | None = None

    def meet(values: set[str] | None) -> None:
        nonlocal found
        if values is not None:
            found = values if found is None else found & values

    for name, operand in metadata_filter.items():
        if name == key:
            meet(_scalar_set(operand))
        elif name == "$and" and isinstance(operand, list):
            for part in operand:
                meet(pinned_values(part, key))
        elif name == "$or" and isinstance(operand, list) and operand:
            branches = [pinned_values(part, key) for part in operand]
            if all(b is not None for b in branches):
                meet(set().union(*[b for b in branches if b is not None]))
    return found


def _bad(message: str) -> S3vlError:
    return validation_error("partitions", message)


def read_partitions(req: Request) -> PartitionSet:
    """The `partitions` and `partition_key` of a request, checked (allow-list included)."""
    if req.get("index_arn") is not None or req.get("vector_bucket_name") is not None \
            or req.get("index_name") is not None:
        raise _bad("give either partitions or an index (index_arn, or vector_bucket_name + "
                   "index_name), not both")
    raw = req.get("partitions")
    if not isinstance(raw, list):
        raise _bad(f"must be an array, got {json_type(raw)}")
    if len(raw) > limits.MAX_PARTITIONS:
        raise _bad(f"has {len(raw)} entries; at most {limits.MAX_PARTITIONS}")
    key_raw = req.get("partition_key")
    key = None if key_raw is None else check_string(
        key_raw, "partition_key", limits.MIN_METADATA_KEY_LENGTH, limits.MAX_METADATA_KEY_LENGTH)
    parts: list[Partition] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _bad(f"entry {i} must be an object, got {json_type(item)}")
        arn = item.get("index_arn")
        if not isinstance(arn, str):
            raise _bad(f"entry {i} needs index_arn (a string)")
        ordinal = item.get("ordinal")
        if not isinstance(ordinal, int) or isinstance(ordinal, bool) or ordinal < 0:
            raise _bad(f"entry {i} needs ordinal (an integer >= 0)")
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise _bad(f"entry {i}: value must be a string or null, got {json_type(value)}")
        if key is None and value is not None:
            raise _bad(f"entry {i}: hash partitions (partition_key null) have no value")
        ref = parse_index_arn(arn, f"partitions[{i}].index_arn")
        check_allowed(ref)
        parts.append(Partition(ref, ordinal, value))
    parts.sort(key=lambda p: p.ordinal)
    if len({p.ordinal for p in parts}) != len(parts):
        raise _bad("ordinals must be distinct")
    if len({p.ref.arn for p in parts}) != len(parts):
        raise _bad("index ARNs must be distinct")
    if key is None and [p.ordinal for p in parts] != list(range(len(parts))):
        raise _bad("hash partitions must be complete: ordinals 0 to n-1")
    values = [p.value for p in parts]
    if key is not None and len(set(values)) != len(values):
        raise _bad("values must be distinct (at most one null, the default partition)")
    return PartitionSet(tuple(parts), key)


def relabel(err: S3vlError, partition: Partition) -> S3vlError:
    """The partition's error, named by ordinal or value instead of its ARN."""
    label = partition.label()
    message = err.message
    if partition.ref.arn:
        message = message.replace(partition.ref.arn, label)
    return S3vlError(err.error_type, f"{label}: {message}", code=err.code,
                     retryable=err.retryable, field=err.field)


_pools = threading.local()
_invocation_pool: ContextVar[ThreadPoolExecutor | None] = ContextVar("s3vl_fan_out_pool",
                                                                     default=None)


def bind_fan_out_pool() -> ThreadPoolExecutor:
    """Called by the handler as an invocation starts: the invocation's fan-outs share the pool
    of the thread running the handler, kept for the life of the execution environment (starting
    PARTITION_CONCURRENCY threads per request cost about a millisecond of a fan-out's time).
    Threads the invocation starts see it when they run with a copy of its context
    (contextvars.copy_context), so one invocation never has more than PARTITION_CONCURRENCY
    calls in flight. On Lambda one thread runs every invocation of an environment; a local
    endpoint runs several invocations at once in several threads, and each gets its own pool,
    so one invocation's tasks (a throttled write pausing between attempts) never queue
    another's."""
    pool: ThreadPoolExecutor | None = getattr(_pools, "pool", None)
    if pool is None:
        pool = _pools.pool = ThreadPoolExecutor(max_workers=limits.PARTITION_CONCURRENCY,
                                                thread_name_prefix="s3vl-partition")
    _invocation_pool.set(pool)
    return pool


def _pool() -> ThreadPoolExecutor:
    """The invocation's fan-out pool. fan_out never runs inside a fan_out task, so tasks never
    wait on tasks of the same pool."""
    # Outside the handler (tests, tools) the calling thread's pool is bound on first use.
    return _invocation_pool.get() or bind_fan_out_pool()


def note_read(ordinals: Sequence[int]) -> None:
    """The invocation log says which partitions a request reached (ordinals, never ARNs)."""
    logger.info("partition fan-out", extra={"partitions_read": sorted(set(ordinals)),
                                            "partition_calls": len(ordinals)})


def fan_out(
    tasks: Sequence[tuple[Partition, T]], run: Callable[[Partition, T], R]
) -> list[R]:
    """run(partition, arg) for every task, in parallel threads, results in task order. The
    first failing task in order (not in time) fails the whole call, named by its partition."""
    if not tasks:
        return []
    note_read([p.ordinal for p, _ in tasks])

    def one(task: tuple[Partition, T]) -> tuple[R | None, S3vlError | None]:
        partition, arg = task
        try:
            return run(partition, arg), None
        except S3vlError as err:
            return None, relabel(err, partition)

    outcomes = [one(tasks[0])] if len(tasks) == 1 else list(_pool().map(one, tasks))
    for _, err in outcomes:
        if err is not None:
            raise err
    return [result for result, _ in outcomes]  # type: ignore[misc]


def encode_token(state: dict[str, Any]) -> str:
    packed = zlib.compress(json.dumps(state, separators=(",", ":")).encode("utf-8"))
    return TOKEN_PREFIX + base64.urlsafe_b64encode(packed).decode("ascii")


def decode_token(token: str, field: str) -> dict[str, Any]:
    if len(token) > limits.MAX_PARTITION_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        raise validation_error(field, "is not a page token of this partitioned index")
    try:
        state = json.loads(zlib.decompress(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX):])))
    except (ValueError, zlib.error) as exc:
        raise validation_error(field, "is not a page token of this partitioned index") from exc
    if not isinstance(state, dict):
        raise validation_error(field, "is not a page token of this partitioned index")
    return state
