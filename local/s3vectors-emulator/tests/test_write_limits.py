"""The service's write limits on request (429 TooManyRequestsException past the configured
PutVectors + DeleteVectors rates per index) and injected latency per operation."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from s3vectors_emulator import mock_s3vectors
from s3vectors_emulator.api import faults
from s3vectors_emulator.backend import writelimits

REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _client() -> Any:
    return boto3.client("s3vectors", region_name=REGION, config=NO_RETRIES)


def _index(client: Any, name: str = "idx") -> dict[str, str]:
    if not client.list_vector_buckets()["vectorBuckets"]:
        client.create_vector_bucket(vectorBucketName="bkt")
    client.create_index(
        vectorBucketName="bkt", indexName=name, dataType="float32", dimension=2,
        distanceMetric="euclidean",
    )
    return {"vectorBucketName": "bkt", "indexName": name}


def _vectors(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"key": f"{prefix}-{i}", "data": {"float32": [1.0, float(i)]}} for i in range(n)]


def _put(client: Any, ref: dict[str, str], vectors: list[dict[str, Any]]) -> bool:
    """True when written, False when throttled (checking the service's 429 answer)."""
    try:
        client.put_vectors(**ref, vectors=vectors)
        return True
    except client.exceptions.TooManyRequestsException as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error.response["Error"]["Message"] == "Rate exceeded"
        return False


def _count(client: Any, ref: dict[str, str]) -> int:
    return len(client.list_vectors(**ref)["vectors"])


class Clock:
    """The limiter's clock, moved by hand: the counts below are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(writelimits.time, "monotonic", fake)
    return fake


def test_requests_past_the_rate_get_429_and_change_nothing(clock: Clock) -> None:
    rate, sent = 20, 50
    with mock_s3vectors(write_requests_per_second=rate) as emulator:
        client = _client()
        ref = _index(client)
        written = sum(_put(client, ref, _vectors(f"r{i}", 1)) for i in range(sent))
        assert written == rate  # one second's budget, then nothing in the same instant
        assert emulator.state.write_limiter.throttled == sent - rate == 30
        clock.now += 0.5  # half a second refills half the budget
        assert sum(_put(client, ref, _vectors(f"s{i}", 1)) for i in range(sent)) == rate // 2
        assert emulator.state.write_limiter.throttled == 30 + sent - rate // 2
        assert _count(client, ref) == rate + rate // 2  # a throttled request wrote nothing


def test_vectors_past_the_rate_get_429_deletes_count_too(clock: Clock) -> None:
    with mock_s3vectors(write_vectors_per_second=1_000) as emulator:
        client = _client()
        ref = _index(client)
        results = [_put(client, ref, _vectors(f"b{i}", 500)) for i in range(4)]
        assert results == [True, True, False, False]
        assert emulator.state.write_limiter.throttled == 2
        clock.now += 0.5
        # DeleteVectors spends the same budget: 500 keys after half a second, then no more.
        client.delete_vectors(**ref, keys=[f"b0-{i}" for i in range(500)])
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.delete_vectors(**ref, keys=["b1-0"])
        assert emulator.state.write_limiter.throttled == 3
        assert _count(client, ref) == 500


def test_a_batch_larger_than_a_seconds_budget_passes_on_a_full_bucket(clock: Clock) -> None:
    with mock_s3vectors(write_vectors_per_second=100):
        client = _client()
        ref = _index(client)
        assert _put(client, ref, _vectors("big", 500))  # full bucket: admitted, 400 in debt
        clock.now += 3.5  # 350 of the 400 repaid
        assert not _put(client, ref, _vectors("next", 1))  # the debt is paid back first
        clock.now += 1.0
        assert _put(client, ref, _vectors("next", 1))


def test_limits_are_per_index_and_reads_are_not_limited(clock: Clock) -> None:
    with mock_s3vectors(write_requests_per_second=2) as emulator:
        client = _client()
        first, second = _index(client, "one"), _index(client, "two")
        assert [_put(client, first, _vectors(f"a{i}", 1)) for i in range(3)] == [True, True, False]
        assert _put(client, second, _vectors("b", 1))  # its own budget
        for _ in range(20):
            client.query_vectors(**first, topK=1, queryVector={"float32": [1.0, 0.0]})
        assert emulator.state.write_limiter.throttled == 1


@pytest.mark.parametrize(
    "options", [{}, {"write_limits": True}], ids=["off by default", "service defaults"]
)
def test_no_throttling_off_or_under_the_service_rates(options: dict[str, Any]) -> None:
    # 40 requests of 50 vectors: under 1,000 requests/s and 2,500 vectors/s in any second.
    with mock_s3vectors(**options) as emulator:
        client = _client()
        ref = _index(client)
        assert all(_put(client, ref, _vectors(f"v{i}", 50)) for i in range(40))
        limits = emulator.state.write_limiter.limits
        assert (limits is None) == (not options)
        if limits is not None:
            assert (limits.requests_per_second, limits.vectors_per_second) == (1_000, 2_500)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_a_rate_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="write_requests_per_second"):
        mock_s3vectors(write_requests_per_second=bad).start()


def test_latency_per_operation_and_global(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    with mock_s3vectors(latency_ms=5, latency_ms_by_operation={"QueryVectors": 80}):
        client = _client()
        ref = _index(client)
        slept.clear()
        client.query_vectors(**ref, topK=1, queryVector={"float32": [1.0, 0.0]})
        client.get_index(**ref)
    assert slept == [0.08, 0.005]
    with pytest.raises(ValueError, match="latency_ms_by_operation"):
        mock_s3vectors(latency_ms_by_operation={"NoSuchOperation": 1}).start()
