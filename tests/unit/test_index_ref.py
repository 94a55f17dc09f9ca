"""Index identification in every partition, and the S3VL_ALLOWED_INDEX_ARNS allow-list."""

from __future__ import annotations

from typing import Any

import pytest

from s3vl_lambda import clients
from s3vl_lambda.deadline import Deadline
from s3vl_lambda.errors import S3vlError
from s3vl_lambda.handler import lambda_handler
from s3vl_lambda.index_ref import (
    IndexRef,
    parse_index_arn,
    resolve_index,
    set_invoked_function_arn,
)

from .conftest import FUNCTION_ARN, INDEX_ARN, Invoke, LambdaContext


@pytest.mark.parametrize(
    ("arn", "region"),
    [
        ("arn:aws:s3vectors:us-west-2:111122223333:bucket/my-bucket/index/my.index-1", "us-west-2"),
        ("arn:aws-cn:s3vectors:cn-north-1:111122223333:bucket/abc/index/def", "cn-north-1"),
        ("arn:aws-us-gov:s3vectors:us-gov-west-1:111122223333:bucket/abc/index/def",
         "us-gov-west-1"),
    ],
)
def test_arns_in_every_partition(arn: str, region: str) -> None:
    ref = parse_index_arn(arn)
    assert ref.region == region and ref.arn == arn
    assert ref.api_params() == {"indexArn": arn}


def test_client_region_comes_from_the_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = parse_index_arn("arn:aws-cn:s3vectors:cn-north-1:111122223333:bucket/abc/index/def")
    client = clients.client_for(ref.region, Deadline(30), "test")
    assert client.meta.region_name == "cn-north-1"
    assert client.meta.endpoint_url.endswith("amazonaws.com.cn") or "cn-north-1" in (
        client.meta.endpoint_url
    )
    # One client per region, reused.
    assert clients.client_for("cn-north-1", Deadline(30), "test") is client
    assert clients.client_for("eu-west-1", Deadline(30), "test") is not client


def test_endpoint_comes_from_botocore_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", "http://127.0.0.1:9")
    client = clients.client_for("us-east-1", Deadline(30), "test")
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3:us-east-1:111122223333:bucket/abc/index/def",
        "arn:aws:s3vectors:us-east-1:1111:bucket/abc/index/def",
        "arn:aws:s3vectors:us-east-1:111122223333:bucket/abc",
        "arn:aws:s3vectors:us-east-1:111122223333:bucket/AB_C/index/def",
        "arn:aws-xx:s3vectors:us-east-1:111122223333:bucket/abc/index/def",
        "arn:aws:s3vectors:us-east-1:111122223333:bucket/abc/index/d",
        "",
    ],
)
def test_bad_arns(arn: str) -> None:
    with pytest.raises(S3vlError) as info:
        parse_index_arn(arn)
    assert info.value.field == "index_arn" and info.value.error_type == "ValidationError"


def test_names_use_the_function_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    ref = resolve_index({"vector_bucket_name": "abc", "index_name": "def"})
    assert ref == IndexRef(region="eu-central-1", bucket="abc", index="def")
    assert ref.api_params() == {"vectorBucketName": "abc", "indexName": "def"}


@pytest.mark.parametrize(
    ("req", "field"),
    [
        ({"vector_bucket_name": "abc"}, "index_name"),
        ({"index_name": "def"}, "vector_bucket_name"),
        ({"vector_bucket_name": "A!", "index_name": "def"}, "vector_bucket_name"),
        ({"vector_bucket_name": "abc", "index_name": "x" * 64}, "index_name"),
        ({"index_arn": 5}, "index_arn"),
    ],
)
def test_bad_names(req: dict[str, Any], field: str) -> None:
    with pytest.raises(S3vlError) as info:
        resolve_index(req)
    assert info.value.field == field


ALLOWED = "arn:aws:s3vectors:us-east-1:123456789012:bucket/unit-bucket/index/unit-index"
OTHER = "arn:aws:s3vectors:us-east-1:123456789012:bucket/unit-bucket/index/other-index"
BUCKET_ARN = "arn:aws:s3vectors:us-east-1:123456789012:bucket/unit-bucket"


@pytest.mark.parametrize(
    ("allow", "arn", "allowed"),
    [
        (ALLOWED, ALLOWED, True),
        (ALLOWED, OTHER, False),
        (f" {OTHER} , {ALLOWED} ", ALLOWED, True),
        (BUCKET_ARN, OTHER, True),
        (BUCKET_ARN, OTHER.replace("unit-bucket", "unit-bucket2"), False),
        ("garbage", ALLOWED, False),
    ],
)
def test_allow_list(
    monkeypatch: pytest.MonkeyPatch, allow: str, arn: str, allowed: bool
) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", allow)
    if allowed:
        assert resolve_index({"index_arn": arn}).arn == arn
    else:
        with pytest.raises(S3vlError) as info:
            resolve_index({"index_arn": arn})
        assert info.value.error_type == "AccessDenied"


def test_allow_list_covers_the_name_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", ALLOWED)
    set_invoked_function_arn(FUNCTION_ARN)
    assert resolve_index({"vector_bucket_name": "unit-bucket", "index_name": "unit-index"})
    with pytest.raises(S3vlError):
        resolve_index({"vector_bucket_name": "unit-bucket", "index_name": "other-index"})


NAME_FORM = {"vector_bucket_name": "unit-bucket", "index_name": "unit-index"}


@pytest.mark.parametrize(
    "listed",
    [
        # Issue 16 item 11: the same bucket and index names in another account ...
        "arn:aws:s3vectors:us-east-1:999999999999:bucket/unit-bucket/index/unit-index",
        "arn:aws:s3vectors:us-east-1:999999999999:bucket/unit-bucket",
        # ... or another partition, must not admit the function's own same-named index.
        "arn:aws-us-gov:s3vectors:us-east-1:123456789012:bucket/unit-bucket/index/unit-index",
        "arn:aws-cn:s3vectors:us-east-1:123456789012:bucket/unit-bucket",
        # Another region (AWS_REGION is us-east-1).
        "arn:aws:s3vectors:us-west-2:123456789012:bucket/unit-bucket/index/unit-index",
    ],
)
def test_name_form_compares_account_and_partition(
    monkeypatch: pytest.MonkeyPatch, invoke: Invoke, moto_index: dict[str, Any],
    api_calls: list[str], listed: str,
) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", listed)
    env = invoke({"operation": "get_index", **NAME_FORM})
    assert env["success"] is False
    assert env["error"]["type"] == "AccessDenied", env
    assert "S3VL_ALLOWED_INDEX_ARNS" in env["error"]["message"]
    assert api_calls == []


def test_name_form_matches_the_functions_own_account(
    monkeypatch: pytest.MonkeyPatch, moto_index: dict[str, Any], api_calls: list[str]
) -> None:
    """The account and partition come from the context's invoked_function_arn."""
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", "arn:aws:s3vectors:us-east-1:999999999999:"
                       "bucket/unit-bucket/index/unit-index,"
                       "arn:aws:s3vectors:us-east-1:123456789012:bucket/unit-bucket")
    env = lambda_handler({"operation": "get_index", **NAME_FORM}, LambdaContext(
        invoked_function_arn="arn:aws:lambda:us-east-1:999999999999:function:s3vl"))
    assert env["success"] is True, env  # admitted by the first entry (the function's account)
    assert api_calls == ["GetIndex"]
    env = lambda_handler({"operation": "get_index", **NAME_FORM}, LambdaContext(
        invoked_function_arn="arn:aws:lambda:us-east-1:555555555555:function:s3vl"))
    assert env["error"]["type"] == "AccessDenied"
    assert api_calls == ["GetIndex"]


@pytest.mark.parametrize("function_arn", [None, "", "not-an-arn"])
def test_name_form_is_refused_when_the_account_is_unknown(
    monkeypatch: pytest.MonkeyPatch, moto_index: dict[str, Any], api_calls: list[str],
    function_arn: str | None,
) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", ALLOWED)
    env = lambda_handler({"operation": "get_index", **NAME_FORM},
                         LambdaContext(invoked_function_arn=function_arn))
    assert env["error"]["type"] == "AccessDenied"
    assert "name the index by index_arn" in env["error"]["message"]
    assert api_calls == []
    # The ARN form is still checked (and allowed) without knowing the account.
    env = lambda_handler({"operation": "get_index", "index_arn": ALLOWED},
                         LambdaContext(invoked_function_arn=function_arn))
    assert env["success"] is True, env
    assert api_calls == ["GetIndex"]


def test_name_form_without_allow_list_needs_no_account(
    moto_index: dict[str, Any], api_calls: list[str]
) -> None:
    env = lambda_handler({"operation": "get_index", **NAME_FORM},
                         LambdaContext(invoked_function_arn=None))
    assert env["success"] is True, env
    assert api_calls == ["GetIndex"]


def test_refused_index_makes_no_aws_call(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, api_calls: list[str]
) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", OTHER)
    for op in ("get_index", "list_vectors"):
        env = invoke({"operation": op, "index_arn": INDEX_ARN})
        assert env["error"]["type"] == "AccessDenied"
        assert "S3VL_ALLOWED_INDEX_ARNS" in env["error"]["message"]
    assert api_calls == []
