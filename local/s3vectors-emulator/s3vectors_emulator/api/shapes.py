"""Request validation generated from botocore's S3 Vectors model (the API's source of truth).

Every operation's input shape is compiled once into a checker that enforces exactly what the
model declares: required members, member types, string and list lengths, integer ranges, enums
and patterns (matched against the whole value). It runs before any lookup, so a malformed
request is a 400 ValidationException whatever resources it names. Rules that the model does not
carry (naming characters, topK <= 10,000, metadata sizes, ...) stay in the handlers.

The message is the service's (`1 validation error detected. Value ... at '/member' failed to
satisfy constraint: Member must ...`, exceptions.constraint_error); a fieldList path names members
with dots, list items by position: `vectors[0].key`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import botocore
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape
from botocore.session import Session

from s3vectors_emulator.exceptions import between, constraint_error

Check = Callable[[Any], None]

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


class _Invalid(Exception):
    """A failed check; parents add their step to `steps` (innermost first) as it propagates,
    so no path string is built while checking a valid request."""

    def __init__(self, constraint: str, length: int | None = None) -> None:
        super().__init__(constraint)
        self.constraint = constraint  # completes "Member must ..."
        self.length = length  # the size of the value, for length constraints
        self.steps: list[str] = []

    def path(self) -> str:
        out = ""
        for step in reversed(self.steps):
            out += step if step.startswith("[") or not out else f".{step}"
        return out


def _noop(value: Any) -> None:
    return None


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if meta.get("document"):
            return _noop  # filters and metadata: checked by their handlers
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
        return _typed(lambda v: isinstance(v, bool), "be a boolean")
    if kind in ("float", "double"):
        return _typed(
            lambda v: isinstance(v, int | float | str) and not isinstance(v, bool),
            "be a number",
        )
    if kind == "timestamp":
        return _typed(lambda v: isinstance(v, int | float | str), "be a timestamp")
    raise ValueError(f"shape type {kind!r} of {shape.name} is not handled by shapes.py")


def _outside(size: int, low: int | None, high: int | None) -> bool:
    return (low is not None and size < low) or (high is not None and size > high)


def _typed(test: Callable[[Any], bool], message: str) -> Check:
    def check(value: Any) -> None:
        if not test(value):
            raise _Invalid(message)

    return check


def _string(shape: Shape, low: int | None, high: int | None) -> Check:
    enum = tuple(shape.metadata["enum"]) if shape.metadata.get("enum") else None
    pattern = shape.metadata.get("pattern")
    matches = pattern_matcher(pattern) if pattern else None
    sized = low is not None or high is not None

    def check(value: Any) -> None:
        if type(value) is not str:
            raise _Invalid("be a string")
        if enum is not None and value not in enum:
            raise _Invalid(f"satisfy enum value set: [{', '.join(enum)}]")
        if sized and _outside(len(value), low, high):
            raise _Invalid(f"have length {between(low, high)}", len(value))
        if matches is not None and not matches(value):
            raise _Invalid(f"satisfy regular expression pattern: {pattern}")

    return check


def _integer(low: int | None, high: int | None) -> Check:
    def check(value: Any) -> None:
        if type(value) is not int:
            raise _Invalid("be an integer")
        if _outside(value, low, high):
            raise _Invalid(f"be {between(low, high)}")

    return check


def _list(shape: ListShape, low: int | None, high: int | None) -> Check:
    member = shape.member
    # Vector data (thousands of floats) is checked in bulk by the handlers with numpy.
    element: Check | None = None if member.type_name in ("float", "double") else checker(member)
    sized = low is not None or high is not None

    def check(value: Any) -> None:
        if type(value) is not list and type(value).__name__ != "ndarray":
            raise _Invalid("be an array")
        if sized and _outside(len(value), low, high):
            raise _Invalid(f"have length {between(low, high)}", len(value))
        if element is None:
            return
        i = 0
        try:
            for i, item in enumerate(value):  # noqa: B007 (i names the failing item)
                element(item)
        except _Invalid as invalid:
            invalid.steps.append(f"[{i}]")
            raise

    return check


def _map(shape: MapShape, low: int | None, high: int | None) -> Check:
    key_check, value_check = checker(shape.key), checker(shape.value)

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise _Invalid("be a JSON object")
        if _outside(len(value), low, high):
            raise _Invalid(f"have length {between(low, high)}", len(value))
        for key, item in value.items():
            key_check(key)  # a bad key or value is reported at the map member itself
            value_check(item)

    return check


def _structure(shape: StructureShape) -> Check:
    union = bool(shape.metadata.get("union"))
    required = tuple(shape.required_members)
    names = tuple(shape.members)
    members = tuple(
        (name, member.serialization.get("name", name), checker(member))
        for name, member in shape.members.items()
    )

    def check(value: Any) -> None:
        if type(value) is not dict:
            raise _Invalid("be a JSON object")
        for name in required:
            if value.get(name) is None:
                invalid = _Invalid("not be null")
                invalid.steps.append(name)
                raise invalid
        present = 0
        name = ""
        try:
            for name, wire, member_check in members:  # noqa: B007 (name names the failure)
                item = value.get(wire)
                if item is not None:
                    present += 1
                    member_check(item)
        except _Invalid as invalid:
            invalid.steps.append(name)
            raise
        if union and present != 1:
            raise _Invalid(f"set exactly one of {', '.join(names)}")

    return check


_CHECKERS: dict[str, Check] = {}


def checker(shape: Shape) -> Check:
    """The compiled check of a named shape, compiled once. A shape that contains itself gets,
    while it compiles, a stand-in that calls the finished check."""
    found = _CHECKERS.get(shape.name)
    if found is None:
        name = shape.name
        _CHECKERS[name] = lambda value: _CHECKERS[name](value)
        found = _CHECKERS[name] = _compile(shape)
    return found


@functools.cache
def operation_checker(operation: str) -> Check:
    shape = service_model().operation_model(operation).input_shape
    return _noop if shape is None else checker(shape)


def validate_input(operation: str, body: dict[str, Any]) -> None:
    """Raise ValidationError for the first member of `body` that breaks the model."""
    try:
        operation_checker(operation)(body)
    except _Invalid as invalid:
        path = invalid.path() or "request"
        raise constraint_error(path, invalid.constraint, invalid.length) from None


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def require_operations(served: Iterable[str]) -> None:
    """Fail loudly when the installed botocore predates an operation the emulator serves: its
    requests would otherwise go unchecked."""
    missing = sorted(set(served) - set(operation_names()))
    if missing:
        raise RuntimeError(
            f"the installed botocore {botocore.__version__} has no s3vectors model of "
            f"{', '.join(missing)}; the emulator needs botocore >= 1.44"
        )
