"""PutVectors bodies encoded in one pass instead of by botocore's per-value serializer.

botocore serialises a request by walking its shape: one Python call per number, about 320 ms of
CPU for 500 vectors of 384 floats, most of the cost of a bulk write. The vectors this function
sends are validated already (operations/write.py), so this module encodes the whole body with
orjson (about 8 ms) and lets botocore serialise a one-vector stand-in:

1. `before-parameter-build`: the real parameters are encoded into the request context and the
   `vectors` parameter is replaced by the stand-in, which botocore validates and serialises.
2. `before-call`: the serialised body is swapped for the real one. Signing happens later (on
   `request-created`), so SigV4 covers the bytes that are sent; retries resend the same body.

This relies on PutVectors being a REST-JSON operation whose input members all go in the body; if a
future model moves one into the URI or a header, `applies_to` turns the bypass off.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - bundled by package-lambda.sh; stdlib is ~15x slower
    orjson = None  # type: ignore[assignment]

OPERATION = "PutVectors"
_CONTEXT_KEY = "s3vl_encoded_body"
# What botocore validates and serialises in place of the real vectors (it never leaves here).
STAND_IN: list[dict[str, Any]] = [{"key": "s3vl-stand-in", "data": {"float32": [1.0]}}]


def encode(params: dict[str, Any]) -> bytes:
    """The JSON body of a REST-JSON request whose members all travel in the body."""
    if orjson is not None:
        return orjson.dumps(params)
    return json.dumps(params, separators=(",", ":"), allow_nan=False).encode()


def applies_to(operation_model: Any) -> bool:
    """True when every input member of the operation is serialised into the JSON body."""
    if operation_model.metadata.get("protocol") != "rest-json":
        return False
    members = operation_model.input_shape.members.values()
    return all("location" not in member.serialization for member in members)


def _stash_body(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if not isinstance(params.get("vectors"), list) or not applies_to(model):
        return
    try:
        body = encode(params)
    except (TypeError, ValueError):  # not JSON-encodable: let botocore validate and report it
        return
    context[_CONTEXT_KEY] = body
    params["vectors"] = STAND_IN


def _swap_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_CONTEXT_KEY, None)
    if body is not None:
        params["body"] = body


def register(client: Any) -> None:
    """Install the bypass on one boto3 s3vectors client (its own event system)."""
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    # Last: other handlers (botocore.stub.Stubber among them) still see the real parameters.
    events.register_last(f"before-parameter-build.{service}.{OPERATION}", _stash_body)
    events.register(f"before-call.{service}.{OPERATION}", _swap_body)
