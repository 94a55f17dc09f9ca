"""The QueryVectors metadata filter language: validation and compilation to a predicate.

Documented semantics follow the S3 Vectors user guide (metadata filtering). Where the guide is
silent, one rule applies everywhere (see docs/emulator.md, "Filter semantics"):
  * `$ne` is exactly `not $eq` and `$nin` is exactly `not $in`, so both match a missing key and
    a list value matches `$ne` only if no element equals the operand;
  * comparisons never coerce types (1 != "1", true != 1); a range operator on a non-number
    value (or a list without numbers) is simply false.
Anything malformed (unknown operator, wrong operand type, empty `$and`, a non-filterable key)
raises ValidationError; nothing is ever ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s3vectors_emulator.constants import FILTER_CONSTRAINTS_MAX, FILTER_DEPTH_MAX
from s3vectors_emulator.exceptions import ValidationError

Metadata = Mapping[str, Any]

FIELD_OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$startsWith",
)
LOGICAL_OPERATORS = ("$and", "$or")
_RANGE = ("$gt", "$gte", "$lt", "$lte")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_primitive(value: object) -> bool:
    return isinstance(value, str | bool | int | float)


def _primitive_equal(value: object, operand: object) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    if is_number(value) and is_number(operand):
        return float(value) == float(operand)  # type: ignore[arg-type]
    if isinstance(value, str) and isinstance(operand, str):
        return value == operand
    return False


def _equal(value: object, operand: object) -> bool:
    """`$eq`: on a list value, true when any element equals the operand."""
    if isinstance(value, list):
        return any(_primitive_equal(element, operand) for element in value)
    return _primitive_equal(value, operand)


def _compare(op: str, value: object, operand: float) -> bool:
    if isinstance(value, list):
        return any(_compare(op, element, operand) for element in value)
    if not is_number(value):
        return False
    number = float(value)  # type: ignore[arg-type]
    if op == "$gt":
        return number > operand
    if op == "$gte":
        return number >= operand
    if op == "$lt":
        return number < operand
    return number <= operand


def _starts_with(value: object, prefix: str) -> bool:
    if isinstance(value, list):
        return any(isinstance(e, str) and e.startswith(prefix) for e in value)
    return isinstance(value, str) and value.startswith(prefix)


@dataclass(frozen=True)
class Condition:
    """One operator applied to one metadata key; `arg` is validated and normalised."""

    key: str
    op: str
    arg: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "$and" | "$or"
    parts: tuple[Node, ...]


Node = Condition | Logical

# Operators that are the negation of another: `$ne` = not `$eq`, `$nin` = not `$in`.
NEGATED = {"$ne": "$eq", "$nin": "$in"}


def value_matches(op: str, value: object, arg: Any) -> bool:
    """Positive operators on a present value (scalar or list): $eq $in $gt.. $startsWith."""
    if op == "$eq":
        return _equal(value, arg)
    if op == "$in":
        return any(_equal(value, v) for v in arg)
    if op in _RANGE:
        return _compare(op, value, arg)
    return _starts_with(value, arg)


def matches(node: Node, metadata: Metadata) -> bool:
    """Reference evaluation of a compiled filter against one vector's metadata."""
    if isinstance(node, Logical):
        if node.op == "$and":
            return all(matches(p, metadata) for p in node.parts)
        return any(matches(p, metadata) for p in node.parts)
    present = node.key in metadata
    if node.op == "$exists":
        return present is node.arg
    if node.op in NEGATED:
        return not (present and value_matches(NEGATED[node.op], metadata[node.key], node.arg))
    return present and value_matches(node.op, metadata[node.key], node.arg)


class _Compiler:
    def __init__(self, non_filterable: frozenset[str]) -> None:
        self.non_filterable = non_filterable
        self.constraints = 0

    def count(self, n: int) -> None:
        self.constraints += n
        if self.constraints > FILTER_CONSTRAINTS_MAX:
            raise ValidationError(
                f"filter: more than {FILTER_CONSTRAINTS_MAX} constraints (each compared value "
                "counts, an $in list of 3 counts 3)",
                "filter",
            )

    def document(self, node: object, path: str) -> Node:
        if not isinstance(node, dict):
            raise ValidationError(f"{path}: a filter must be a JSON object", path)
        if not node:
            raise ValidationError(f"{path}: a filter object must not be empty", path)
        return _all_of([self.entry(key, operand, path) for key, operand in node.items()])

    def entry(self, key: str, operand: object, path: str) -> Node:
        if key in LOGICAL_OPERATORS:
            return self.logical(key, operand, f"{path}.{key}")
        if key.startswith("$"):
            raise ValidationError(
                f"{path}: unknown operator '{key}' "
                f"(logical operators: {', '.join(LOGICAL_OPERATORS)})",
                path,
            )
        if not key:
            raise ValidationError(f"{path}: metadata key must not be empty", path)
        if key in self.non_filterable:
            raise ValidationError(
                f"{path}: metadata key '{key}' is non-filterable in this index and cannot be "
                "used in a filter",
                path,
            )
        field_path = f"{path}.{key}"
        if isinstance(operand, dict):
            if not operand:
                raise ValidationError(
                    f"{field_path}: operator object must not be empty", field_path
                )
            return _all_of(
                [self.condition(key, op, arg, field_path) for op, arg in operand.items()]
            )
        if is_primitive(operand):
            return self.condition(key, "$eq", operand, field_path)
        raise ValidationError(
            f"{field_path}: implicit $eq needs a string, number or boolean "
            f"(got {type(operand).__name__})",
            field_path,
        )

    def logical(self, op: str, operand: object, path: str) -> Node:
        if not isinstance(operand, list) or not operand:
            raise ValidationError(f"{path}: {op} needs a non-empty array of filters", path)
        parts = [self.document(sub, f"{path}[{i}]") for i, sub in enumerate(operand)]
        return Logical(op, tuple(parts))

    def condition(self, key: str, op: str, arg: object, path: str) -> Condition:
        if op not in FIELD_OPERATORS:
            raise ValidationError(
                f"{path}: unknown operator '{op}' (supported: {', '.join(FIELD_OPERATORS)})", path
            )
        if op in ("$eq", "$ne"):
            if not is_primitive(arg):
                raise ValidationError(f"{path}.{op}: needs a string, number or boolean", path)
            self.count(1)
            return Condition(key, op, arg)
        if op in _RANGE:
            if not is_number(arg):
                raise ValidationError(f"{path}.{op}: needs a number", path)
            self.count(1)
            return Condition(key, op, float(arg))  # type: ignore[arg-type]
        if op in ("$in", "$nin"):
            if not isinstance(arg, list) or not arg or not all(is_primitive(a) for a in arg):
                raise ValidationError(
                    f"{path}.{op}: needs a non-empty array of strings, numbers or booleans", path
                )
            self.count(len(arg))
            return Condition(key, op, tuple(arg))
        if op == "$exists":
            if not isinstance(arg, bool):
                raise ValidationError(f"{path}.$exists: needs a boolean", path)
            self.count(1)
            return Condition(key, op, arg)
        if not isinstance(arg, str):
            raise ValidationError(f"{path}.$startsWith: needs a string", path)
        self.count(1)
        return Condition(key, op, arg)


def _all_of(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else Logical("$and", tuple(parts))


def uses_operator(node: Node, op: str) -> bool:
    if isinstance(node, Logical):
        return any(uses_operator(part, op) for part in node.parts)
    return node.op == op


def json_depth(value: object, limit: int) -> int:
    """Nesting depth of a JSON value (each object and array one level), without recursion;
    stops counting once past `limit`."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def check_depth(node: object) -> None:
    if json_depth(node, FILTER_DEPTH_MAX) > FILTER_DEPTH_MAX:
        raise ValidationError(
            f"filter: nested deeper than {FILTER_DEPTH_MAX} levels (each object and array counts "
            "one level)",
            "filter",
        )


def compile_filter(node: object, non_filterable: frozenset[str] = frozenset()) -> Node:
    """Validate a QueryVectors `filter` document and return its normalised tree."""
    check_depth(node)  # first: the compiler below recurses once per level
    return _Compiler(non_filterable).document(node, "filter")
