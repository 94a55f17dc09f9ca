"""Fixtures for the emulator conformance suite: one HTTP emulator per session, boto3 clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from s3vl_local.emulator import ServerHandle, start_server

REGION = "us-east-1"


def make_client(url: str, retries: int = 1, validate: bool = True) -> Any:
    return boto3.client(
        "s3vectors",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"max_attempts": retries, "mode": "standard"}, parameter_validation=validate
        ),
    )


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    with start_server(query_page_size=500) as handle:
        yield handle


@pytest.fixture
def client(server: ServerHandle) -> Any:
    return make_client(server.url)


@pytest.fixture
def unchecked(server: ServerHandle) -> Any:
    """A client without botocore's own min-length/required checks, to reach the server's."""
    return make_client(server.url, validate=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(client: Any) -> str:
    name = unique("bkt")
    client.create_vector_bucket(vectorBucketName=name)
    return name


IndexFactory = Callable[..., dict[str, str]]


@pytest.fixture
def make_index(client: Any, bucket: str) -> IndexFactory:
    """Create an index in the test's bucket; returns the kwargs that address it."""

    def make(
        dimension: int = 3, metric: str = "cosine", non_filterable: list[str] | None = None
    ) -> dict[str, str]:
        name = unique("idx")
        kwargs: dict[str, Any] = {
            "vectorBucketName": bucket,
            "indexName": name,
            "dataType": "float32",
            "dimension": dimension,
            "distanceMetric": metric,
        }
        if non_filterable is not None:
            kwargs["metadataConfiguration"] = {"nonFilterableMetadataKeys": non_filterable}
        client.create_index(**kwargs)
        return {"vectorBucketName": bucket, "indexName": name}

    return make


def post(url: str, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """A raw, unsigned JSON request (what botocore would refuse to send): status, headers, body."""
    import json
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    request = Request(f"{url}/{operation}", data=json.dumps(body).encode(), method="POST")
    try:
        with urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())
