"""One emulator instance: state, fault injector, dispatcher and optional persistence."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from s3vectors_emulator import constants as c
from s3vectors_emulator.api.dispatch import Dispatcher
from s3vectors_emulator.api.faults import FaultInjector, parse_fault_config
from s3vectors_emulator.backend.persistence import load, save
from s3vectors_emulator.backend.writelimits import WriteLimits
from s3vectors_emulator.exceptions import ServiceError


class Emulator:
    def __init__(
        self,
        region: str = c.DEFAULT_REGION,
        data_dir: str | Path | None = None,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        fault_seed: int | None = None,
        query_page_size: int = c.QUERY_PAGE_SIZE_DEFAULT,
        fast_json: bool = True,
        classic_buckets: bool = False,
        text_build_seconds: float = c.TEXT_BUILD_SECONDS_DEFAULT,
        latency_ms_by_operation: Mapping[str, float] | None = None,
        write_limits: bool = False,
        write_requests_per_second: float | None = None,
        write_vectors_per_second: float | None = None,
    ) -> None:
        """`write_limits` (or either rate) turns on the service's per-index write limits: 1,000
        PutVectors + DeleteVectors requests and 2,500 vectors per second unless given."""
        self.data_dir = Path(data_dir) if data_dir is not None else None
        state = load(self.data_dir) if self.data_dir is not None else None
        if query_page_size < 1:
            raise ValueError(f"query_page_size must be at least 1, got {query_page_size}")
        try:
            config = parse_fault_config(
                {
                    "throttle_rate": throttle_rate,
                    "error_rate": error_rate,
                    "latency_ms": latency_ms,
                    "latency_ms_by_operation": dict(latency_ms_by_operation or {}),
                }
            )
            limits = None
            rates = (write_requests_per_second, write_vectors_per_second)
            if write_limits or rates != (None, None):
                limits = WriteLimits(
                    c.WRITE_REQUESTS_PER_SECOND if rates[0] is None else rates[0],
                    c.WRITE_VECTORS_PER_SECOND if rates[1] is None else rates[1],
                )
        except ServiceError as error:
            raise ValueError(error.message) from error
        faults = FaultInjector(config, seed=fault_seed)
        if text_build_seconds < 0:
            raise ValueError(f"text_build_seconds must be >= 0, got {text_build_seconds}")
        self._dirty = threading.Event()
        self._written: dict[str, tuple[int, int]] = {}
        self.dispatcher = Dispatcher(state, region, faults, fast_json, on_write=self._dirty.set)
        # handle(method, path, query, headers, body) -> Response: what the server and mock call.
        self.handle = self.dispatcher.handle
        self.faults = faults
        self.state = self.dispatcher.state
        # New buckets dated before 2026-09-30 (CLASSIC default), so CLASSIC can be tested.
        self.state.classic_buckets = classic_buckets
        self.state.query_page_size = query_page_size
        self.state.text_build_seconds = text_build_seconds
        self.state.write_limiter.limits = limits

    def reset(self) -> None:
        """Empty the emulator (what the pytest plugin does before each test)."""
        self.state.reset()
        self._dirty.set()

    @property
    def dirty(self) -> bool:
        return self._dirty.is_set()

    def save(self) -> bool:
        """Write a snapshot if there is a data directory; True if one was written."""
        if self.data_dir is None:
            return False
        with self.state.lock.read():
            self._dirty.clear()
            save(self.state, self.data_dir, self._written)
        return True
