"""Typed accessors for request fields: each failure is a ValidationError naming the field, in the
service's constraint text (exceptions.constraint_error)."""

from __future__ import annotations

from typing import Any, TypeVar

from s3vectors_emulator.exceptions import between, constraint_error

Body = dict[str, Any]
T = TypeVar("T")


def _given(body: Body, name: str, required: bool, kind: type[T], what: str) -> T | None:
    """The member's value if of type `kind` (booleans are not integers), None when absent."""
    value = body.get(name)
    if value is None:
        if required:
            raise constraint_error(name, "not be null")
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise constraint_error(name, f"be {what}")
    return value


def string(
    body: Body, name: str, *, required: bool = False, min_len: int = 0, max_len: int | None = None
) -> str | None:
    value = _given(body, name, required, str, "a string")
    if value is None:
        return None
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise constraint_error(name, f"have length {between(min_len, max_len)}", len(value))
    return value


def integer(
    body: Body,
    name: str,
    *,
    required: bool = False,
    low: int | None = None,
    high: int | None = None,
) -> int | None:
    value = _given(body, name, required, int, "an integer")
    if value is None:
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        raise constraint_error(name, f"be {between(low, high)}")
    return value


def integer_or(body: Body, name: str, default: int, *, low: int, high: int) -> int:
    """An optional integer member, `default` when absent."""
    value = integer(body, name, low=low, high=high)
    return default if value is None else value


def boolean(body: Body, name: str, default: bool = False) -> bool:
    value = _given(body, name, False, bool, "a boolean")
    return default if value is None else value


def array(
    body: Body, name: str, *, required: bool = False, low: int = 0, high: int | None = None
) -> list[Any] | None:
    value = _given(body, name, required, list, "an array")
    if value is None:
        return None
    if len(value) < low or (high is not None and len(value) > high):
        raise constraint_error(name, f"have length {between(low, high)}", len(value))
    return value


def obj(body: Body, name: str) -> dict[str, Any] | None:
    return _given(body, name, False, dict, "a JSON object")


def string_map(body: Body, name: str) -> dict[str, str]:
    value = obj(body, name) or {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise constraint_error(f"{name}.{key}", "be a string")
    return value
