"""Request bodies as Python values: vector bodies through vector_json's fast path, the rest
(and vector bodies it declines) through the ordinary JSON parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s3vectors_emulator import codec
from s3vectors_emulator import constants as c
from s3vectors_emulator.api import vector_json
from s3vectors_emulator.exceptions import ValidationError

Body = dict[str, Any]


@dataclass(frozen=True)
class Decoded:
    body: Body
    # Whether vector data may hold JSON booleans (numpy would read them as 1/0): never after the
    # fast path, whose rows are numbers only; otherwise whenever the raw body spells one.
    may_hold_booleans: bool


def decode(raw: bytes, vectors: bool, too_deep_field: str) -> Decoded:
    """`vectors`: try the fast path; `too_deep_field`: what a body nested beyond the parsers'
    depth is blamed on."""
    if vectors:
        fast = vector_json.loads_with_arrays(raw)
        if fast is not None:
            return Decoded(fast[0], False)
    return Decoded(_parse(raw, too_deep_field), b"true" in raw or b"false" in raw)


def _parse(raw: bytes, too_deep_field: str) -> Body:
    if not raw or raw.isspace():  # not strip(): that copies a body of up to 20 MiB
        return {}
    try:
        parsed = codec.loads(raw)
    except codec.TooDeep as exc:
        raise ValidationError(
            f"{too_deep_field}: nested deeper than {c.FILTER_DEPTH_MAX} levels", too_deep_field
        ) from exc
    except ValueError as exc:
        raise ValidationError(f"request: body is not valid JSON ({exc})", "request") from exc
    if not isinstance(parsed, dict):
        raise ValidationError("request: body must be a JSON object", "request")
    return parsed
