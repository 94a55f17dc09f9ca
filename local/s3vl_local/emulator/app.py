"""One emulator instance: state, fault injector, dispatcher and optional persistence."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from . import constants as c
from .exceptions import ServiceError
from .faults import FaultInjector, parse_fault_config
from .persistence import load, save
from .responses import READ_ONLY, Dispatcher, Response


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
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None
        state = load(self.data_dir) if self.data_dir is not None else None
        if query_page_size < 1:
            raise ValueError(f"query_page_size must be at least 1, got {query_page_size}")
        try:
            config = parse_fault_config(
                {"throttle_rate": throttle_rate, "error_rate": error_rate, "latency_ms": latency_ms}
            )
        except ServiceError as error:
            raise ValueError(error.message) from error
        faults = FaultInjector(config, seed=fault_seed)
        if text_build_seconds < 0:
            raise ValueError(f"text_build_seconds must be >= 0, got {text_build_seconds}")
        self.dispatcher = Dispatcher(
            state, region, faults, query_page_size, fast_json, text_build_seconds
        )
        # New buckets dated before 2026-09-30 (CLASSIC default), so CLASSIC can be tested.
        self.dispatcher.state.classic_buckets = classic_buckets
        self.faults = faults
        self.state = self.dispatcher.state
        self._dirty = threading.Event()
        self._written: dict[str, tuple[int, int]] = {}

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        response = self.dispatcher.handle(method, path, query, headers, body)
        operation = path.strip("/").split("/", 1)[0]
        if response.status == 200 and operation not in READ_ONLY:
            self._dirty.set()
        return response

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
