"""Fixtures for the function's unit tests: a clean environment, the project's in-process S3
Vectors emulator, stubbed clients (only for answers the emulator cannot give), a context."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from s3vl_lambda import clients, index_info, index_ref
from s3vl_lambda.handler import lambda_handler

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the emulator's (and moto's) default account
BUCKET = "unit-bucket"
INDEX = "unit-index"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{INDEX}"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:s3vl:live"


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the handler reads."""

    remaining_ms: int = 30_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str | None = FUNCTION_ARN

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials, a fixed region, no endpoint override, empty caches."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for var in ("AWS_ENDPOINT_URL_S3VECTORS", "AWS_ENDPOINT_URL", "S3VL_ALLOWED_INDEX_ARNS",
                "S3VL_ALLOW_INDEX_ADMIN", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    clients.clear_cache()
    index_info.clear_cache()
    index_ref.set_invoked_function_arn(None)
    yield
    clients.clear_cache()
    index_info.clear_cache()


Invoke = Callable[..., dict[str, Any]]


@pytest.fixture
def invoke() -> Invoke:
    """Call the handler like Lambda does; returns the envelope."""

    def _invoke(event: Any, remaining_ms: int = 30_000) -> dict[str, Any]:
        return lambda_handler(event, LambdaContext(remaining_ms=remaining_ms))

    return _invoke


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the S3 Vectors API calls the function's clients make (e.g. "GetVectors")."""
    calls: list[str] = []
    real_create = clients._create

    def counting_create(region: str, tier: clients.TimeoutTier, retries: bool = True) -> Any:
        client = real_create(region, tier, retries)
        client.meta.events.register(
            "before-call.s3vectors.*",
            lambda model, **_: calls.append(model.name),
        )
        return client

    monkeypatch.setattr(clients, "_create", counting_create)
    return calls


@pytest.fixture
def served_index(api_calls: list[str]) -> Iterator[dict[str, Any]]:
    """The project's in-process S3 Vectors emulator with one cosine index of dimension 4."""
    from s3vectors_emulator import mock_s3vectors

    with mock_s3vectors(region=REGION):
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        admin.create_index(
            vectorBucketName=BUCKET,
            indexName=INDEX,
            dataType="float32",
            dimension=4,
            distanceMetric="cosine",
        )
        yield {"client": admin, "arn": INDEX_ARN, "dimension": 4}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every client the function creates is this one real client, answered by a Stubber.

    Used for service errors and answers the emulator does not give (throttling, 5xx, odd
    shapes); everything else runs against `served_index`.
    """
    client = boto3.client("s3vectors", region_name=REGION)
    stubber = Stubber(client)
    monkeypatch.setattr(clients, "_create", lambda region, tier, retries=True: client)
    with stubber:
        yield stubber


def index_response(
    dimension: int = 4, metric: str = "cosine", non_filterable: list[str] | None = None
) -> dict[str, Any]:
    index: dict[str, Any] = {
        "vectorBucketName": BUCKET,
        "indexName": INDEX,
        "indexArn": INDEX_ARN,
        "creationTime": "2026-01-02T03:04:05Z",
        "dataType": "float32",
        "dimension": dimension,
        "distanceMetric": metric,
    }
    if non_filterable:
        index["metadataConfiguration"] = {"nonFilterableMetadataKeys": non_filterable}
    return {"index": index}
