"""The function against the project's S3 Vectors emulator: in-process and over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from s3vectors_emulator import mock_s3vectors, start_server

from .conftest import ACCOUNT, REGION, Invoke

BUCKET = "emu-bucket"


def _arn(index: str) -> str:
    return f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{index}"


def _setup(client: Any, index: str, metric: str, dimension: int = 3) -> str:
    client.create_index(
        vectorBucketName=BUCKET, indexName=index, dataType="float32", dimension=dimension,
        distanceMetric=metric, metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
    )
    return _arn(index)


@pytest.fixture
def emulator(api_calls: list[str]) -> Iterator[Any]:
    with mock_s3vectors(query_page_size=4):
        client = boto3.client("s3vectors", region_name=REGION)
        client.create_vector_bucket(vectorBucketName=BUCKET)
        yield client


def _load(invoke: Invoke, arn: str, n: int) -> None:
    vectors = [
        {"key": f"v{i:03d}", "data": [1.0, i / 10.0, 0.5],
         "metadata": {"group": "even" if i % 2 == 0 else "odd", "i": i, "body": "x" * 10}}
        for i in range(n)
    ]
    env = invoke({"operation": "put_vectors", "index_arn": arn, "vectors": vectors})
    assert env["success"] is True, env


def test_query_pages_are_followed_to_top_k(
    invoke: Invoke, emulator: Any, api_calls: list[str]
) -> None:
    arn = _setup(emulator, "cos-index", "cosine")
    _load(invoke, arn, 30)
    api_calls.clear()
    env = invoke({"operation": "query_vectors", "index_arn": arn,
                  "query_vector": [1.0, 0.0, 0.5], "top_k": 10})
    result = env["result"]
    assert len(result) == 10  # the emulator pages 4 at a time: 3 QueryVectors calls
    assert api_calls.count("QueryVectors") == 3
    distances = [r["distance"] for r in result]
    assert distances == sorted(distances)
    assert result[0]["vector_id"] == "v000"
    for r in result:
        assert r["similarity_score"] == pytest.approx(1.0 - r["distance"])


def test_euclidean_scores_and_filter(invoke: Invoke, emulator: Any) -> None:
    arn = _setup(emulator, "l2-index", "euclidean")
    _load(invoke, arn, 12)
    env = invoke({"operation": "query_vectors", "index_arn": arn, "query_vector": [1.0, 0.0, 0.5],
                  "top_k": 5, "metadata_filter": {"group": "odd"}})
    result = env["result"]
    assert [r["vector_id"] for r in result] == ["v001", "v003", "v005", "v007", "v009"]
    for r in result:
        assert r["metadata"]["group"] == "odd"
        assert r["similarity_score"] == pytest.approx(1.0 / (1.0 + r["distance"]))
        assert 0.0 < r["similarity_score"] <= 1.0


def test_filterable_size_respects_non_filterable_keys(invoke: Invoke, emulator: Any) -> None:
    arn = _setup(emulator, "meta-index", "cosine")
    big = {"key": "big", "data": [1.0, 0.0, 0.0], "metadata": {"body": "x" * 5000}}
    assert invoke({"operation": "put_vectors", "index_arn": arn, "vectors": [big]})["success"]
    bad = {"key": "bad", "data": [1.0, 0.0, 0.0], "metadata": {"title": "x" * 5000}}
    env = invoke({"operation": "put_vectors", "index_arn": arn, "vectors": [bad]})
    assert env["error"]["field"] == "vectors[0].metadata"
    assert "non-filterable" in env["error"]["message"]


def test_list_vectors_pages_and_segments_cover_everything(invoke: Invoke, emulator: Any) -> None:
    arn = _setup(emulator, "list-index", "cosine")
    _load(invoke, arn, 25)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        env = invoke({"operation": "list_vectors", "index_arn": arn, "max_results": 10,
                      "next_token": token})
        page = env["result"]
        assert page["total_count"] == len(page["vectors"]) <= 10
        seen += [v["vector_id"] for v in page["vectors"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert pages == 3 and sorted(seen) == [f"v{i:03d}" for i in range(25)]
    segments: list[str] = []
    for s in range(3):
        env = invoke({"operation": "list_vectors", "index_arn": arn, "max_results": 1000,
                      "segment_count": 3, "segment_index": s})
        segments += [v["vector_id"] for v in env["result"]["vectors"]]
    assert sorted(segments) == sorted(seen)


def test_batch_and_get_index_through_the_emulator(invoke: Invoke, emulator: Any) -> None:
    arn = _setup(emulator, "batch-index", "cosine")
    _load(invoke, arn, 6)
    info = invoke({"operation": "get_index", "index_arn": arn})["result"]
    assert info["dimension"] == 3 and info["non_filterable_metadata_keys"] == ["body"]
    assert info["creation_time"] is not None
    env = invoke({"operation": "query_vectors_batch", "index_arn": arn, "top_k": 2,
                  "query_vectors": [[1.0, 0.0, 0.5], [1.0, 0.5, 0.5], [0.0, 0.0, 0.0, 1.0]]})
    first, second, third = env["result"]
    assert first["results"][0]["vector_id"] == "v000"
    assert second["results"][0]["vector_id"] == "v005"
    assert third["success"] is False and third["error"]["type"] == "ValidationError"


def test_throttled_calls_are_retried_by_botocore(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vl_lambda import clients

    attempts: list[int] = []
    real_create = clients._create

    def counting(region: str, tier: clients.TimeoutTier, retries: bool = True) -> Any:
        client = real_create(region, tier, retries)
        client.meta.events.register(
            "needs-retry.s3vectors.GetIndex", lambda **kw: attempts.append(kw["attempts"])
        )
        return client

    monkeypatch.setattr(clients, "_create", counting)
    with mock_s3vectors(throttle_rate=1.0, fault_seed=3):
        env = invoke({"operation": "get_index", "index_arn": _arn("any-index")})
    tier = clients.tier_for(30.0 - 0.25)
    assert tier is not None
    assert env["error"]["type"] == "Throttled" and env["error"]["retryable"] is True
    assert env["error"]["code"] == "TooManyRequestsException"
    assert attempts and max(attempts) == tier.max_attempts  # botocore retried underneath


def test_write_limit_429_is_retried_and_reported_retryable(
    invoke: Invoke, api_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the service's write rate the emulator answers 429 TooManyRequestsException, as the
    service does; the function retries it on its own schedule (operations/write.py) and, when
    the budget never comes back, reports it retryable."""
    from s3vl_lambda.operations import write

    pauses: list[float] = []
    monkeypatch.setattr(write.time, "sleep", pauses.append)  # record the schedule, skip waits

    # One request's budget, refilled after about 1,000 s: the first write passes, none after.
    with mock_s3vectors(write_requests_per_second=0.001) as emulator:
        client = boto3.client("s3vectors", region_name=REGION)
        client.create_vector_bucket(vectorBucketName=BUCKET)
        arn = _setup(client, "limited-index", "cosine")
        _load(invoke, arn, 3)
        api_calls.clear()
        env = invoke({"operation": "put_vectors", "index_arn": arn,
                      "vectors": [{"key": "late", "data": [1.0, 0.0, 0.0]}]})
        limiter = emulator.state.write_limiter
        assert env["success"] is False
        assert env["error"]["type"] == "Throttled" and env["error"]["retryable"] is True
        assert env["error"]["code"] == "TooManyRequestsException"
        # Every attempt was sent and refused, each one call (botocore does not retry writes).
        assert limiter.throttled == write.WRITE_THROTTLED_ATTEMPTS > write.WRITE_ATTEMPTS
        assert api_calls == ["PutVectors"] * write.WRITE_THROTTLED_ATTEMPTS
        # Full jitter under a ceiling that starts at 50 ms and stops at one call's refill time.
        assert len(pauses) == write.WRITE_THROTTLED_ATTEMPTS - 1
        assert all(0 <= p <= min(write.WRITE_PAUSE_CAP_S, write.WRITE_PAUSE_FIRST_S * 2 ** i)
                   for i, p in enumerate(pauses))
        assert max(pauses) > write.WRITE_PAUSE_FIRST_S  # the ceiling grew past the first pause
        found = client.get_vectors(indexArn=arn, keys=["late", "v000"])["vectors"]
        assert [v["key"] for v in found] == ["v000"]


def test_over_real_http_with_the_endpoint_variable(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_server() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", server.url)
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        arn = _setup(admin, "http-index", "cosine")
        _load(invoke, arn, 5)
        env = invoke({"operation": "query_vectors", "index_arn": arn,
                      "query_vector": [1.0, 0.2, 0.5], "top_k": 1})
        assert env["result"][0]["vector_id"] == "v002"
        env = invoke({"operation": "get_vectors", "vector_bucket_name": BUCKET,
                      "index_name": "http-index", "vector_ids": ["v004", "nope"]})
        assert [r["found"] for r in env["result"]] == [True, False]


def test_a_write_throttled_for_a_moment_succeeds(invoke: Invoke) -> None:
    """A burst past the write rate is refused (429) until the budget refills; the function's
    short pauses wait it out within the request instead of failing it."""
    with mock_s3vectors(write_requests_per_second=4) as emulator:
        client = boto3.client("s3vectors", region_name=REGION)
        client.create_vector_bucket(vectorBucketName=BUCKET)
        arn = _setup(client, "bursty-index", "cosine")
        envs = [invoke({"operation": "put_vectors", "index_arn": arn,
                        "vectors": [{"key": f"k{i}", "data": [1.0, float(i), 0.0]}]})
                for i in range(8)]
        assert all(env["success"] for env in envs), envs
        assert emulator.state.write_limiter.throttled >= 1  # the burst was throttled
        keys = {v["key"] for v in client.list_vectors(indexArn=arn)["vectors"]}
        assert keys == {f"k{i}" for i in range(8)}
