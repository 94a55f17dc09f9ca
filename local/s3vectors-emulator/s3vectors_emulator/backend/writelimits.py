"""The service's write limits per index, on request: PutVectors + DeleteVectors requests per
second and vectors written or deleted per second (1,000 and 2,500 on AWS). Past either, the
request is refused whole with 429 TooManyRequestsException, as the service throttles.

Each limit is a token bucket holding one second of its rate, refilled continuously. A request
is admitted while the bucket holds at least its cost (or, for a batch larger than one second's
worth, while the bucket is full); it then takes its whole cost, so the long-run rate is the
configured one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from s3vectors_emulator import constants as c
from s3vectors_emulator import messages as m
from s3vectors_emulator.exceptions import TooManyRequestsError, ValidationError


@dataclass(frozen=True)
class WriteLimits:
    requests_per_second: float = c.WRITE_REQUESTS_PER_SECOND
    vectors_per_second: float = c.WRITE_VECTORS_PER_SECOND

    def __post_init__(self) -> None:
        for name, value in (
            ("write_requests_per_second", self.requests_per_second),
            ("write_vectors_per_second", self.vectors_per_second),
        ):
            if not value > 0:
                raise ValidationError(f"{name}: must be a number above 0, got {value}", name)


class _Bucket:
    __slots__ = ("at", "rate", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def admits(self, cost: float) -> bool:
        return self.tokens >= min(cost, self.rate)


class WriteLimiter:
    """The limits of every index, keyed by index ARN; `None` limits admit everything."""

    def __init__(self, limits: WriteLimits | None = None) -> None:
        self.limits = limits
        self.throttled = 0  # requests refused so far (tests and benches read it)
        self._buckets: dict[str, tuple[_Bucket, _Bucket]] = {}
        self._lock = threading.Lock()

    def admit(self, index_arn: str, vectors: int) -> None:
        """Take one request and `vectors` vectors from the index's budget, or raise the 429."""
        limits = self.limits
        if limits is None:
            return
        now = time.monotonic()
        with self._lock:
            pair = self._buckets.get(index_arn)
            if pair is None:
                pair = self._buckets[index_arn] = (
                    _Bucket(limits.requests_per_second, now),
                    _Bucket(limits.vectors_per_second, now),
                )
            requests, written = pair
            requests.refill(now)
            written.refill(now)
            if not (requests.admits(1) and written.admits(vectors)):
                self.throttled += 1
                raise TooManyRequestsError(m.THROTTLED)
            requests.tokens -= 1
            written.tokens -= vectors

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.throttled = 0
