"""Fault injection: throttling, 5xx errors and added latency for a fraction of requests."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from s3vectors_emulator.api.urls import OPERATION_NAMES
from s3vectors_emulator.exceptions import (
    InternalServerError,
    ServiceUnavailableError,
    TooManyRequestsError,
    ValidationError,
)


@dataclass
class FaultConfig:
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: float = 0.0
    operations: list[str] | None = None  # None = every operation of the routing table

    def as_json(self) -> dict[str, Any]:
        return {
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "operations": self.operations,
        }


def _rate(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValidationError(f"{name}: must be a number between 0 and 1", name)
    return float(value)


def parse_fault_config(payload: object) -> FaultConfig:
    """Build a FaultConfig from the admin endpoint's JSON, rejecting anything unknown."""
    if not isinstance(payload, dict):
        raise ValidationError("faults: body must be a JSON object", "faults")
    unknown = set(payload) - {"throttle_rate", "error_rate", "latency_ms", "operations"}
    if unknown:
        raise ValidationError(f"faults: unknown field(s) {sorted(unknown)}", "faults")
    throttle, error = _rate(payload, "throttle_rate"), _rate(payload, "error_rate")
    if throttle + error > 1.0:
        raise ValidationError("throttle_rate + error_rate: must not exceed 1", "error_rate")
    latency = payload.get("latency_ms", 0.0)
    if (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not 0 <= latency <= 60000
    ):
        raise ValidationError("latency_ms: must be a number between 0 and 60000", "latency_ms")
    operations = payload.get("operations")
    valid = isinstance(operations, list) and all(o in OPERATION_NAMES for o in operations)
    if operations is not None and not valid:
        raise ValidationError(
            f"operations: must be a list of operation names from {list(OPERATION_NAMES)}",
            "operations",
        )
    return FaultConfig(throttle, error, float(latency), operations)


@dataclass
class FaultInjector:
    config: FaultConfig = field(default_factory=FaultConfig)
    seed: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config

    def reset(self) -> None:
        self.configure(FaultConfig())

    def apply(self, operation: str) -> None:
        """Sleep and/or raise for this request, as configured; called before the operation runs."""
        config = self.config
        applies = operation in (
            config.operations if config.operations is not None else OPERATION_NAMES
        )
        if not applies:
            return
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000.0)
        if config.throttle_rate <= 0 and config.error_rate <= 0:
            return
        with self._lock:
            draw = self._random.random()
            pick_503 = self._random.random() < 0.5
        if draw < config.throttle_rate:
            raise TooManyRequestsError("Request rate exceeded (injected by the s3vl emulator)")
        if draw < config.throttle_rate + config.error_rate:
            if pick_503:
                raise ServiceUnavailableError(
                    "Currently unable to handle the request (injected by the s3vl emulator)"
                )
            raise InternalServerError("Internal server error (injected by the s3vl emulator)")
