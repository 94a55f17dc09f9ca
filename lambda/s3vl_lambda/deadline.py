"""The time budget of one invocation, from the Lambda context's remaining time."""

from __future__ import annotations

import time
from typing import Any

from .errors import TIMEOUT, S3vlError

# Time kept back for building and returning the envelope after the last AWS call.
SAFETY_MARGIN_S = 0.25
# Budget when the caller gives no Lambda context (tests, scripts).
DEFAULT_BUDGET_S = 60.0


class Deadline:
    """Absolute monotonic deadline; every AWS call checks it and sizes its timeouts from it."""

    def __init__(self, budget_s: float) -> None:
        self._at = time.monotonic() + budget_s - SAFETY_MARGIN_S

    @classmethod
    def from_context(cls, context: Any) -> Deadline:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        if callable(getter):
            try:
                return cls(float(getter()) / 1000.0)
            except (TypeError, ValueError):
                pass
        return cls(DEFAULT_BUDGET_S)

    def remaining(self) -> float:
        return self._at - time.monotonic()

    def keeping(self, seconds: float) -> Deadline:
        """A deadline `seconds` earlier: calls made under it leave that much time for work
        that must still run after them (undoing what they did, when they fail)."""
        earlier = Deadline(0.0)
        earlier._at = self._at - seconds
        return earlier

    def expired_error(self, operation: str) -> S3vlError:
        return S3vlError(
            TIMEOUT,
            f"{operation}: the function's remaining time ran out before the call could complete",
            retryable=True,
        )
