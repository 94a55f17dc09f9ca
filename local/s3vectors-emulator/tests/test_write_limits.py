"""The service's write limits on request (429 TooManyRequestsException past the configured
PutVectors + DeleteVectors rates per index) and injected latency per operation."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from s3vectors_emulator import mock_s3vectors
from s3vectors_emulator.api import faults

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


def test_requests_past_the_rate_get_429_and_change_nothing() -> None:
    rate, sent = 20, 80
    with mock_s3vectors(write_requests_per_second=rate) as emulator:
        client = _client()
        ref = _index(client)
        start = time.monotonic()
        written = sum(_put(client, ref, _vectors(f"r{i}", 1)) for i in range(sent))
        elapsed = time.monotonic() - start
        throttled = sent - written
        # A full second's budget at once, then the rate: never more, never much less.
        assert rate <= written <= rate + rate * elapsed + 1, (written, elapsed)
        assert throttled == emulator.state.write_limiter.throttled > 0
        assert _count(client, ref) == written  # a throttled request wrote nothing


def test_vectors_past_the_rate_get_429_deletes_count_too() -> None:
    rate = 1_000
    with mock_s3vectors(write_vectors_per_second=rate) as emulator:
        client = _client()
        ref = _index(client)
        start = time.monotonic()
        results = [_put(client, ref, _vectors(f"b{i}", 500)) for i in range(6)]
        elapsed = time.monotonic() - start
        written = 500 * sum(results)
        assert results[:2] == [True, True]
        assert 1_000 <= written <= rate + rate * elapsed + 500, (results, elapsed)
        throttled = emulator.state.write_limiter.throttled
        assert throttled == results.count(False) > 0
        # DeleteVectors spends the same budget: right after, 500 keys cannot be deleted.
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.delete_vectors(**ref, keys=[f"b0-{i}" for i in range(500)])
        assert emulator.state.write_limiter.throttled == throttled + 1


def test_limits_are_per_index_and_reads_are_not_limited() -> None:
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
