"""Readers for request fields: type checks and limits, each error naming the field and the limit."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from . import limits
from .errors import validation_error

Request = Mapping[str, Any]
_MISSING = object()


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages SQL users read."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def get_bool(req: Request, field: str, default: bool) -> bool:
    value = req.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise validation_error(field, f"must be a boolean, got {json_type(value)}")
    return value


def get_int(
    req: Request, field: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer in [low, high]; None (or absent) gives the default."""
    value = req.get(field)
    if value is None:
        return default
    # SQL callers may send 10.0 for an integer column; accept integral floats only.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise validation_error(field, f"must be an integer, got {json_type(value)}")
    if not low <= value <= high:
        raise validation_error(field, f"must be between {low} and {high}, got {value}")
    return int(value)


def get_optional_str(req: Request, field: str) -> str | None:
    value = req.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation_error(field, f"must be a string, got {json_type(value)}")
    return value


def get_optional_object(req: Request, field: str) -> dict[str, Any] | None:
    value = req.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_error(field, f"must be a JSON object, got {json_type(value)}")
    return value


def get_optional_bounded_str(req: Request, field: str, low: int, high: int) -> str | None:
    """A string of low..high characters, or None when absent or null."""
    value = req.get(field)
    return None if value is None else check_string(value, field, low, high)


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON `value` nests objects/arrays more than `limit` levels deep (each object and
    each array is one level). Iterative, and stops at the first path past the limit, so a
    hostile depth costs no recursion."""
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def get_metadata_filter(req: Request, field: str = "metadata_filter") -> dict[str, Any] | None:
    """An optional filter object, nested at most MAX_FILTER_DEPTH levels."""
    value = get_optional_object(req, field)
    if value is not None and nesting_exceeds(value, limits.MAX_FILTER_DEPTH):
        raise validation_error(
            field,
            f"is nested more than {limits.MAX_FILTER_DEPTH} levels deep; at most "
            f"{limits.MAX_FILTER_DEPTH} are allowed (each object and each array counts one level)",
        )
    return value


def get_list(req: Request, field: str) -> list[Any]:
    value = req.get(field, _MISSING)
    if value is _MISSING or value is None:
        raise validation_error(field, "is required")
    if not isinstance(value, list):
        raise validation_error(field, f"must be an array, got {json_type(value)}")
    if not value:
        raise validation_error(field, "must not be empty")
    return value


_NUMBER_TYPES = frozenset((float, int))


def all_finite_float32(values: list[Any]) -> bool:
    """Fast check (C-level passes) that every value is a finite float32-range number."""
    if not set(map(type, values)) <= _NUMBER_TYPES:  # exact types: bool is refused
        return False
    # A sum is finite iff no value is NaN or infinite, unless float32-range values overflow the
    # float64 sum (past 10**270 of them): then the caller's slow path decides.
    try:
        if not math.isfinite(sum(values)):
            return False
    except OverflowError:  # a huge int
        return False
    return bool(min(values) >= -limits.FLOAT32_MAX and max(values) <= limits.FLOAT32_MAX)


def check_vector_shape(value: Any, field: str) -> list[Any]:
    """An array of MIN_DIMENSION..MAX_DIMENSION elements (what they are is check_vector's)."""
    if not isinstance(value, list):
        raise validation_error(field, f"must be an array of numbers, got {json_type(value)}")
    n = len(value)
    if not limits.MIN_DIMENSION <= n <= limits.MAX_DIMENSION:
        raise validation_error(
            field,
            f"dimension must be between {limits.MIN_DIMENSION} and {limits.MAX_DIMENSION}, got {n}",
        )
    return value


def check_vector(value: Any, field: str) -> list[float]:
    """A non-empty array of finite float32-representable numbers of at most MAX_DIMENSION."""
    vector: list[float] = check_vector_shape(value, field)
    if all_finite_float32(vector):
        return vector
    # Slow path only to name the first offending element.
    for i, x in enumerate(vector):
        if not _is_number(x):
            raise validation_error(f"{field}[{i}]", f"must be a number, got {json_type(x)}")
        # One comparison rejects NaN (all comparisons false), infinity and float32 overflow.
        if not -limits.FLOAT32_MAX <= x <= limits.FLOAT32_MAX:
            raise validation_error(
                f"{field}[{i}]",
                f"must be a finite float32 value (|x| <= {limits.FLOAT32_MAX:.7g}), got {x}",
            )
    return vector


def check_dimension(vector: list[float], field: str, dimension: int) -> None:
    if len(vector) != dimension:
        raise validation_error(
            field, f"dimension {len(vector)} does not match the index dimension {dimension}"
        )


def is_zero_vector(vector: list[float]) -> bool:
    return not any(vector)


def check_string(value: Any, field: str, min_length: int, max_length: int) -> str:
    """A string of min_length..max_length characters, or a ValidationError naming field."""
    if not isinstance(value, str):
        raise validation_error(field, f"must be a string, got {json_type(value)}")
    if not min_length <= len(value) <= max_length:
        raise validation_error(
            field,
            f"length must be between {min_length} and {max_length} characters, got {len(value)}",
        )
    return value


def check_key(value: Any, field: str) -> str:
    return check_string(value, field, limits.MIN_KEY_LENGTH, limits.MAX_KEY_LENGTH)


def check_keys(values: list[Any], field: str) -> list[str]:
    return [check_key(v, f"{field}[{i}]") for i, v in enumerate(values)]


# Built once: json.dumps with arguments builds an encoder per call, most of the cost for the small
# values measured once per vector of a bulk write.
_COMPACT_UTF8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"))


def json_size(value: Any) -> int:
    """Bytes of the compact UTF-8 JSON encoding (how metadata sizes are measured)."""
    if not value and isinstance(value, dict):
        return 2
    return len(_COMPACT_UTF8.encode(value).encode("utf-8"))


def wire_size(value: Any) -> int:
    """Bytes botocore sends for `value`: compact JSON with non-ASCII escaped as \\uXXXX."""
    if isinstance(value, str) and value.isascii() and value.isalnum():
        return len(value) + 2  # nothing to escape
    if not value and isinstance(value, dict):
        return 2
    return len(_COMPACT_ASCII.encode(value))


def check_metadata(
    value: Any, field: str, non_filterable_keys: frozenset[str] | None
) -> dict[str, Any]:
    """Metadata object within the per-vector total, filterable and key-count limits.

    `non_filterable_keys` None: the index's keys are unknown, so the filterable limit is left to
    the service.
    """
    if not isinstance(value, dict):
        raise validation_error(field, f"must be a JSON object, got {json_type(value)}")
    if len(value) > limits.MAX_METADATA_KEYS:
        raise validation_error(
            field, f"has {len(value)} keys; at most {limits.MAX_METADATA_KEYS} are allowed"
        )
    total = json_size(value)
    if total > limits.MAX_METADATA_BYTES:
        raise validation_error(
            field, f"is {total} bytes; at most {limits.MAX_METADATA_BYTES} bytes are allowed"
        )
    if non_filterable_keys is None:
        return value
    filterable_size = total
    if non_filterable_keys and not non_filterable_keys.isdisjoint(value):
        filterable_size = json_size(
            {k: v for k, v in value.items() if k not in non_filterable_keys})
    if filterable_size > limits.MAX_FILTERABLE_METADATA_BYTES:
        raise validation_error(
            field,
            f"filterable metadata is {filterable_size} bytes; at most "
            f"{limits.MAX_FILTERABLE_METADATA_BYTES} bytes are allowed (declare large fields as "
            "non-filterable metadata keys when creating the index)",
        )
    return value
