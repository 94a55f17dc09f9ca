"""Vector buckets and indexes: ARNs, conflicts, not-found, name and shape limits, policy, tags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator_helpers import IndexFactory, unique

ACCOUNT = "123456789012"


def test_create_bucket_returns_arn_and_get_describes_it(client: Any) -> None:
    name = unique("bkt")
    arn = client.create_vector_bucket(vectorBucketName=name)["vectorBucketArn"]
    assert arn == f"arn:aws:s3vectors:us-east-1:{ACCOUNT}:bucket/{name}"
    described = client.get_vector_bucket(vectorBucketName=name)["vectorBucket"]
    assert described["vectorBucketArn"] == arn
    assert described["creationTime"].year >= 2025
    assert client.get_vector_bucket(vectorBucketArn=arn)["vectorBucket"]["vectorBucketName"] == name


def test_duplicate_bucket_is_conflict(client: Any, bucket: str) -> None:
    with pytest.raises(client.exceptions.ConflictException):
        client.create_vector_bucket(vectorBucketName=bucket)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my-bucket-1"])
def test_bucket_name_at_limits_is_accepted(client: Any, name: str) -> None:
    try:
        client.create_vector_bucket(vectorBucketName=name)
    finally:
        client.delete_vector_bucket(vectorBucketName=name)


LENGTH_64 = (
    "1 validation error detected. Value with length 64 at '/vectorBucketName' failed to satisfy "
    "constraint: Member must have length between 3 and 63, inclusive"
)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 64, LENGTH_64),
        ("Upper-case", "Invalid vector bucket name"),
        ("under_score", "Invalid vector bucket name"),
        ("-dash", "Invalid vector bucket name"),
        ("dash-", "Invalid vector bucket name"),
    ],
)
def test_bucket_name_past_limits_is_validation_error(client: Any, name: str, message: str) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.create_vector_bucket(vectorBucketName=name)
    assert caught.value.response["Error"]["Message"] == message
    assert caught.value.response["fieldList"][0]["path"] == "vectorBucketName"


def test_bucket_name_too_short_rejected_by_service_too(server: Any) -> None:
    # botocore checks min length itself, so send the raw request.
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    request = Request(
        f"{server.url}/CreateVectorBucket", data=b'{"vectorBucketName":"ab"}', method="POST"
    )
    with pytest.raises(HTTPError) as caught:
        urlopen(request)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(caught.value.read())["message"] == (
        "1 validation error detected. Value with length 2 at '/vectorBucketName' failed to "
        "satisfy constraint: Member must have length between 3 and 63, inclusive"
    )


def test_missing_bucket_is_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vector_bucket(vectorBucketName=unique("nope"))
    with pytest.raises(client.exceptions.NotFoundException):
        client.create_index(
            vectorBucketName=unique("nope"),
            indexName="idx",
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
        )


def test_list_buckets_pages_with_prefix(client: Any) -> None:
    prefix = unique("lst")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        client.create_vector_bucket(vectorBucketName=name)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"prefix": prefix, "maxResults": 2}
    while True:
        page = client.list_vector_buckets(**kwargs)
        assert len(page["vectorBuckets"]) <= 2
        seen += [b["vectorBucketName"] for b in page["vectorBuckets"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert seen == sorted(names)


def test_create_index_returns_arn_and_get_index_describes_it(client: Any, bucket: str) -> None:
    arn = client.create_index(
        vectorBucketName=bucket,
        indexName="my.index-1",
        dataType="float32",
        dimension=4096,
        distanceMetric="euclidean",
        metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
    )["indexArn"]
    assert arn == f"arn:aws:s3vectors:us-east-1:{ACCOUNT}:bucket/{bucket}/index/my.index-1"
    index = client.get_index(indexArn=arn)["index"]
    assert index["dimension"] == 4096
    assert index["distanceMetric"] == "euclidean"
    assert index["dataType"] == "float32"
    assert index["metadataConfiguration"]["nonFilterableMetadataKeys"] == ["body"]
    assert index["creationTime"].year >= 2025
    assert client.get_index(vectorBucketName=bucket, indexName="my.index-1")["index"] == index


def test_duplicate_index_is_conflict_and_keeps_vectors(
    client: Any, make_index: IndexFactory
) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[{"key": "k", "data": {"float32": [1.0, 2.0, 3.0]}}])
    with pytest.raises(client.exceptions.ConflictException):
        client.create_index(**ref, dataType="float32", dimension=3, distanceMetric="cosine")
    assert [v["key"] for v in client.get_vectors(**ref, keys=["k"])["vectors"]] == ["k"]


@pytest.mark.parametrize("dimension", [1, 4096])
def test_dimension_at_limits_is_accepted(client: Any, bucket: str, dimension: int) -> None:
    client.create_index(
        vectorBucketName=bucket,
        indexName=unique("d"),
        dataType="float32",
        dimension=dimension,
        distanceMetric="cosine",
    )


@pytest.mark.parametrize("dimension", [0, 4097])
def test_dimension_past_limits_is_validation_error(
    unchecked: Any, bucket: str, dimension: int
) -> None:
    with pytest.raises(unchecked.exceptions.ValidationException, match="dimension"):
        unchecked.create_index(
            vectorBucketName=bucket,
            indexName=unique("d"),
            dataType="float32",
            dimension=dimension,
            distanceMetric="cosine",
        )


@pytest.mark.parametrize(("field", "value"), [("distanceMetric", "dot"), ("dataType", "float16")])
def test_enum_fields_are_validated(client: Any, bucket: str, field: str, value: str) -> None:
    kwargs = {
        "vectorBucketName": bucket,
        "indexName": unique("e"),
        "dataType": "float32",
        "dimension": 3,
        "distanceMetric": "cosine",
        field: value,
    }
    with pytest.raises(client.exceptions.ValidationException, match=field):
        client.create_index(**kwargs)


def test_non_filterable_keys_limit(client: Any, bucket: str) -> None:
    ok = [f"k{i}" for i in range(10)]
    client.create_index(
        vectorBucketName=bucket,
        indexName=unique("n"),
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ok},
    )
    with pytest.raises(client.exceptions.ValidationException, match="nonFilterableMetadataKeys"):
        client.create_index(
            vectorBucketName=bucket,
            indexName=unique("n"),
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
            metadataConfiguration={"nonFilterableMetadataKeys": [*ok, "k10"]},
        )


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Idx", "idx_1", ".idx"])
def test_index_name_limits(unchecked: Any, bucket: str, name: str) -> None:
    length = f"Value with length {len(name)} at '/indexName'"
    with pytest.raises(
        unchecked.exceptions.ValidationException, match=f"{length}|Invalid index name"
    ):
        unchecked.create_index(
            vectorBucketName=bucket,
            indexName=name,
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
        )


def test_index_name_at_max_length_accepted(client: Any, bucket: str) -> None:
    client.create_index(
        vectorBucketName=bucket,
        indexName="i" * 63,
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
    )
    assert client.get_index(vectorBucketName=bucket, indexName="i" * 63)["index"]["dimension"] == 3


def test_list_indexes_paging_and_prefix(client: Any, bucket: str) -> None:
    for i in range(5):
        client.create_index(
            vectorBucketName=bucket,
            indexName=f"pre-{i}",
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
        )
    client.create_index(
        vectorBucketName=bucket,
        indexName="other",
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
    )
    first = client.list_indexes(vectorBucketName=bucket, prefix="pre-", maxResults=3)
    second = client.list_indexes(
        vectorBucketName=bucket, prefix="pre-", maxResults=3, nextToken=first["nextToken"]
    )
    names = [i["indexName"] for i in first["indexes"] + second["indexes"]]
    assert names == [f"pre-{i}" for i in range(5)]
    assert "nextToken" not in second


def test_delete_index_then_not_found_and_bucket_not_empty_conflict(
    client: Any, bucket: str, make_index: IndexFactory
) -> None:
    ref = make_index()
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_vector_bucket(vectorBucketName=bucket)
    client.delete_index(**ref)
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_index(**ref)
    client.delete_vector_bucket(vectorBucketName=bucket)
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vector_bucket(vectorBucketName=bucket)


INDEX_FORMS = "Must specify either indexArn or both vectorBucketName and indexName"
BUCKET_FORMS = "Must specify either vectorBucketName or vectorBucketArn but not both"


def test_index_reference_needs_arn_or_both_names(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.get_index(vectorBucketName=ref["vectorBucketName"])
    assert caught.value.response["Error"]["Message"] == INDEX_FORMS
    arn = client.get_index(**ref)["index"]["indexArn"]
    assert client.get_index(indexArn=arn)["index"]["indexArn"] == arn


def test_index_reference_by_both_forms_is_refused_before_any_lookup(
    client: Any, make_index: IndexFactory
) -> None:
    """As the service: 400 even when both forms name the same, existing index, and nothing is
    done (ListVectors does not list, DeleteVectors does not delete)."""
    ref = make_index()
    arn = client.get_index(**ref)["index"]["indexArn"]
    client.put_vectors(**ref, vectors=[{"key": "a", "data": {"float32": [1, 0, 0]}}])
    calls = {
        "get_index": {},
        "list_vectors": {},
        "get_vectors": {"keys": ["a"]},
        "delete_vectors": {"keys": ["a"]},
        "put_vectors": {"vectors": [{"key": "b", "data": {"float32": [0, 1, 0]}}]},
        "query_vectors": {"topK": 1, "queryVector": {"float32": [1, 0, 0]}},
        "delete_index": {},
        "update_index_mode": {"indexMode": "ENHANCED"},
    }
    for both in (
        {"indexArn": arn, **ref},
        {"indexArn": arn, "indexName": ref["indexName"]},
        {"indexArn": arn, "vectorBucketName": ref["vectorBucketName"]},
        {"indexArn": arn.replace("/index/", "/index/x"), **ref},
    ):
        for operation, extra in calls.items():
            with pytest.raises(client.exceptions.ValidationException) as caught:
                getattr(client, operation)(**both, **extra)
            assert caught.value.response["Error"]["Message"] == INDEX_FORMS, operation
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    listed = client.list_vectors(**ref, returnData=False)["vectors"]
    assert [v["key"] for v in listed] == ["a"]


def test_bucket_reference_by_both_forms_is_refused(client: Any, bucket: str) -> None:
    arn = client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]["vectorBucketArn"]
    assert client.get_vector_bucket(vectorBucketArn=arn)["vectorBucket"]["vectorBucketArn"] == arn
    calls = {
        "get_vector_bucket": {},
        "delete_vector_bucket": {},
        "list_indexes": {},
        "get_vector_bucket_policy": {},
        "delete_vector_bucket_policy": {},
        "put_vector_bucket_policy": {"policy": "{}"},
        "put_vector_bucket_default_index_mode": {"defaultIndexMode": "ENHANCED"},
        "create_index": {
            "indexName": unique("idx"),
            "dataType": "float32",
            "dimension": 3,
            "distanceMetric": "cosine",
        },
    }
    for name in (bucket, "another-bucket"):
        for operation, extra in calls.items():
            with pytest.raises(client.exceptions.ValidationException) as caught:
                getattr(client, operation)(vectorBucketName=name, vectorBucketArn=arn, **extra)
            assert caught.value.response["Error"]["Message"] == BUCKET_FORMS, operation
    assert (
        client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]["vectorBucketArn"] == arn
    )
    assert client.list_indexes(vectorBucketName=bucket)["indexes"] == []


def test_neither_bucket_form_is_refused(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ValidationException) as caught:
        unchecked.get_vector_bucket()
    assert caught.value.response["Error"]["Message"] == BUCKET_FORMS


@pytest.mark.parametrize(
    "change",
    [
        (":123456789012:", ":999999999999:"),  # another account
        (":us-east-1:", ":us-west-2:"),  # another region
    ],
)
def test_an_arn_of_another_account_or_region_finds_nothing(
    client: Any, make_index: IndexFactory, change: tuple[str, str]
) -> None:
    ref = make_index()
    arn = client.get_index(**ref)["index"]["indexArn"]
    bucket_arn = arn.split("/index/")[0]
    with pytest.raises(client.exceptions.NotFoundException) as caught:
        client.get_index(indexArn=arn.replace(*change))
    assert caught.value.response["Error"]["Message"] == "The specified index could not be found"
    with pytest.raises(client.exceptions.NotFoundException) as caught:
        client.list_vectors(indexArn=arn.replace(*change))
    with pytest.raises(client.exceptions.NotFoundException) as caught:
        client.list_indexes(vectorBucketArn=bucket_arn.replace(*change))
    assert caught.value.response["Error"]["Message"] == (
        "The specified vector bucket could not be found"
    )
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_tags_for_resource(resourceArn=arn.replace(*change))


def test_an_arn_of_another_partition_is_refused(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    arn = client.get_index(**ref)["index"]["indexArn"]
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_index(indexArn=arn.replace("arn:aws:", "arn:aws-cn:"))


def test_bucket_policy_roundtrip(client: Any, bucket: str) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vector_bucket_policy(vectorBucketName=bucket)
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    client.put_vector_bucket_policy(vectorBucketName=bucket, policy=policy)
    assert client.get_vector_bucket_policy(vectorBucketName=bucket)["policy"] == policy
    with pytest.raises(client.exceptions.ValidationException, match="policy"):
        client.put_vector_bucket_policy(vectorBucketName=bucket, policy="not json")
    client.delete_vector_bucket_policy(vectorBucketName=bucket)
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vector_bucket_policy(vectorBucketName=bucket)


def test_tags_on_bucket_and_index(client: Any, bucket: str, make_index: IndexFactory) -> None:
    bucket_arn = client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"][
        "vectorBucketArn"
    ]
    index_arn = client.get_index(**make_index())["index"]["indexArn"]
    for arn in (bucket_arn, index_arn):
        client.tag_resource(resourceArn=arn, tags={"team": "a", "env": "dev"})
        client.untag_resource(resourceArn=arn, tagKeys=["env"])
        assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_tags_for_resource(resourceArn=f"{bucket_arn}-missing")


def test_tags_given_at_creation(client: Any) -> None:
    name = unique("tag")
    arn = client.create_vector_bucket(vectorBucketName=name, tags={"k": "v"})["vectorBucketArn"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"k": "v"}


@pytest.mark.parametrize("size", [0, 501])
def test_list_buckets_and_indexes_max_results_past_limits(
    unchecked: Any, bucket: str, size: int
) -> None:
    with pytest.raises(unchecked.exceptions.ValidationException, match="maxResults"):
        unchecked.list_vector_buckets(maxResults=size)
    with pytest.raises(unchecked.exceptions.ValidationException, match="maxResults"):
        unchecked.list_indexes(vectorBucketName=bucket, maxResults=size)


def test_list_buckets_max_results_at_limit(client: Any, bucket: str) -> None:
    assert len(client.list_vector_buckets(maxResults=500)["vectorBuckets"]) <= 500
    assert len(client.list_vector_buckets(maxResults=1)["vectorBuckets"]) == 1


def test_index_name_at_min_length_accepted(client: Any, bucket: str) -> None:
    client.create_index(
        vectorBucketName=bucket,
        indexName="abc",
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
    )


@pytest.mark.parametrize(("key", "ok"), [("k" * 63, True), ("k" * 64, False)])
def test_non_filterable_key_name_length(client: Any, bucket: str, key: str, ok: bool) -> None:
    kwargs = {
        "vectorBucketName": bucket,
        "indexName": unique("n"),
        "dataType": "float32",
        "dimension": 3,
        "distanceMetric": "cosine",
        "metadataConfiguration": {"nonFilterableMetadataKeys": [key]},
    }
    if ok:
        client.create_index(**kwargs)
    else:
        with pytest.raises(client.exceptions.ValidationException, match="between 1 and 63"):
            client.create_index(**kwargs)
