"""Opaque paging tokens: a small JSON object, base64url-encoded."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from s3vectors_emulator.exceptions import ValidationError


def encode(payload: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode(token: str, name: str = "nextToken") -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise ValidationError(f"{name}: invalid token", name)
    return decoded
