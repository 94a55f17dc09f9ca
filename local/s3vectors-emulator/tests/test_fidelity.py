"""Where the emulator used to depart from S3 Vectors (issue 13) and the filter depth limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator_helpers import IndexFactory, post, unique
from s3vectors_emulator import ServerHandle


def _field(error: Any) -> str:
    return str(error.value.response["fieldList"][0]["path"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vectorBucketName": "bkt-ok", "indexName": "Bad_Name"}, "indexName"),
        ({"vectorBucketName": "bkt-ok", "indexName": "ab"}, "indexName"),
        ({"vectorBucketName": "bkt-ok", "indexName": "a" * 64}, "indexName"),
        ({"vectorBucketName": "Bad_Bucket", "indexName": "idx"}, "vectorBucketName"),
        (
            {"indexArn": "arn:aws:s3vectors:us-east-1:123456789012:bucket/bkt-ok/index/-bad"},
            "indexArn",
        ),
        (
            {"indexArn": "arn:aws:s3vectors:us-east-1:123456789012:bucket/b.k/index/idx"},
            "indexArn",
        ),
        ({"indexArn": "arn:aws:s3vectors:us-east-1:1234:bucket/bkt/index/idx"}, "indexArn"),
    ],
)
def test_malformed_names_are_validation_errors_not_not_found(
    unchecked: Any, kwargs: dict[str, str], field: str
) -> None:
    """Nothing of these names exists: a lookup would answer 404; AWS answers 400 first."""
    calls = [
        lambda: unchecked.get_index(**kwargs),
        lambda: unchecked.query_vectors(**kwargs, topK=1, queryVector={"float32": [1.0]}),
        lambda: unchecked.put_vectors(**kwargs, vectors=[{"key": "k", "data": {"float32": [1.0]}}]),
        lambda: unchecked.delete_vectors(**kwargs, keys=["k"]),
    ]
    for call in calls:
        with pytest.raises(unchecked.exceptions.ValidationException) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert _field(caught) == field


def test_malformed_names_in_create_and_bucket_calls(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ValidationException, match="Invalid index name"):
        unchecked.create_index(
            vectorBucketName="no-such-bucket",
            indexName="UPPER",
            dataType="float32",
            dimension=2,
            distanceMetric="cosine",
        )
    with pytest.raises(unchecked.exceptions.ValidationException) as caught:
        unchecked.get_vector_bucket(
            vectorBucketArn="arn:aws:s3vectors:us-east-1:123456789012:bucket/Bad_Bucket"
        )
    assert _field(caught) == "vectorBucketArn"


@pytest.mark.parametrize(
    "tags",
    [{"": "v"}, {"k" * 129: "v"}, {"k": "v" * 257}, {"k#": "v"}, {"k": "v!"}],
)
def test_tags_are_checked(unchecked: Any, tags: dict[str, str]) -> None:
    name = unique("tagbad")
    with pytest.raises(unchecked.exceptions.ValidationException) as caught:
        unchecked.create_vector_bucket(vectorBucketName=name, tags=tags)
    assert _field(caught) == "tags"
    with pytest.raises(unchecked.exceptions.NotFoundException):
        unchecked.get_vector_bucket(vectorBucketName=name)  # nothing was created


def test_tag_limits_are_inclusive(client: Any) -> None:
    name = unique("tagok")
    tags = {"k" * 128: "v" * 256, "é ü_.:/=+-@": ""}
    client.create_vector_bucket(vectorBucketName=name, tags=tags)
    arn = client.get_vector_bucket(vectorBucketName=name)["vectorBucket"]["vectorBucketArn"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == tags


def test_kms_key_arn_must_match_the_model_pattern(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ValidationException) as caught:
        unchecked.create_vector_bucket(
            vectorBucketName=unique("kms"),
            encryptionConfiguration={"sseType": "aws:kms", "kmsKeyArn": "alias/my-key"},
        )
    assert _field(caught) == "encryptionConfiguration.kmsKeyArn"
    unchecked.create_vector_bucket(
        vectorBucketName=unique("kms"),
        encryptionConfiguration={
            "sseType": "aws:kms",
            "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
        },
    )


def test_return_scores_adds_nothing_to_vector_queries(
    client: Any, make_index: IndexFactory
) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[{"key": "a", "data": {"float32": [1, 0, 0]}}])
    found = client.query_vectors(
        **ref, topK=1, queryVector={"float32": [1, 0, 0]}, returnScores=True
    )
    assert found["vectors"] == [{"key": "a"}]


def test_cosine_distance_to_itself_is_never_negative(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=8)
    # Values whose float rounding gives 1 - cos slightly below zero without a clamp.
    data = [[0.1 * (i + 1) + 0.013 * j for i in range(8)] for j in range(40)]
    client.put_vectors(
        **ref, vectors=[{"key": f"v{j}", "data": {"float32": row}} for j, row in enumerate(data)]
    )
    for row in data:
        found = client.query_vectors(
            **ref, topK=1, queryVector={"float32": row}, returnDistance=True
        )
        assert found["vectors"][0]["distance"] >= 0.0


def test_query_pages_hold_100_results_by_default(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=2, metric="euclidean")
    client.put_vectors(
        **ref, vectors=[{"key": f"k{i}", "data": {"float32": [i, 0]}} for i in range(250)]
    )
    first = client.query_vectors(**ref, topK=250, queryVector={"float32": [0, 0]})
    assert len(first["vectors"]) == 100 and first.get("nextToken")
    one_page = client.query_vectors(**ref, topK=100, queryVector={"float32": [0, 0]})
    assert len(one_page["vectors"]) == 100 and "nextToken" not in one_page


@pytest.mark.parametrize("depth", [33, 40, 300, 999, 1100, 5000, 100_000])
def test_deep_filters_are_validation_errors(
    server: ServerHandle, make_index: IndexFactory, depth: int
) -> None:
    ref = make_index()
    body = {**ref, "topK": 1, "queryVector": {"float32": [1, 0, 0]}}
    text = json.dumps(body)[:-1] + ', "filter": ' + '{"$and": [' * depth + "{}" + "]}" * depth + "}"
    status, headers, answer = post_raw(server.url, "QueryVectors", text.encode())
    assert status == 400, answer
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert answer["fieldList"][0]["path"] == "filter"


def test_filter_depth_32_is_accepted_and_33_refused(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(
        **ref, vectors=[{"key": "a", "data": {"float32": [1, 0, 0]}, "metadata": {"a": 1}}]
    )
    # {"a": {"$eq": 1}} is 2 levels; each {"$and": [...]} around it adds 2.
    node: dict[str, Any] = {"a": {"$eq": 1}}
    for _ in range(15):
        node = {"$and": [node]}
    found = client.query_vectors(**ref, topK=1, queryVector={"float32": [1, 0, 0]}, filter=node)
    assert [v["key"] for v in found["vectors"]] == ["a"]  # depth 32
    deeper = {"$and": [node, {"a": 1}]}  # still 32 + 2 levels: refused
    with pytest.raises(client.exceptions.ValidationException, match="deeper than 32"):
        client.query_vectors(**ref, topK=1, queryVector={"float32": [1, 0, 0]}, filter=deeper)


def post_raw(url: str, operation: str, data: bytes) -> tuple[int, dict[str, str], Any]:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    try:
        with urlopen(Request(f"{url}/{operation}", data=data, method="POST")) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_both_index_forms_are_refused_raw(server: ServerHandle, make_index: IndexFactory) -> None:
    ref = make_index()
    bucket_arn = f"arn:aws:s3vectors:us-east-1:123456789012:bucket/{ref['vectorBucketName']}"
    arn = f"{bucket_arn}/index/{ref['indexName']}"
    status, headers, answer = post(server.url, "GetIndex", {**ref, "indexArn": arn})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert answer["message"] == (
        "Must specify either indexArn or both vectorBucketName and indexName"
    )
    status, _, answer = post(
        server.url,
        "GetVectorBucket",
        {"vectorBucketName": ref["vectorBucketName"], "vectorBucketArn": bucket_arn},
    )
    assert status == 400
    assert answer["message"].endswith("vectorBucketName or vectorBucketArn but not both")


def test_an_operation_missing_from_the_installed_model_is_a_startup_error() -> None:
    from s3vectors_emulator.api import shapes

    shapes.require_operations(["QueryVectors", "UpdateMetadataConfiguration"])
    with pytest.raises(RuntimeError, match=r"NotAnOperation.*botocore >= 1\.44"):
        shapes.require_operations(["QueryVectors", "NotAnOperation"])
