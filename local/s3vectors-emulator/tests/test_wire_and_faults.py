"""Wire-level errors (status + x-amzn-ErrorType) and fault injection through the admin endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.request import Request, urlopen

import pytest
from botocore.exceptions import ClientError

from emulator_helpers import IndexFactory, make_client, post, unique
from s3vectors_emulator import ServerHandle, start_server


def admin(url: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    from urllib.error import HTTPError

    data = json.dumps(body).encode() if body is not None else None
    try:
        with urlopen(Request(f"{url}/_s3vl/faults", data=data, method=method)) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("operation", "body", "status", "error_type"),
    [
        ("GetVectorBucket", {"vectorBucketName": "no-such-bucket"}, 404, "NotFoundException"),
        ("CreateIndex", {"vectorBucketName": "x"}, 400, "ValidationException"),
        ("QueryVectors", {"indexArn": "arn:nope", "topK": 1}, 400, "ValidationException"),
        ("NoSuchOperation", {}, 404, "UnknownOperationException"),
    ],
)
def test_error_status_and_type_header(
    server: ServerHandle, operation: str, body: dict[str, Any], status: int, error_type: str
) -> None:
    got_status, headers, payload = post(server.url, operation, body)
    assert (got_status, headers["x-amzn-ErrorType"]) == (status, error_type)
    assert payload["message"]


def test_conflict_is_409(server: ServerHandle) -> None:
    name = unique("cfl")
    assert post(server.url, "CreateVectorBucket", {"vectorBucketName": name})[0] == 200
    status, headers, _ = post(server.url, "CreateVectorBucket", {"vectorBucketName": name})
    assert (status, headers["x-amzn-ErrorType"]) == (409, "ConflictException")


def test_validation_error_names_field_in_field_list(server: ServerHandle) -> None:
    _, _, payload = post(server.url, "CreateVectorBucket", {"vectorBucketName": "A_B"})
    assert payload["fieldList"][0]["path"] == "vectorBucketName"


def test_invalid_json_body(server: ServerHandle) -> None:
    from urllib.error import HTTPError

    with pytest.raises(HTTPError) as caught:
        urlopen(Request(f"{server.url}/ListVectorBuckets", data=b"{not json", method="POST"))
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "ValidationException"


def test_health(server: ServerHandle) -> None:
    with urlopen(f"{server.url}/_s3vl/health") as response:
        assert json.loads(response.read()) == {"status": "ok"}


@pytest.fixture
def faulty() -> Iterator[ServerHandle]:
    with start_server(fault_seed=1) as handle:
        yield handle


def test_fault_admin_roundtrip_and_validation(faulty: ServerHandle) -> None:
    config = {
        "throttle_rate": 0.2,
        "error_rate": 0.1,
        "latency_ms": 20,
        "operations": ["QueryVectors"],
        "latency_ms_by_operation": {"GetIndex": 5},
    }
    want = config | {"latency_ms": 20.0, "latency_ms_by_operation": {"GetIndex": 5.0}}
    assert admin(faulty.url, "POST", config) == (200, want)
    assert admin(faulty.url, "GET")[1]["operations"] == ["QueryVectors"]
    assert admin(faulty.url, "DELETE")[1] == {
        "throttle_rate": 0.0,
        "error_rate": 0.0,
        "latency_ms": 0.0,
        "operations": None,
        "latency_ms_by_operation": {},
    }
    status, body = admin(faulty.url, "POST", {"throttle_rate": 2})
    assert status == 400 and "throttle_rate" in body["message"]
    status, body = admin(faulty.url, "POST", {"operations": ["Nope"]})
    assert status == 400 and "operations" in body["message"]
    status, body = admin(faulty.url, "POST", {"latency_ms_by_operation": {"QueryVectors": -1}})
    assert status == 400 and "latency_ms_by_operation.QueryVectors" in body["message"]


def test_throttle_raises_too_many_requests(faulty: ServerHandle) -> None:
    admin(faulty.url, "POST", {"throttle_rate": 1.0})
    client = make_client(faulty.url, retries=1)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.list_vector_buckets()
    status, headers, _ = post(faulty.url, "ListVectorBuckets", {})
    assert (status, headers["x-amzn-ErrorType"]) == (429, "TooManyRequestsException")


def test_errors_are_500_or_503_with_service_types(faulty: ServerHandle) -> None:
    admin(faulty.url, "POST", {"error_rate": 1.0})
    seen = set()
    for _ in range(20):
        status, headers, _ = post(faulty.url, "ListVectorBuckets", {})
        seen.add((status, headers["x-amzn-ErrorType"]))
    assert seen == {(500, "InternalServerException"), (503, "ServiceUnavailableException")}
    client = make_client(faulty.url, retries=1)
    with pytest.raises(ClientError) as caught:
        client.list_vector_buckets()
    assert caught.value.response["Error"]["Code"] in {
        "InternalServerException",
        "ServiceUnavailableException",
    }


def test_botocore_retries_through_partial_throttling(
    faulty: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.endpoint

    backoffs: list[float] = []
    # botocore sleeps between retries; record the back-off instead of waiting it out.
    monkeypatch.setattr(botocore.endpoint.time, "sleep", backoffs.append)
    admin(faulty.url, "POST", {"throttle_rate": 0.5, "operations": ["ListVectorBuckets"]})
    client = make_client(faulty.url, retries=10)
    attempts = [
        client.list_vector_buckets()["ResponseMetadata"]["RetryAttempts"] for _ in range(10)
    ]
    assert sum(attempts) > 0
    assert len(backoffs) == sum(attempts)


def test_faults_only_hit_listed_operations_and_latency_is_added(faulty: ServerHandle) -> None:
    admin(
        faulty.url, "POST", {"throttle_rate": 1.0, "latency_ms": 50, "operations": ["QueryVectors"]}
    )
    client = make_client(faulty.url)
    start = time.perf_counter()
    client.list_vector_buckets()
    assert time.perf_counter() - start < 0.05 + 0.5  # not delayed by 50 ms + not throttled
    client.create_vector_bucket(vectorBucketName="lat")
    client.create_index(
        vectorBucketName="lat",
        indexName="idx",
        dataType="float32",
        dimension=1,
        distanceMetric="euclidean",
    )
    start = time.perf_counter()
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.query_vectors(
            vectorBucketName="lat", indexName="idx", topK=1, queryVector={"float32": [1.0]}
        )
    assert time.perf_counter() - start >= 0.05


def test_faults_configured_at_start() -> None:
    with start_server(throttle_rate=1.0) as handle:
        assert post(handle.url, "ListVectorBuckets", {})[0] == 429
        assert admin(handle.url, "GET")[1]["throttle_rate"] == 1.0


def test_payload_over_20_mib_is_rejected(server: ServerHandle, make_index: IndexFactory) -> None:
    from http.client import HTTPConnection

    conn = HTTPConnection(server.url.removeprefix("http://"), timeout=10)
    conn.putrequest("POST", "/PutVectors")
    conn.putheader("Content-Length", str(20 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (400, "ValidationException")
    assert b"20 MiB" in response.read()
    conn.close()


def test_unexpected_error_is_internal_server_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.config import Config

    from s3vectors_emulator import mock_s3vectors
    from s3vectors_emulator.api import urls

    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    route = urls.Route(broken, read_only=True)
    monkeypatch.setitem(urls.ROUTES, "ListVectorBuckets", route)
    with mock_s3vectors():
        client = boto3.client(
            "s3vectors", region_name="us-east-1", config=Config(retries={"max_attempts": 1})
        )
        with pytest.raises(client.exceptions.InternalServerException, match="RuntimeError"):
            client.list_vector_buckets()
