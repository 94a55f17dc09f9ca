"""QueryVectors results beyond the first page, kept server-side until their nextToken comes back.

A token is single-use, expires after QUERY_TOKEN_TTL_SECONDS and is only good for the query that
made it (same fingerprint); at most QUERY_TOKEN_CACHE_MAX result sets are kept, oldest dropped.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from . import constants as c
from . import tokens
from .exceptions import ValidationError

Rows = list[dict[str, Any]]


@dataclass
class _Pages:
    fingerprint: str
    rows: Rows
    expires: float


class QueryPages:
    def __init__(self) -> None:
        self._pages: OrderedDict[str, _Pages] = OrderedDict()
        self._lock = threading.Lock()  # queries run in parallel under the state's read lock

    def store(self, fingerprint: str, rows: Rows) -> str:
        """Keep the rest of a query's rows; the token that fetches them."""
        token = tokens.encode({"q": uuid.uuid4().hex})
        now = time.monotonic()
        with self._lock:
            for stale in [t for t, pg in self._pages.items() if pg.expires < now]:
                del self._pages[stale]
            self._pages[token] = _Pages(fingerprint, rows, now + c.QUERY_TOKEN_TTL_SECONDS)
            while len(self._pages) > c.QUERY_TOKEN_CACHE_MAX:
                self._pages.popitem(last=False)
        return token

    def take(self, token: str, fingerprint: str) -> Rows:
        """The rows a token stands for; a token of another query is refused and kept."""
        tokens.decode(token)
        with self._lock:
            pages = self._pages.pop(token, None)
        if pages is None or pages.expires < time.monotonic():
            raise ValidationError("nextToken: unknown or expired query token", "nextToken")
        if pages.fingerprint != fingerprint:
            with self._lock:
                self._pages[token] = pages
            raise ValidationError(
                "nextToken: was issued for a different query; send the same index, queryVector, "
                "topK, filter and return flags with it",
                "nextToken",
            )
        return pages.rows
