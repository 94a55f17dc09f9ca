"""docs/protocol.md operations sent as raw JSON through aws_lambda.invoke to the real handler.

Covers the operations whose s3vl SQL wrappers may not exist yet (writes, batch queries) and the
function's log tail, over the whole path: stand-in → Lambda endpoint → handler → emulator.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from s3vl_local.stack import StackInfo

DIMENSION = 8


def call(db: psycopg.Connection[Any], arn: str, request: dict[str, Any],
         log_type: str = "None") -> tuple[dict[str, Any], str | None]:
    row = db.execute("SELECT payload, log_result FROM aws_lambda.invoke(%s, %s::jsonb, "
                     "log_type => %s)", (arn, json.dumps(request), log_type)).fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.fixture
def small_index(local_stack: StackInfo, s3vectors_client: Any) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                                  dataType="float32", dimension=DIMENSION,
                                  distanceMetric="euclidean")
    arn: str = s3vectors_client.get_index(vectorBucketName=local_stack.bucket_name,
                                          indexName=name)["index"]["indexArn"]
    yield arn
    s3vectors_client.delete_index(indexArn=arn)


def test_put_query_batch_and_delete_through_the_path(db: psycopg.Connection[Any],
                                                     local_stack: StackInfo, small_index: str,
                                                     s3vectors_client: Any) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(1200, DIMENSION)).astype(np.float32)
    vectors = [{"key": f"k{i}", "data": [float(x) for x in row], "metadata": {"group": i % 3}}
               for i, row in enumerate(data)]
    answer, _ = call(db, local_stack.lambda_arn,
                     {"operation": "put_vectors", "index_arn": small_index, "vectors": vectors})
    assert answer["success"] is True, answer
    assert answer["result"]["written"] == 1200
    assert answer["result"]["calls"] >= 3  # split at 500 per PutVectors
    listed = s3vectors_client.list_vectors(indexArn=small_index, maxResults=1000)
    assert len(listed["vectors"]) == 1000 and listed.get("nextToken")

    queries = data[[5, 600]] + 0.01
    answer, _ = call(db, local_stack.lambda_arn, {
        "operation": "query_vectors_batch", "index_arn": small_index, "top_k": 4,
        "query_vectors": [[float(x) for x in q] for q in queries],
        "query_ids": ["a", "b"], "metadata_filter": {"group": {"$in": [0, 2]}}})
    assert answer["success"] is True, answer
    for entry, q in zip(answer["result"], queries, strict=True):
        keep = np.array([i % 3 in (0, 2) for i in range(len(data))])
        dist = np.linalg.norm(data.astype(np.float64) - q, axis=1)
        expected = [f"k{i}" for i in np.argsort(dist) if keep[i]][:4]
        assert entry["success"] is True
        assert [r["vector_id"] for r in entry["results"]] == expected
    assert [e["query_id"] for e in answer["result"]] == ["a", "b"]

    keys = [f"k{i}" for i in range(0, 1200, 2)]
    answer, _ = call(db, local_stack.lambda_arn,
                     {"operation": "delete_vectors", "index_arn": small_index, "keys": keys})
    assert answer["success"] is True and answer["result"]["deleted"] == 600
    got = s3vectors_client.get_vectors(indexArn=small_index, keys=["k0", "k1"])["vectors"]
    assert [v["key"] for v in got] == ["k1"]


def test_error_envelope_comes_back_as_data(db: psycopg.Connection[Any], local_stack: StackInfo,
                                           small_index: str) -> None:
    answer, _ = call(db, local_stack.lambda_arn, {
        "operation": "query_vectors", "index_arn": small_index, "query_vector": [1.0, 2.0]})
    assert answer["success"] is False
    assert answer["error"]["type"] == "ValidationError"
    assert answer["error"]["field"] == "query_vector"


def test_function_log_tail_is_this_invocations(db: psycopg.Connection[Any],
                                               local_stack: StackInfo) -> None:
    answer, log_result = call(db, local_stack.lambda_arn,
                              {"operation": "availability_check"}, log_type="Tail")
    assert log_result is not None
    log = base64.b64decode(log_result).decode()
    assert f"START RequestId: {answer['request_id']}" in log
    assert f"REPORT RequestId: {answer['request_id']}" in log
    assert log.count("START RequestId:") == 1
    # The handler's own structured log lines are in the tail too, tagged with this request.
    own = [line for line in log.splitlines() if line.startswith("{")
           and json.loads(line).get("request_id") == answer["request_id"]]
    assert own, log


def test_live_alias_arn_reaches_the_function(db: psycopg.Connection[Any],
                                             local_stack: StackInfo) -> None:
    answer, _ = call(db, f"{local_stack.lambda_arn}:live", {"operation": "availability_check"})
    assert answer["success"] is True and answer["result"]["status"] == "available"
