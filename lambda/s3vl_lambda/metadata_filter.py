"""The QueryVectors metadata filter language, evaluated inside the function.

S3 Vectors filters only QueryVectors; count, filtered list and delete by filter (operations/
manage.py) evaluate the same language here, on the metadata ListVectors returns. The semantics are
those the emulator implements for QueryVectors (docs/emulator.md, "Filter semantics";
tests/unit/test_metadata_filter_property.py checks both agree on random filters and metadata):
  * `$eq` on a list value matches when any element is equal; `$ne` is `not $eq` and `$nin` is
    `not $in`, so both match a vector without the key;
  * no type coercion (1 != "1", true != 1); a range operator on a non-number (or a list without
    numbers) is false;
  * anything malformed (unknown operator, wrong operand type, empty object or `$and`/`$or`, a
    non-filterable key, more than MAX_FILTER_CONSTRAINTS values, deeper than MAX_FILTER_DEPTH) is
    a ValidationError naming `metadata_filter`; nothing is ignored.
This module must not import the emulator: the function is deployed without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import limits
from .errors import validation_error
from .fields import nesting_exceeds

FIELD = "metadata_filter"
FIELD_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists",
                   "$startsWith")
LOGICAL_OPERATORS = ("$and", "$or")
_RANGE = ("$gt", "$gte", "$lt", "$lte")

Metadata = Mapping[str, Any]
Predicate = Callable[[Metadata], bool]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_primitive(value: object) -> bool:
    return isinstance(value, str | bool | int | float)


def _scalar_equal(value: object, operand: object) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    if _is_number(value) and _is_number(operand):
        return float(value) == float(operand)  # type: ignore[arg-type]
    return isinstance(value, str) and isinstance(operand, str) and value == operand


def _equal(value: object, operand: object) -> bool:
    if isinstance(value, list):
        return any(_scalar_equal(element, operand) for element in value)
    return _scalar_equal(value, operand)


def _in_range(op: str, value: object, bound: float) -> bool:
    if isinstance(value, list):
        return any(_in_range(op, element, bound) for element in value)
    if not _is_number(value):
        return False
    number = float(value)  # type: ignore[arg-type]
    if op == "$gt":
        return number > bound
    if op == "$gte":
        return number >= bound
    if op == "$lt":
        return number < bound
    return number <= bound


def _starts_with(value: object, prefix: str) -> bool:
    if isinstance(value, list):
        return any(isinstance(e, str) and e.startswith(prefix) for e in value)
    return isinstance(value, str) and value.startswith(prefix)


def _positive(op: str, arg: Any) -> Callable[[object], bool]:
    """The test a present value must pass for one positive operator."""
    if op == "$eq":
        return lambda v: _equal(v, arg)
    if op == "$in":
        return lambda v: any(_equal(v, a) for a in arg)
    if op in _RANGE:
        return lambda v: _in_range(op, v, arg)
    return lambda v: _starts_with(v, arg)


def _condition(key: str, op: str, arg: Any) -> Predicate:
    if op == "$exists":
        return lambda m: (key in m) is arg
    if op in ("$ne", "$nin"):
        test = _positive("$eq" if op == "$ne" else "$in", arg)
        return lambda m: not (key in m and test(m[key]))
    test = _positive(op, arg)
    return lambda m: key in m and test(m[key])


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda m: all(p(m) for p in parts)


class _Compiler:
    def __init__(self, non_filterable: frozenset[str]) -> None:
        self.non_filterable = non_filterable
        self.constraints = 0

    def _count(self, n: int) -> None:
        self.constraints += n
        if self.constraints > limits.MAX_FILTER_CONSTRAINTS:
            raise validation_error(
                FIELD,
                f"has more than {limits.MAX_FILTER_CONSTRAINTS} constraints (each compared value "
                "counts, an $in list of 3 counts 3)",
            )

    def document(self, node: object, path: str) -> Predicate:
        if not isinstance(node, dict):
            raise validation_error(FIELD, f"{path}: a filter must be a JSON object")
        if not node:
            raise validation_error(FIELD, f"{path}: a filter object must not be empty")
        return _all([self.entry(key, operand, path) for key, operand in node.items()])

    def entry(self, key: str, operand: object, path: str) -> Predicate:
        if key in LOGICAL_OPERATORS:
            sub = f"{path}.{key}"
            if not isinstance(operand, list) or not operand:
                raise validation_error(FIELD, f"{sub}: {key} needs a non-empty array of filters")
            parts = [self.document(p, f"{sub}[{i}]") for i, p in enumerate(operand)]
            if key == "$and":
                return _all(parts)
            return lambda m: any(p(m) for p in parts)
        if key.startswith("$"):
            raise validation_error(FIELD, f"{path}: unknown operator {key!r} (logical "
                                          f"operators: {', '.join(LOGICAL_OPERATORS)})")
        if not key:
            raise validation_error(FIELD, f"{path}: metadata key must not be empty")
        if key in self.non_filterable:
            raise validation_error(FIELD, f"{path}: metadata key {key!r} is non-filterable in "
                                          "this index and cannot be used in a filter")
        sub = f"{path}.{key}"
        if isinstance(operand, dict):
            if not operand:
                raise validation_error(FIELD, f"{sub}: operator object must not be empty")
            return _all([self.condition(key, op, arg, sub) for op, arg in operand.items()])
        if _is_primitive(operand):
            return self.condition(key, "$eq", operand, sub)
        raise validation_error(FIELD, f"{sub}: implicit $eq needs a string, number or boolean")

    def condition(self, key: str, op: str, arg: object, path: str) -> Predicate:
        if op not in FIELD_OPERATORS:
            raise validation_error(FIELD, f"{path}: unknown operator {op!r} (supported: "
                                          f"{', '.join(FIELD_OPERATORS)})")
        if op in ("$eq", "$ne"):
            if not _is_primitive(arg):
                raise validation_error(FIELD, f"{path}.{op}: needs a string, number or boolean")
        elif op in _RANGE:
            if not _is_number(arg):
                raise validation_error(FIELD, f"{path}.{op}: needs a number")
            arg = float(arg)  # type: ignore[arg-type]
        elif op in ("$in", "$nin"):
            if not isinstance(arg, list) or not arg or not all(_is_primitive(a) for a in arg):
                raise validation_error(
                    FIELD, f"{path}.{op}: needs a non-empty array of strings, numbers or booleans"
                )
            self._count(len(arg))
            return _condition(key, op, tuple(arg))
        elif op == "$exists":
            if not isinstance(arg, bool):
                raise validation_error(FIELD, f"{path}.$exists: needs a boolean")
        elif not isinstance(arg, str):
            raise validation_error(FIELD, f"{path}.$startsWith: needs a string")
        self._count(1)
        return _condition(key, op, arg)


def compile_filter(node: object, non_filterable: frozenset[str] = frozenset()) -> Predicate:
    """Validate a filter document and return a predicate over one vector's metadata."""
    if nesting_exceeds(node, limits.MAX_FILTER_DEPTH):  # first: the compiler recurses per level
        raise validation_error(
            FIELD,
            f"is nested more than {limits.MAX_FILTER_DEPTH} levels deep; at most "
            f"{limits.MAX_FILTER_DEPTH} are allowed (each object and each array counts one level)",
        )
    return _Compiler(non_filterable).document(node, "$")
