"""Cached boto3 S3 Vectors clients: one per region (and timeout tier), reused across invocations.

The endpoint comes from botocore's own configuration (AWS_ENDPOINT_URL_S3VECTORS), so the same
code talks to AWS and to the local emulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from . import fast_body, limits
from .deadline import Deadline


@dataclass(frozen=True)
class TimeoutTier:
    connect_s: float
    read_s: float
    max_attempts: int

    def worst_case_s(self) -> float:
        """Longest one API call can take: every attempt timing out, plus retry backoff."""
        backoff = sum(min(2.0**i, 20.0) for i in range(1, self.max_attempts))
        return self.max_attempts * (self.connect_s + self.read_s) + backoff


# Largest first: a call uses the most generous tier that still fits in the remaining time.
TIERS: tuple[TimeoutTier, ...] = (
    TimeoutTier(connect_s=3.0, read_s=20.0, max_attempts=3),
    TimeoutTier(connect_s=2.0, read_s=10.0, max_attempts=3),
    TimeoutTier(connect_s=1.0, read_s=5.0, max_attempts=3),
    TimeoutTier(connect_s=1.0, read_s=3.0, max_attempts=2),
    TimeoutTier(connect_s=0.5, read_s=1.5, max_attempts=1),
)

# The least time one call needs: one attempt of the smallest tier (with less left, a call fails
# with Timeout before it is sent).
SHORTEST_CALL_S = TIERS[-1].worst_case_s()

_clients: dict[tuple[str, TimeoutTier, bool], Any] = {}
_session: Any = None  # one boto3 Session: its loader caches the service model for every client
_lock = threading.Lock()


def tier_for(remaining_s: float) -> TimeoutTier | None:
    for tier in TIERS:
        if tier.worst_case_s() <= remaining_s:
            return tier
    return None


def _create(region: str, tier: TimeoutTier, retries: bool = True) -> Any:
    """Called with _lock held (a boto3 Session is not thread-safe while creating clients).

    boto3 is imported on first use only: it is most of the module import cost."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=tier.connect_s,
        read_timeout=tier.read_s,
        retries={"mode": "standard",
                 "total_max_attempts": tier.max_attempts if retries else 1},
        # Every call one invocation can have in flight (partitions x chunks per partition): a
        # smaller pool discards the extra connections after each burst and opens new ones next
        # time (TCP and TLS handshakes, and on a busy endpoint dropped ones).
        max_pool_connections=limits.PARTITION_CONCURRENCY * limits.WRITE_CONCURRENCY,
        tcp_keepalive=True,
    )
    global _session
    if _session is None:
        _session = boto3.session.Session()
    client = _session.client("s3vectors", config=config)
    fast_body.register(client)
    return client


def client_for(region: str, deadline: Deadline, operation: str, retries: bool = True) -> Any:
    """The cached client for `region` whose worst-case call fits in the deadline. `retries`
    False: botocore makes one attempt (the caller retries on its own schedule)."""
    tier = tier_for(deadline.remaining())
    if tier is None:
        raise deadline.expired_error(operation)
    key = (region, tier, retries)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _create(region, tier, retries)
                _clients[key] = client
    return client


def clear_cache() -> None:
    """Forget every client and the session (tests change the environment between cases)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
