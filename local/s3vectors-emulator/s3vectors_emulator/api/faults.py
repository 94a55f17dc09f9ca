"""Fault injection: throttling and 5xx errors for a fraction of requests, and added latency
(for every operation, or per operation: a model of the service's round trip for benches)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from s3vectors_emulator import messages as m
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
    # Per operation, instead of latency_ms (and whatever `operations` says).
    latency_ms_by_operation: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "operations": self.operations,
            "latency_ms_by_operation": dict(self.latency_ms_by_operation),
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
    known = {"throttle_rate", "error_rate", "latency_ms", "operations", "latency_ms_by_operation"}
    unknown = set(payload) - known
    if unknown:
        raise ValidationError(f"faults: unknown field(s) {sorted(unknown)}", "faults")
    throttle, error = _rate(payload, "throttle_rate"), _rate(payload, "error_rate")
    if throttle + error > 1.0:
        raise ValidationError("throttle_rate + error_rate: must not exceed 1", "error_rate")
    latency = _latency(payload.get("latency_ms", 0.0), "latency_ms")
    by_operation = payload.get("latency_ms_by_operation") or {}
    if not isinstance(by_operation, dict) or not set(by_operation) <= set(OPERATION_NAMES):
        raise ValidationError(
            "latency_ms_by_operation: must map operation names from "
            f"{list(OPERATION_NAMES)} to milliseconds",
            "latency_ms_by_operation",
        )
    per_operation = {
        name: _latency(value, f"latency_ms_by_operation.{name}")
        for name, value in by_operation.items()
    }
    operations = payload.get("operations")
    valid = isinstance(operations, list) and all(o in OPERATION_NAMES for o in operations)
    if operations is not None and not valid:
        raise ValidationError(
            f"operations: must be a list of operation names from {list(OPERATION_NAMES)}",
            "operations",
        )
    return FaultConfig(throttle, error, latency, operations, per_operation)


def _latency(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60000:
        raise ValidationError(f"{name}: must be a number between 0 and 60000", name)
    return float(value)


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
        latency = config.latency_ms_by_operation.get(
            operation, config.latency_ms if applies else 0.0
        )
        if latency > 0:
            time.sleep(latency / 1000.0)
        if not applies:
            return
        if config.throttle_rate <= 0 and config.error_rate <= 0:
            return
        with self._lock:
            draw = self._random.random()
            pick_503 = self._random.random() < 0.5
        if draw < config.throttle_rate:
            raise TooManyRequestsError(m.THROTTLED)
        if draw < config.throttle_rate + config.error_rate:
            if pick_503:
                raise ServiceUnavailableError(
                    "Currently unable to handle the request (injected by the emulator)"
                )
            raise InternalServerError("Internal server error (injected by the emulator)")
