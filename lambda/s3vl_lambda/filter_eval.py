"""The S3 Vectors metadata filter evaluated in the function (rank_vectors ranks vectors it read
itself, so it applies the filter the service would have applied).

Semantics as the service documents them, and as the project's emulator implements them
(docs/emulator.md, "Filter semantics"): `$eq`/`$in` and the range operators match a list value
when one element does; `$ne` is `not $eq` and `$nin` is `not $in` (both match a missing key);
no type coercion (1 != "1", true != 1); a range operator on a non-number is false.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import validation_error

Metadata = Mapping[str, Any]
Predicate = Callable[[Metadata], bool]

_FIELD = "metadata_filter"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _primitive(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float))


def _same(value: Any, operand: Any) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    if _number(value) and _number(operand):
        return float(value) == float(operand)
    return isinstance(value, str) and isinstance(operand, str) and value == operand


def _eq(value: Any, operand: Any) -> bool:
    if isinstance(value, list):
        return any(_same(v, operand) for v in value)
    return _same(value, operand)


def _range(op: str, value: Any, bound: float) -> bool:
    if isinstance(value, list):
        return any(_range(op, v, bound) for v in value)
    if not _number(value):
        return False
    x = float(value)
    if op == "$gt":
        return x > bound
    if op == "$gte":
        return x >= bound
    if op == "$lt":
        return x < bound
    return x <= bound


def _starts(value: Any, prefix: str) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, str) and v.startswith(prefix) for v in value)
    return isinstance(value, str) and value.startswith(prefix)


def _condition(key: str, op: str, arg: Any, path: str) -> Predicate:
    if op in ("$eq", "$ne"):
        if not _primitive(arg):
            raise validation_error(_FIELD, f"{path}.{op} needs a string, number or boolean")
        if op == "$eq":
            return lambda m: key in m and _eq(m[key], arg)
        return lambda m: not (key in m and _eq(m[key], arg))
    if op in ("$in", "$nin"):
        if not isinstance(arg, list) or not arg or not all(_primitive(a) for a in arg):
            raise validation_error(
                _FIELD, f"{path}.{op} needs a non-empty array of strings, numbers or booleans")
        values = tuple(arg)
        if op == "$in":
            return lambda m: key in m and any(_eq(m[key], a) for a in values)
        return lambda m: not (key in m and any(_eq(m[key], a) for a in values))
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not _number(arg):
            raise validation_error(_FIELD, f"{path}.{op} needs a number")
        bound = float(arg)
        return lambda m: key in m and _range(op, m[key], bound)
    if op == "$exists":
        if not isinstance(arg, bool):
            raise validation_error(_FIELD, f"{path}.$exists needs a boolean")
        return lambda m: (key in m) is arg
    if op == "$startsWith":
        if not isinstance(arg, str):
            raise validation_error(_FIELD, f"{path}.$startsWith needs a string")
        return lambda m: key in m and _starts(m[key], arg)
    raise validation_error(_FIELD, f"{path}: unknown operator {op!r}")


def _all(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else (lambda m: all(p(m) for p in parts))


def _document(node: Any, path: str) -> Predicate:
    if not isinstance(node, dict) or not node:
        raise validation_error(_FIELD, f"{path} must be a non-empty JSON object")
    parts: list[Predicate] = []
    for key, operand in node.items():
        if key in ("$and", "$or"):
            if not isinstance(operand, list) or not operand:
                raise validation_error(_FIELD, f"{path}.{key} needs a non-empty array")
            subs = [_document(sub, f"{path}.{key}[{i}]") for i, sub in enumerate(operand)]
            if key == "$and":
                parts.append(_all(subs))
            else:
                parts.append(lambda m, subs=subs: any(p(m) for p in subs))  # type: ignore[misc]
        elif key.startswith("$"):
            raise validation_error(_FIELD, f"{path}: unknown operator {key!r}")
        elif isinstance(operand, dict):
            if not operand:
                raise validation_error(_FIELD, f"{path}.{key}: operator object must not be empty")
            parts.append(_all([_condition(key, op, arg, f"{path}.{key}")
                               for op, arg in operand.items()]))
        elif _primitive(operand):
            parts.append(_condition(key, "$eq", operand, f"{path}.{key}"))
        else:
            raise validation_error(
                _FIELD, f"{path}.{key}: implicit $eq needs a string, number or boolean")
    return _all(parts)


def compile_filter(metadata_filter: dict[str, Any] | None) -> Predicate:
    """A predicate over one vector's metadata; every vector passes a null filter."""
    if metadata_filter is None:
        return lambda m: True
    return _document(metadata_filter, _FIELD)
