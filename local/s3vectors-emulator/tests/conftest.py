"""Fixtures for the emulator conformance suite: one HTTP emulator per session, boto3 clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator_helpers import IndexFactory, make_client, unique
from s3vectors_emulator import ServerHandle, start_server


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    with start_server() as handle:
        yield handle


@pytest.fixture
def client(server: ServerHandle) -> Any:
    return make_client(server.url)


@pytest.fixture
def unchecked(server: ServerHandle) -> Any:
    """A client without botocore's own min-length/required checks, to reach the server's."""
    return make_client(server.url, validate=False)


@pytest.fixture
def bucket(client: Any) -> str:
    name = unique("bkt")
    client.create_vector_bucket(vectorBucketName=name)
    return name


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
