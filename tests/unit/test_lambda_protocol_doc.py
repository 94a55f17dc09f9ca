"""Every example in docs/protocol.md, run through the handler against the S3 Vectors emulator, or
against the exact service exchange the example gives (botocore's Stubber)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from s3vectors_emulator import mock_s3vectors
from s3vl_lambda import clients, embeddings

from .conftest import FUNCTION_ARN, Invoke

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_BLOCK = re.compile(r"<!-- (fixture|example: ([\w-]+)) -->\s*```json\n(.*?)\n```", re.DOTALL)


def _blocks() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    fixture: dict[str, Any] = {}
    examples: dict[str, dict[str, Any]] = {}
    for m in _BLOCK.finditer(DOC.read_text()):
        body = json.loads(m.group(3))
        if m.group(1) == "fixture":
            fixture = body
        else:
            assert m.group(2) not in examples, f"duplicate example {m.group(2)}"
            examples[m.group(2)] = body
    return fixture, examples


FIXTURE, EXAMPLES = _blocks()


def matches(actual: Any, expected: Any, path: str = "$") -> None:
    """Assert `actual` fits `expected` (with the doc's placeholders); the message names the path."""
    if expected == "<any>":
        return
    if expected == "<string>":
        assert isinstance(actual, str), f"{path}: expected a string, got {actual!r}"
        return
    if expected == "<integer>":
        assert isinstance(actual, int) and not isinstance(actual, bool), f"{path}: {actual!r}"
        return
    if expected == "<number>":
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), path
        return
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), path
        assert math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6), (
            f"{path}: expected {expected!r}, got {actual!r}"
        )
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, not {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            matches(a, e, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key, e in expected.items():
            matches(actual[key], e, f"{path}.{key}")


def test_the_doc_has_examples_for_every_operation() -> None:
    from s3vl_lambda.operations import OPERATIONS

    ops = {ex["request"].get("operation") for ex in EXAMPLES.values()}
    assert set(OPERATIONS) <= ops
    assert FIXTURE["vectors"], "the fixture block is missing"
    # The doc names the function ARN the examples run under (the allow-list reads its account).
    assert f"`{FUNCTION_ARN}`" in DOC.read_text()


def test_matcher_rejects_mismatches() -> None:
    with pytest.raises(AssertionError):
        matches({"a": 1}, {"a": 2})
    with pytest.raises(AssertionError):
        matches({"a": 1, "b": 2}, {"a": "<integer>"})
    with pytest.raises(AssertionError):
        matches([1.0], [1.001])
    matches({"a": [0.19999999], "b": "x"}, {"a": [0.2], "b": "<string>"})


def _against_service(example: dict[str, Any], invoke: Invoke, stubbed: Stubber) -> dict[str, Any]:
    """Answer the function's calls with the example's `service` exchange, in order, exactly."""
    for step in example["service"]:
        if "error" in step:
            err = step["error"]
            stubbed.add_client_error(
                step["api"], service_error_code=err["code"], service_message=err["message"],
                http_status_code=err["http_status"], expected_params=step["params"],
            )
        else:
            stubbed.add_response(step["api"], step["response"], step["params"])
    envelope = invoke(json.dumps(example["request"]))
    stubbed.assert_no_pending_responses()
    return envelope


@pytest.fixture(scope="module")
def local_bedrock() -> Iterator[str]:
    """The local Bedrock Runtime (real model) for the examples that embed text."""
    from s3vl_local.bedrock.server import serving, url_of

    with serving() as server:
        yield url_of(server)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_doc_example(name: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> None:
    example = EXAMPLES[name]
    monkeypatch.setenv("AWS_REGION", FIXTURE["region"])
    for var, value in example.get("environment", {}).items():
        monkeypatch.setenv(var, value)
    if "model_id" in example["request"] and "service" not in example:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                           request.getfixturevalue("local_bedrock"))
        embeddings.clear_cache()
    if "service" in example:
        client = boto3.client("s3vectors", region_name=FIXTURE["region"])
        monkeypatch.setattr(clients, "_create", lambda region, tier, retries=True: client)
        with Stubber(client) as stubber:
            matches(_against_service(example, invoke, stubber), example["response"])
        return
    index = FIXTURE["index"]
    with mock_s3vectors(region=FIXTURE["region"]):
        admin = boto3.client("s3vectors", region_name=FIXTURE["region"])
        bucket = FIXTURE["vector_bucket_name"]
        admin.create_vector_bucket(vectorBucketName=bucket)
        admin.create_index(
            vectorBucketName=bucket,
            indexName=index["index_name"],
            dataType="float32",
            dimension=index["dimension"],
            distanceMetric=index["distance_metric"],
            metadataConfiguration={
                "nonFilterableMetadataKeys": index["non_filterable_metadata_keys"]
            },
        )
        admin.put_vectors(
            vectorBucketName=bucket,
            indexName=index["index_name"],
            vectors=[
                {"key": v["key"], "data": {"float32": v["data"]}, "metadata": v["metadata"]}
                for v in FIXTURE["vectors"]
            ],
        )
        # The handler gets the request exactly as SQL would send it: JSON text.
        envelope = invoke(json.dumps(example["request"]))
    matches(envelope, example["response"])
