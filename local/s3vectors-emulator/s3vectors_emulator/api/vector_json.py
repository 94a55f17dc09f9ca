"""Vector data of request bodies: a fast parse of vector-heavy bodies (PutVectors, QueryVectors)
and the conversion of `{"float32": [...]}` unions into float32 matrices.

A PutVectors body of 500 vectors of dimension 768 holds 384,000 numbers. Parsing it into Python
floats and then into numpy costs about 40 ms; simdjson parses it in about 11 ms and hands each
`{"float32": [...]}` array over as a buffer of doubles, without making a Python object per
number. Everything else in the body (keys, metadata, names) becomes ordinary Python values.

The fast path only takes bodies whose vector arrays are flat arrays of numbers. Anything else
(NaN/Infinity strings from botocore, booleans, nested arrays, numbers outside double range, big
integers, invalid JSON) returns None, and the caller parses the body the ordinary way, so the
errors a client sees do not depend on which path ran.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from s3vectors_emulator import messages as m
from s3vectors_emulator.exceptions import ValidationError

try:
    import simdjson
except ImportError:  # pragma: no cover - pysimdjson is a declared dependency; fall back without
    simdjson = None  # type: ignore[assignment]

# simdjson reuses one parser's buffers between documents; a parser is not thread-safe and the
# server answers on several threads, so each thread has its own.
_local = threading.local()
_OPEN_BRACKET = ord("[")
_NUMBER_TYPES = {int, float}
_SPECIAL_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def available() -> bool:
    return simdjson is not None


def _parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    return parser


def _plain(value: Any) -> Any:
    """A simdjson value as ordinary Python values (dict, list, str, int, float, bool, None)."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _brackets(value: Any) -> int:
    """How many `[` characters this value's JSON text held (array openings and in strings); a
    numpy row came from a flat array, one `[`."""
    if isinstance(value, np.ndarray):
        return 1
    if isinstance(value, str):
        return value.count("[")
    if isinstance(value, list):
        return 1 + sum(_brackets(v) for v in value)
    if isinstance(value, dict):
        return sum(k.count("[") + _brackets(v) for k, v in value.items())
    return 0


class _NotFlat(Exception):
    """A vector's data is not a flat array of numbers: leave the body to the ordinary parser."""


def _vector_data(value: Any) -> Any:
    """`{"float32": [numbers]}` as {"float32": 1-D float64 array}; any other shape stays plain."""
    if not isinstance(value, simdjson.Object) or len(value) != 1 or "float32" not in value:
        return _plain(value)
    numbers = value["float32"]
    if not isinstance(numbers, simdjson.Array):
        return _plain(value)
    try:
        buffer = numbers.as_buffer(of_type="d")
    except (TypeError, ValueError, RuntimeError) as exc:  # non-numbers, out of range, big ints
        raise _NotFlat from exc
    row = np.frombuffer(buffer, dtype=np.float64)
    if row.shape[0] != len(numbers):  # nested arrays are flattened by as_buffer
        raise _NotFlat
    return {"float32": row}


def _vector_item(item: Any) -> Any:
    if not isinstance(item, simdjson.Object):
        return _plain(item)
    out: dict[str, Any] = {}
    # Object.items() converts values to Python; indexing keeps the simdjson proxies.
    for key in item.keys():  # noqa: SIM118 (iterating the Object itself is slower)
        value = item[key]
        if key == "data":
            out[key] = _vector_data(value)
        elif isinstance(value, simdjson.Object | simdjson.Array):
            out[key] = _plain(value)
        else:
            out[key] = value
    return out


def loads_with_arrays(body: bytes) -> tuple[dict[str, Any], int] | None:
    """Parse a JSON object body, vector data as numpy rows; None when the fast path does not apply.

    Returns the parsed body and the number of vector arrays that were turned into numpy rows.
    """
    # An escape (`\u005b`) could spell a `[` that is not in the raw bytes, which would upset the
    # count below; bodies with escapes are rare enough to leave to the ordinary parser.
    if simdjson is None or b"\\" in body:
        return None
    try:
        document = _parser().parse(body)
    except (ValueError, RuntimeError, TypeError):
        return None
    try:
        if not isinstance(document, simdjson.Object):
            return None
        out: dict[str, Any] = {}
        rows = 0
        for key in document:
            value = document[key]  # not items(): that converts every value to Python first
            if key == "vectors" and isinstance(value, simdjson.Array):
                out[key] = [_vector_item(item) for item in value]
            elif key == "queryVector":
                out[key] = _vector_data(value)
            else:
                out[key] = _plain(value)
        vectors = out.get("vectors")
        if isinstance(vectors, list):
            rows = sum(isinstance(item, dict) and _is_row(item.get("data")) for item in vectors)
        rows += _is_row(out.get("queryVector"))
        # Every `[` of the raw body is either an array that became a numpy row or part of a value
        # that stayed plain. A nested array flattened into a row with the same length as its
        # parent would leave more `[` in the body than that, so such a body is re-parsed. The
        # usual body has no other `[` than the rows and the vectors array: no walk needed.
        found = _count_byte(body, _OPEN_BRACKET)
        if found != rows + isinstance(vectors, list) and found != _brackets(out):
            return None
        return out, rows
    except (_NotFlat, RecursionError):  # deep nesting: the ordinary path reports it
        return None
    finally:
        del document  # the parser can hold one live document; drop it before the next parse


def _count_byte(body: bytes, byte: int) -> int:
    # numpy compares 7.5 MB in about 1 ms; bytes.count takes 2.4 ms (it has no SIMD path).
    return int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8) == byte))


def _is_row(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("float32"), np.ndarray)


def _wrong_length(field: str, label: str, dimension: int, length: int) -> str:
    if field == "vectors":
        return m.wrong_length(label, dimension, length)
    return f"Invalid {field}: vector must have length {dimension}, but has length {length}"


def float32_block(
    items: list[tuple[str, Any]], dimension: int, field: str, may_hold_booleans: bool = True
) -> np.ndarray[Any, Any]:
    """Turn (label, `{"float32": [...]}`) pairs into an (n, dimension) float32 matrix.

    `may_hold_booleans`: whether the raw body held a JSON boolean anywhere. numpy silently turns
    true/false into 1/0, so rows are checked element by element only when it is set.
    """
    rows: list[Any] = []
    numpy_rows = 0  # rows from the fast path: float64 arrays, numbers only
    for label, data in items:
        if not isinstance(data, dict) or len(data) != 1 or "float32" not in data:
            raise ValidationError(
                f"{field}: '{label}' data must be {{\"float32\": [numbers]}}", field
            )
        values = data["float32"]
        if not isinstance(values, list | np.ndarray):  # ndarray: from the fast path
            raise ValidationError(f"{field}: '{label}' data.float32 must be an array", field)
        if len(values) != dimension:
            raise ValidationError(_wrong_length(field, label, dimension, len(values)), field)
        rows.append(values)
        numpy_rows += isinstance(values, np.ndarray)
    # The fast path turns every float32 array of a body into a row, so rows are all numpy or none.
    if rows and numpy_rows == len(rows):
        with np.errstate(over="ignore"):  # beyond float32 becomes inf: the index reports it
            return np.array(rows, dtype=np.float32)
    try:
        raw: np.ndarray[Any, Any] = np.array(rows)
    except (ValueError, TypeError):
        raw = np.array(0)
    if (
        raw.dtype.kind not in "fiu"
        or raw.ndim != 2
        or (may_hold_booleans and any(not set(map(type, row)) <= _NUMBER_TYPES for row in rows))
    ):
        raw = _numbers_slowly(rows, field)
    with np.errstate(over="ignore"):
        return raw.astype(np.float32)


def _numbers_slowly(rows: list[list[Any]], field: str) -> np.ndarray[Any, Any]:
    """Element-wise conversion for rows that are not plain numbers: botocore sends NaN and
    infinities as the strings "NaN"/"Infinity"/"-Infinity"; anything else non-numeric is an error.
    """
    out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[i, j] = value
            elif isinstance(value, str) and value in _SPECIAL_FLOATS:
                out[i, j] = _SPECIAL_FLOATS[value]
            else:
                raise ValidationError(
                    f"{field}: data.float32 must contain only numbers (got {value!r})", field
                )
    return out
