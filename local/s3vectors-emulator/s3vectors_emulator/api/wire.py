"""The HTTP answer the emulator gives, and the one whole-request limit (20 MiB)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s3vectors_emulator import codec
from s3vectors_emulator import constants as c
from s3vectors_emulator.exceptions import ServiceError, ValidationError


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def json_response(
    status: int, payload: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    return Response(status, headers, codec.dumps(payload))


def error_response(error: ServiceError) -> Response:
    return json_response(error.status, error.body(), {"x-amzn-ErrorType": error.code})


def check_payload_size(length: int) -> None:
    """Refuse a request body over the service's limit (the HTTP server checks Content-Length
    before reading the body; the in-process path checks the body it was handed)."""
    if length > c.REQUEST_PAYLOAD_MAX_BYTES:
        raise ValidationError(
            f"request: payload of {length} bytes exceeds the {c.REQUEST_PAYLOAD_MAX_BYTES} "
            "byte (20 MiB) limit",
            "request",
        )
