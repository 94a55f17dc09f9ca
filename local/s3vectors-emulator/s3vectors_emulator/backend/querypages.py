"""QueryVectors results beyond the first page, kept server-side until their nextToken comes back.

A token is single-use, expires after QUERY_TOKEN_TTL_SECONDS and is only good for the query that
made it (same fingerprint); at most QUERY_TOKEN_CACHE_MAX result sets are kept, oldest dropped.
What is kept is a ResultSet: it builds a page's rows when that page is asked for, so a large topK
costs little until its pages are read.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from s3vectors_emulator import constants as c
from s3vectors_emulator.exceptions import ValidationError

Rows = list[dict[str, Any]]


class ResultSet(Protocol):
    """Ranked results not sent yet."""

    def split(self, size: int) -> tuple[Rows, ResultSet | None]:
        """The next page's rows (at most size) and what is left, or None when nothing is."""
        ...


class BuiltRows:
    """Results whose rows were built when the query ran."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    def split(self, size: int) -> tuple[Rows, ResultSet | None]:
        rest = self._rows[size:]
        return self._rows[:size], (BuiltRows(rest) if rest else None)


@dataclass
class _Pages:
    fingerprint: str
    rows: ResultSet
    expires: float


class QueryPages:
    def __init__(self) -> None:
        self._pages: OrderedDict[str, _Pages] = OrderedDict()
        self._lock = threading.Lock()  # queries run in parallel under the state's read lock

    def store(self, fingerprint: str, rows: ResultSet) -> str:
        """Keep the rest of a query's rows; the token that fetches them."""
        token = secrets.token_urlsafe(24)  # opaque: the rows stay on the server
        now = time.monotonic()
        with self._lock:
            for stale in [t for t, pg in self._pages.items() if pg.expires < now]:
                del self._pages[stale]
            self._pages[token] = _Pages(fingerprint, rows, now + c.QUERY_TOKEN_TTL_SECONDS)
            while len(self._pages) > c.QUERY_TOKEN_CACHE_MAX:
                self._pages.popitem(last=False)
        return token

    def take(self, token: str, fingerprint: str) -> ResultSet:
        """The rows a token stands for; a token of another query is refused and kept."""
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
