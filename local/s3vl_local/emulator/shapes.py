"""Request validation generated from botocore's S3 Vectors model (the API's source of truth).

Every operation's input shape is compiled once into a checker that enforces exactly what the
model declares: required members, member types, string and list lengths, integer ranges, enums
and patterns (matched against the whole value). It runs before any lookup, so a malformed
request is a 400 ValidationException whatever resources it names. Rules that the model does not
carry (naming characters, topK <= 10,000, metadata sizes, ...) stay in the handlers.

A fieldList path names members with dots, list items by position: `vectors[0].key`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape
from botocore.session import Session

from .exceptions import ValidationError

Check = Callable[[Any, str], None]

SERVICE = "s3vectors"

# Python's `re` has no \p{..} classes; the tag patterns are spelled out as character tests.
_TAG_EXTRA = frozenset("_.:/=+-@")


def _tag_chars(value: str) -> bool:
    return all(
        ch.isalnum() or ch in _TAG_EXTRA or unicodedata.category(ch).startswith("Z") for ch in value
    )


_SPECIAL_PATTERNS: dict[str, Callable[[str], bool]] = {
    "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": _tag_chars,
}


def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A whole-value test for a model pattern; an unknown `\\p{}` pattern fails loudly."""
    special = _SPECIAL_PATTERNS.get(pattern)
    if special is not None:
        return special
    if "\\p{" in pattern:
        raise ValueError(f"model pattern {pattern!r} needs a translation in shapes.py")
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


@functools.lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return Session().get_service_model(SERVICE)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _fail(path: str, message: str) -> None:
    raise ValidationError(f"{path}: {message}", path)


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if meta.get("document"):
            return lambda value, path: None  # filters and metadata: checked by their handlers
        return _structure(shape)
    if kind == "list":
        assert isinstance(shape, ListShape)
        return _list(shape, low, high)
    if kind == "map":
        assert isinstance(shape, MapShape)
        return _map(shape, low, high)
    if kind == "string":
        return _string(shape, low, high)
    if kind in ("integer", "long"):
        return _integer(low, high)
    if kind == "boolean":
        return _typed(lambda v: isinstance(v, bool), "must be a boolean")
    if kind in ("float", "double"):
        return _typed(
            lambda v: isinstance(v, int | float | str) and not isinstance(v, bool),
            "must be a number",
        )
    if kind == "timestamp":
        return _typed(lambda v: isinstance(v, int | float | str), "must be a timestamp")
    raise ValueError(f"shape type {kind!r} of {shape.name} is not handled by shapes.py")


def _bounds(low: int | None, high: int | None) -> str:
    return f"{'unbounded' if low is None else low}-{'unbounded' if high is None else high}"


def _typed(test: Callable[[Any], bool], message: str) -> Check:
    def check(value: Any, path: str) -> None:
        if not test(value):
            _fail(path, message)

    return check


def _string(shape: Shape, low: int | None, high: int | None) -> Check:
    enum = tuple(shape.metadata["enum"]) if shape.metadata.get("enum") else None
    pattern = shape.metadata.get("pattern")
    matches = pattern_matcher(pattern) if pattern else None

    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            _fail(path, "must be a string")
        if enum is not None and value not in enum:
            _fail(path, f"'{value[:80]}' is not one of {', '.join(enum)}")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            _fail(path, f"length {len(value)} is outside {_bounds(low, high)} characters")
        if matches is not None and not matches(value):
            _fail(path, f"'{value[:80]}' does not match the pattern {pattern}")

    return check


def _integer(low: int | None, high: int | None) -> Check:
    def check(value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, "must be an integer")
        if (low is not None and value < low) or (high is not None and value > high):
            _fail(path, f"{value} is outside the range {_bounds(low, high)}")

    return check


def _count(path: str, size: int, low: int | None, high: int | None, what: str) -> None:
    if (low is not None and size < low) or (high is not None and size > high):
        _fail(path, f"{size} {what} is outside the allowed {_bounds(low, high)}")


def _list(shape: ListShape, low: int | None, high: int | None) -> Check:
    member = shape.member
    # Vector data (thousands of floats) is checked in bulk by the handlers with numpy.
    element: Check | None = None if member.type_name in ("float", "double") else checker(member)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, list) and type(value).__name__ != "ndarray":
            _fail(path, "must be an array")
        _count(path, len(value), low, high, "items")
        if element is not None:
            for i, item in enumerate(value):
                element(item, f"{path}[{i}]")

    return check


def _map(shape: MapShape, low: int | None, high: int | None) -> Check:
    key_check, value_check = checker(shape.key), checker(shape.value)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path, "must be a JSON object")
        _count(path, len(value), low, high, "entries")
        for key, item in value.items():
            key_check(key, path)
            value_check(item, path)

    return check


def _structure(shape: StructureShape) -> Check:
    union = bool(shape.metadata.get("union"))
    required = tuple(shape.required_members)
    members = tuple(
        (name, member.serialization.get("name", name), member)
        for name, member in shape.members.items()
    )
    compiled: dict[str, Check] = {}

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path or "request", "must be a JSON object")
        for name in required:
            if value.get(name) is None:
                _fail(_join(path, name), "is required")
        present = 0
        for name, wire, member in members:
            item = value.get(wire)
            if item is None:
                continue
            present += 1
            member_check = compiled.get(name)
            if member_check is None:
                member_check = compiled[name] = checker(member)
            member_check(item, _join(path, name))
        if union and present != 1:
            _fail(path, f"must set exactly one of {', '.join(n for n, _, _ in members)}")

    return check


_CHECKERS: dict[str, Check] = {}


def checker(shape: Shape) -> Check:
    """The compiled check of a named shape (shared, so recursive shapes compile once)."""
    found = _CHECKERS.get(shape.name)
    if found is None:
        found = _CHECKERS[shape.name] = _compile(shape)
    return found


@functools.cache
def operation_checker(operation: str) -> Check:
    shape = service_model().operation_model(operation).input_shape
    if shape is None:
        return lambda value, path: None
    return checker(shape)


def validate_input(operation: str, body: dict[str, Any]) -> None:
    """Raise ValidationError for the first member of `body` that breaks the model."""
    operation_checker(operation)(body, "")


def operation_names() -> list[str]:
    return list(service_model().operation_names)
