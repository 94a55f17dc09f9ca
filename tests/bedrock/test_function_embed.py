"""The function's embed operation and query_vectors' query_text, through the handler, against the
local Bedrock Runtime (real model, real HTTP) and the in-process S3 Vectors emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from s3vectors_emulator import mock_s3vectors
from s3vl_lambda import embeddings, index_info
from s3vl_lambda.handler import lambda_handler
from s3vl_local.bedrock import titan
from s3vl_local.bedrock.server import BedrockServer

MODEL = titan.TITAN_V2
REGION = "us-east-1"
ARN = f"arn:aws:s3vectors:{REGION}:123456789012:bucket/b-embed/index/docs"


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:s3vl"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def invoke(event: dict[str, Any], remaining_ms: int = 30_000) -> dict[str, Any]:
    return lambda_handler(event, Context(remaining_ms))


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch, bedrock_url: str) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_url)
    monkeypatch.setenv(embeddings.MODELS_ENV, MODEL)
    for var in ("AWS_ENDPOINT_URL_S3VECTORS", "AWS_ENDPOINT_URL", "S3VL_ALLOWED_INDEX_ARNS"):
        monkeypatch.delenv(var, raising=False)
    embeddings.clear_cache()
    index_info.clear_cache()
    yield
    embeddings.clear_cache()


def test_embed_many_texts_in_order() -> None:
    texts = ["wireless earbuds", "cast iron skillet", "bluetooth in-ear headphones"]
    env = invoke({"operation": "embed", "model_id": MODEL, "dimensions": 512, "texts": texts})
    assert env["success"] is True, env
    rows = env["result"]
    assert [r["ordinal"] for r in rows] == [1, 2, 3]
    assert all(len(r["embedding"]) == 512 and r["input_tokens"] > 0 for r in rows)
    vectors = [r["embedding"] for r in rows]
    assert titan.cosine(vectors[0], vectors[2]) > titan.cosine(vectors[0], vectors[1]) + 0.2
    # the same text gives the same vector as one InvokeModel call with the same fields
    direct = titan.answer(titan.parse(MODEL, {"inputText": texts[1], "dimensions": 512}))
    assert max(abs(a - b) for a, b in zip(direct["embedding"], vectors[1], strict=True)) < 1e-6


def test_throttling_is_retried_inside_the_deadline(bedrock_server: BedrockServer) -> None:
    before = bedrock_server.faults.invocations
    bedrock_server.faults.throttle = 3
    env = invoke({"operation": "embed", "model_id": MODEL, "dimensions": 256,
                  "texts": ["retry me"]})
    assert env["success"] is True, env
    assert bedrock_server.faults.invocations - before == 4  # 3 throttled + 1 answered


def test_throttling_past_the_deadline_is_a_retryable_error(bedrock_server: BedrockServer) -> None:
    bedrock_server.faults.throttle = 10_000
    env = invoke({"operation": "embed", "model_id": MODEL, "dimensions": 256,
                  "texts": ["never answered"]}, remaining_ms=1_500)
    assert env["success"] is False
    assert env["error"]["type"] in ("Throttled", "Timeout") and env["error"]["retryable"] is True
    assert env["execution_time_ms"] < 1_500


@pytest.mark.parametrize(("request_fields", "error_type", "field", "words"), [
    ({"model_id": "cohere.embed-english-v3"}, "AccessDenied", "model_id",
     "AllowedEmbeddingModels"),
    ({"dimensions": 384}, "ValidationError", "dimensions", "produces 256, 512, 1024"),
    ({"texts": [""]}, "ValidationError", "texts[0]", "empty"),
    ({"texts": ["  \n"]}, "ValidationError", "texts[0]", "empty"),
    ({"texts": ["x" * 50_001]}, "ValidationError", "texts[0]", "at most 50000"),
    ({"texts": ["x"] * 101}, "ValidationError", "texts", "1 to 100 texts"),
    ({"texts": [3]}, "ValidationError", "texts[0]", "string"),
])
def test_bad_requests_name_the_field(request_fields: dict[str, Any], error_type: str,
                                     field: str, words: str,
                                     bedrock_server: BedrockServer) -> None:
    before = bedrock_server.faults.invocations
    req = {"operation": "embed", "model_id": MODEL, "dimensions": 512, "texts": ["ok"],
           **request_fields}
    env = invoke(req)
    assert env["success"] is False
    assert (env["error"]["type"], env["error"]["field"]) == (error_type, field)
    assert words in env["error"]["message"]
    assert bedrock_server.faults.invocations == before  # refused before any Bedrock call


def test_no_model_allowed_when_the_setting_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(embeddings.MODELS_ENV)
    env = invoke({"operation": "embed", "model_id": MODEL, "dimensions": 512, "texts": ["x"]})
    assert env["error"]["type"] == "AccessDenied"
    assert "allowed: none" in env["error"]["message"]


def test_bedrock_errors_keep_their_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model the deployment allows but Bedrock does not serve: NotFound, code kept."""
    monkeypatch.setattr(embeddings, "allowed_models", lambda: (MODEL, "amazon.other:0"))
    monkeypatch.setitem(embeddings.limits.EMBEDDING_MODEL_DIMENSIONS, "amazon.other:0", (512,))
    env = invoke({"operation": "embed", "model_id": "amazon.other:0", "dimensions": 512,
                  "texts": ["x"]})
    assert env["error"]["type"] == "NotFound"
    assert env["error"]["code"] == "ResourceNotFoundException"
    assert env["error"]["field"] == "model_id"


@pytest.fixture
def docs_index() -> Iterator[str]:
    with mock_s3vectors(region=REGION):
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName="b-embed")
        admin.create_index(vectorBucketName="b-embed", indexName="docs", dataType="float32",
                           dimension=512, distanceMetric="cosine")
        texts = {"earbuds": "Noise cancelling wireless earbuds with a charging case",
                 "headphones": "Over-ear bluetooth headphones for travel",
                 "skillet": "Cast iron skillet for the stove and oven",
                 "tent": "Waterproof two-person camping tent"}
        env = invoke({"operation": "embed", "model_id": MODEL, "dimensions": 512,
                      "texts": list(texts.values())})
        assert env["success"], env
        put = invoke({"operation": "put_vectors", "index_arn": ARN, "vectors": [
            {"key": k, "data": r["embedding"], "metadata": {"kind": k}}
            for k, r in zip(texts, env["result"], strict=True)]})
        assert put["success"], put
        yield ARN


def test_query_text_is_embedded_and_queried_in_one_invocation(
        docs_index: str, bedrock_server: BedrockServer) -> None:
    before = bedrock_server.faults.invocations
    env = invoke({"operation": "query_vectors", "index_arn": docs_index,
                  "query_text": "wireless earbuds", "model_id": MODEL, "dimensions": 512,
                  "top_k": 4})
    assert env["success"], env
    assert [r["vector_id"] for r in env["result"]][:2] == ["earbuds", "headphones"]
    assert bedrock_server.faults.invocations - before == 1
    filtered = invoke({"operation": "query_vectors", "index_arn": docs_index,
                       "query_text": "wireless earbuds", "model_id": MODEL, "dimensions": 512,
                       "metadata_filter": {"kind": {"$ne": "earbuds"}}, "top_k": 2})
    keys = [r["vector_id"] for r in filtered["result"]]
    assert keys[0] == "headphones" and "earbuds" not in keys


def test_query_text_errors(docs_index: str) -> None:
    both = invoke({"operation": "query_vectors", "index_arn": docs_index, "query_text": "x",
                   "query_vector": [0.1] * 512, "model_id": MODEL, "dimensions": 512})
    assert both["error"]["field"] == "query_text"
    wrong_dims = invoke({"operation": "query_vectors", "index_arn": docs_index,
                         "query_text": "x", "model_id": MODEL, "dimensions": 256})
    assert wrong_dims["error"]["type"] == "ValidationError"
    assert "dimension" in wrong_dims["error"]["message"]
    batch = invoke({"operation": "query_vectors_batch", "index_arn": docs_index,
                    "query_vectors": [[0.1] * 512], "query_text": "x"})
    assert batch["error"]["field"] == "query_text"


def test_put_vectors_with_text_embeds_and_reuses(docs_index: str,
                                                 bedrock_server: BedrockServer) -> None:
    before = bedrock_server.faults.invocations
    env = invoke({"operation": "put_vectors", "index_arn": docs_index, "model_id": MODEL,
                  "dimensions": 512, "vectors": [
                      {"key": "kettle", "text": "Electric kettle that boils fast",
                       "metadata": {"kind": "kettle"}},
                      {"key": "earbuds", "text": "this text is not embedded again",
                       "metadata": {"kind": "renamed"}, "reuse_data": True},
                      {"key": "ghost", "text": "Camping stove for two", "reuse_data": True}]})
    assert env["success"], env
    assert env["result"] == {"written": 3, "calls": 1, "embedded": 2, "reused": 1}
    assert bedrock_server.faults.invocations - before == 2  # kettle, and ghost (none stored)
    near = invoke({"operation": "query_vectors", "index_arn": docs_index, "top_k": 1,
                   "query_text": "wireless earbuds", "model_id": MODEL, "dimensions": 512})
    assert near["result"][0]["vector_id"] == "earbuds"  # the stored vector was kept
    assert near["result"][0]["metadata"] == {"kind": "renamed"}
    bad = invoke({"operation": "put_vectors", "index_arn": docs_index, "model_id": MODEL,
                  "dimensions": 512, "vectors": [{"key": "a", "text": "fine"},
                                                 {"key": "b", "text": " "}]})
    assert (bad["error"]["type"], bad["error"]["field"]) == ("ValidationError", "vectors[1].text")
    no_model = invoke({"operation": "put_vectors", "index_arn": docs_index,
                       "vectors": [{"key": "a", "text": "fine"}]})
    assert no_model["error"]["field"] == "model_id"
