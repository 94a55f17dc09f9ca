"""Opaque paging tokens: a random id, mapped on the server to where the next page starts.

Nothing can be read from a token (the service's are opaque too: a list token must not show the
keys or names it pages past). Tokens live in memory, the newest LIST_TOKEN_CACHE_MAX of them; one
older than that, or from before a restart, is refused as invalid.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from s3vectors_emulator import constants as c
from s3vectors_emulator.exceptions import ValidationError


class TokenStore:
    def __init__(self, limit: int = c.LIST_TOKEN_CACHE_MAX) -> None:
        self._limit = limit
        self._issued: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()  # lists run in parallel under the state's read lock

    def encode(self, payload: Mapping[str, Any]) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = dict(payload)
            while len(self._issued) > self._limit:
                self._issued.popitem(last=False)
        return token

    def decode(self, token: str, name: str = "nextToken") -> dict[str, Any]:
        """What the token stands for; a token may be sent again (a client retrying a page)."""
        with self._lock:
            found = self._issued.get(token)
        if found is None:
            raise ValidationError(f"{name}: invalid or expired token", name)
        return dict(found)
