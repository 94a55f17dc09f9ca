"""Typed accessors for request fields: each failure is a ValidationError naming the field."""

from __future__ import annotations

from typing import Any

from .exceptions import ValidationError

Body = dict[str, Any]


def _given(body: Body, name: str, required: bool) -> Any:
    """The member's value, None when absent (a ValidationError when absent but required)."""
    value = body.get(name)
    if value is None and required:
        raise ValidationError(f"{name}: is required", name)
    return value


def string(
    body: Body, name: str, *, required: bool = False, min_len: int = 0, max_len: int | None = None
) -> str | None:
    value = _given(body, name, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string", name)
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        limit = f"{min_len}-{max_len}" if max_len is not None else f"at least {min_len}"
        raise ValidationError(f"{name}: length {len(value)} is outside {limit} characters", name)
    return value


def integer(
    body: Body,
    name: str,
    *,
    required: bool = False,
    low: int | None = None,
    high: int | None = None,
) -> int | None:
    value = _given(body, name, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name}: must be an integer", name)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValidationError(f"{name}: {value} is outside the range {low}-{high}", name)
    return value


def integer_or(body: Body, name: str, default: int, *, low: int, high: int) -> int:
    """An optional integer member, `default` when absent."""
    value = integer(body, name, low=low, high=high)
    return default if value is None else value


def boolean(body: Body, name: str, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: must be a boolean", name)
    return value


def array(
    body: Body, name: str, *, required: bool = False, low: int = 0, high: int | None = None
) -> list[Any] | None:
    value = _given(body, name, required)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError(f"{name}: must be an array", name)
    if len(value) < low or (high is not None and len(value) > high):
        raise ValidationError(
            f"{name}: {len(value)} items is outside the allowed {low}-{high} per request", name
        )
    return value


def obj(body: Body, name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(f"{name}: must be a JSON object", name)
    return value


def string_map(body: Body, name: str) -> dict[str, str]:
    value = obj(body, name) or {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValidationError(f"{name}: value of '{key}' must be a string", name)
    return value
