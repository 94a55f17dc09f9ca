"""Text search end to end through the handler against the project's in-process S3 Vectors emulator
(real request serialisation, BM25/RRF ranking, BUILDING -> ACTIVE, paging at 100 per page)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from s3vectors_emulator import mock_s3vectors

from .conftest import BUCKET, INDEX, INDEX_ARN, REGION, Invoke

DOCS = {
    "shoe-1": ([1.0, 0.0, 0.0], "Trail running shoes", "waterproof and light"),
    "shoe-2": ([0.9, 0.1, 0.0], "Road running shoes", "light"),
    "boot-1": ([0.0, 1.0, 0.0], "Hiking boots", "waterproof leather"),
    "sock-1": ([0.0, 0.0, 1.0], "Wool socks", "warm"),
}


@pytest.fixture
def emulator_index(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("S3VL_ALLOW_INDEX_ADMIN", "true")
    with mock_s3vectors(region=REGION, text_build_seconds=0.3):
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        admin.create_index(vectorBucketName=BUCKET, indexName=INDEX, dataType="float32",
                           dimension=3, distanceMetric="cosine")
        env = invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": [
            {"key": k, "data": v, "metadata": {"name": n, "description": d}}
            for k, (v, n, d) in DOCS.items()]})
        assert env["success"] is True, env
        yield


def _wait_active(invoke: Invoke) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for _ in range(100):
        result = invoke({"operation": "get_index", "index_arn": INDEX_ARN})["result"]
        if all(c["status"] == "ACTIVE" for c in result["text_search"]):
            return result
        time.sleep(0.05)
    raise AssertionError(f"text search never became ACTIVE: {result}")


def _search_ready(invoke: Invoke) -> None:
    env = invoke({"operation": "add_text_search", "index_arn": INDEX_ARN, "text_search": [
        {"metadata_key": "name", "language": "en"}, {"metadata_key": "description"}]})
    assert env["success"] is True, env
    assert env["result"]["index_mode"] == "ENHANCED"
    assert [(c["metadata_key"], c["language"], c["status"]) for c in env["result"]["text_search"]
            ] == [("name", "en", "BUILDING"), ("description", None, "BUILDING")]
    refused = invoke({"operation": "query_vectors", "index_arn": INDEX_ARN,
                      "query_texts": {"name": "shoes"}})
    assert refused["error"]["type"] == "ValidationError", refused  # BUILDING: not serving yet
    _wait_active(invoke)


def test_text_and_hybrid_queries_through_the_emulator(
    invoke: Invoke, emulator_index: None
) -> None:
    _search_ready(invoke)
    env = invoke({"operation": "query_vectors", "index_arn": INDEX_ARN, "top_k": 3,
                  "query_texts": {"name": "trail shoes", "description": "waterproof"}})
    assert env["success"] is True, env
    rows = env["result"]
    # shoe-1 matches both keys; the others match one key each.
    assert rows[0]["vector_id"] == "shoe-1"
    assert set(rows[0]["bm25_scores"]) == {"name", "description"}
    assert {r["vector_id"] for r in rows} == {"shoe-1", "shoe-2", "boot-1"}
    for r in rows:
        assert r["distance"] is None and r["fused_score"] is None
        assert r["text_score"] == pytest.approx(sum(r["bm25_scores"].values()))
    assert [r["text_score"] for r in rows] == sorted((r["text_score"] for r in rows),
                                                     reverse=True)

    env = invoke({"operation": "query_vectors", "index_arn": INDEX_ARN, "top_k": 4,
                  "query_vector": [0.0, 0.0, 1.0], "query_texts": {"name": "boots"},
                  "return_metadata": False})
    assert env["success"] is True, env
    rows = {r["vector_id"]: r for r in env["result"]}
    assert [r["fused_score"] for r in env["result"]] == sorted(
        (r["fused_score"] for r in env["result"]), reverse=True)
    assert rows["sock-1"]["distance"] == pytest.approx(0.0, abs=1e-6)  # vector match
    assert rows["sock-1"]["text_score"] is None  # no "boots" in its name
    assert rows["boot-1"]["bm25_scores"].keys() == {"name"}


def test_paging_text_results_through_the_emulator(invoke: Invoke, emulator_index: None) -> None:
    env = invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": [
        {"key": f"bulk-{i:03d}", "data": [1.0, float(i), 0.0],
         "metadata": {"name": f"shoes model {i}", "description": "x"}} for i in range(150)]})
    assert env["success"] is True, env
    _search_ready(invoke)
    query = {"operation": "query_vectors", "index_arn": INDEX_ARN, "top_k": 140,
             "query_texts": {"name": "shoes"}, "return_metadata": False}
    whole = [r["vector_id"] for r in invoke(query)["result"]]
    assert len(whole) == 140
    paged: list[str] = []
    token = None
    answers = 0
    while True:
        env = invoke({**query, "page_token": token, "max_pages": 1})
        assert env["success"] is True, env
        paged += [r["vector_id"] for r in env["result"]["vectors"]]
        token = env["result"]["next_token"]
        answers += 1
        if token is None:
            break
    assert answers == 2  # the emulator pages at 100, like the service
    assert paged == whole and len(set(paged)) == 140


def test_drop_text_search_through_the_emulator(invoke: Invoke, emulator_index: None) -> None:
    _search_ready(invoke)
    env = invoke({"operation": "drop_text_search", "index_arn": INDEX_ARN,
                  "metadata_keys": ["description"]})
    assert env["success"] is True, env
    assert [c["metadata_key"] for c in env["result"]["text_search"]] == ["name"]
    env = invoke({"operation": "query_vectors", "index_arn": INDEX_ARN,
                  "query_texts": {"description": "waterproof"}})
    assert env["error"]["type"] == "ValidationError"
