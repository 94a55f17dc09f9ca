"""`mock_s3vectors`: boto3 reaches the same emulator in-process, without network or threads."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from s3vectors_emulator import mock_s3vectors


def test_context_manager_serves_default_endpoint_client() -> None:
    threads_before = set(threading.enumerate())
    with mock_s3vectors() as emulator:
        client = boto3.client("s3vectors", region_name="us-east-1")
        client.create_vector_bucket(vectorBucketName="inproc")
        client.create_index(
            vectorBucketName="inproc",
            indexName="idx",
            dataType="float32",
            dimension=2,
            distanceMetric="euclidean",
        )
        client.put_vectors(
            vectorBucketName="inproc",
            indexName="idx",
            vectors=[
                {"key": "a", "data": {"float32": [0, 0]}},
                {"key": "b", "data": {"float32": [3, 4]}},
            ],
        )
        result = client.query_vectors(
            vectorBucketName="inproc",
            indexName="idx",
            topK=1,
            queryVector={"float32": [3, 3]},
            returnDistance=True,
        )
        assert result["vectors"] == [{"key": "b", "distance": 1.0}]
        assert emulator.state.index("us-east-1", "inproc", "idx").count == 2
        assert set(threading.enumerate()) - threads_before == set()  # no server thread
        with pytest.raises(client.exceptions.ConflictException):
            client.create_vector_bucket(vectorBucketName="inproc")


def test_each_mock_starts_empty_and_region_comes_from_the_client() -> None:
    with mock_s3vectors():
        client = boto3.client("s3vectors", region_name="eu-west-1")
        arn = client.create_vector_bucket(vectorBucketName="regional")["vectorBucketArn"]
        assert arn.startswith("arn:aws:s3vectors:eu-west-1:")
        assert (
            boto3.client("s3vectors", region_name="us-east-1").list_vector_buckets()[
                "vectorBuckets"
            ]
            == []
        )
    with mock_s3vectors():
        client = boto3.client("s3vectors", region_name="eu-west-1")
        assert client.list_vector_buckets()["vectorBuckets"] == []


@mock_s3vectors()
def test_decorator_form() -> None:
    client = boto3.client("s3vectors", region_name="us-east-1")
    client.create_vector_bucket(vectorBucketName="decorated")
    assert [b["vectorBucketName"] for b in client.list_vector_buckets()["vectorBuckets"]] == [
        "decorated"
    ]


def test_fault_injection_in_process() -> None:
    with mock_s3vectors(throttle_rate=1.0):
        client = boto3.client(
            "s3vectors",
            region_name="us-east-1",
            config=boto3.session.Config(retries={"max_attempts": 1}),
        )
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.list_vector_buckets()


def test_takes_precedence_over_moto_mock_aws() -> None:
    from moto import mock_aws

    with mock_aws(), mock_s3vectors():
        client: Any = boto3.client("s3vectors", region_name="us-east-1")
        client.create_vector_bucket(vectorBucketName="both")
        client.create_index(
            vectorBucketName="both",
            indexName="idx",
            dataType="float32",
            dimension=4096,
            distanceMetric="cosine",
        )  # moto would reject 4096
        result = client.query_vectors(
            vectorBucketName="both", indexName="idx", topK=1, queryVector={"float32": [1.0] * 4096}
        )
        assert result["vectors"] == []


def test_outside_a_mock_requests_reach_the_real_endpoint(server: Any) -> None:
    from emulator_helpers import make_client

    with mock_s3vectors():
        boto3.client("s3vectors", region_name="us-east-1").create_vector_bucket(
            vectorBucketName="only-in-mock"
        )
        inside = make_client(server.url).list_vector_buckets(prefix="only-in-mock")
        assert [b["vectorBucketName"] for b in inside["vectorBuckets"]] == ["only-in-mock"]
    outside = make_client(server.url).list_vector_buckets(prefix="only-in-mock")
    assert outside["vectorBuckets"] == []  # went over HTTP to the server, which never saw it
