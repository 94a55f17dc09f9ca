"""query_vectors through the handler against the project's in-process S3 Vectors emulator: the
ranking checked against numpy, paging at the service's 100 results per page, both metrics.
(test_lambda_query.py pins the exact requests with a Stubber, and the answers the emulator never
gives.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest

from s3vectors_emulator import mock_s3vectors

from .conftest import BUCKET, REGION, Invoke

DIMENSION = 8
COUNT = 300


def _rows() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(COUNT, DIMENSION)).astype(np.float32)


@pytest.fixture(params=["cosine", "euclidean"])
def index(request: pytest.FixtureRequest, invoke: Invoke,
          api_calls: list[str]) -> Iterator[tuple[str, str]]:
    metric = str(request.param)
    name = f"q-{metric}"
    with mock_s3vectors(region=REGION):
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        arn = admin.create_index(vectorBucketName=BUCKET, indexName=name, dataType="float32",
                                 dimension=DIMENSION, distanceMetric=metric)["indexArn"]
        rows = _rows()
        env = invoke({"operation": "put_vectors", "index_arn": arn, "vectors": [
            {"key": f"v{i:03d}", "data": rows[i].tolist(), "metadata": {"even": i % 2 == 0}}
            for i in range(COUNT)]})
        assert env["success"] is True, env
        api_calls.clear()
        yield arn, metric


def _expected(query: np.ndarray, metric: str, keep: Any = None) -> list[tuple[str, float]]:
    rows = _rows().astype(np.float64)
    if metric == "cosine":
        d = 1.0 - rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))
    else:
        d = np.linalg.norm(rows - query, axis=1)
    order = [i for i in np.argsort(d, kind="stable") if keep is None or keep(i)]
    return [(f"v{i:03d}", float(d[i])) for i in order]


def test_ranking_and_paging_match_an_exact_search(index: tuple[str, str], invoke: Invoke,
                                                  api_calls: list[str]) -> None:
    arn, metric = index
    query = np.linspace(-1.0, 1.0, DIMENSION)
    env = invoke({"operation": "query_vectors", "index_arn": arn,
                  "query_vector": query.tolist(), "top_k": 250})
    assert env["success"] is True, env
    got = env["result"]
    want = _expected(query, metric)[:250]
    assert [r["vector_id"] for r in got] == [k for k, _ in want]
    assert [r["distance"] for r in got] == pytest.approx([d for _, d in want], abs=1e-4)
    if metric == "cosine":
        assert all(r["similarity_score"] == pytest.approx(1.0 - r["distance"]) for r in got)
    else:
        assert all(0.0 < r["similarity_score"] <= 1.0 for r in got)
    assert api_calls.count("QueryVectors") == 3  # pages of 100, 100 and 50


def test_filter_applies_before_ranking(index: tuple[str, str], invoke: Invoke) -> None:
    arn, metric = index
    query = np.linspace(1.0, -1.0, DIMENSION)
    env = invoke({"operation": "query_vectors", "index_arn": arn, "query_vector": query.tolist(),
                  "top_k": 20, "metadata_filter": {"even": True}, "return_metadata": True})
    assert env["success"] is True, env
    want = _expected(query, metric, keep=lambda i: i % 2 == 0)[:20]
    assert [r["vector_id"] for r in env["result"]] == [k for k, _ in want]
    assert all(r["metadata"] == {"even": True} for r in env["result"])


def test_page_by_page_hands_back_the_token(index: tuple[str, str], invoke: Invoke) -> None:
    arn, metric = index
    query = np.linspace(-0.5, 0.5, DIMENSION)
    base = {"operation": "query_vectors", "index_arn": arn, "query_vector": query.tolist(),
            "top_k": 150}
    first = invoke({**base, "max_pages": 1})
    assert first["success"] is True, first
    assert len(first["result"]["vectors"]) == 100 and first["result"]["next_token"]
    second = invoke({**base, "page_token": first["result"]["next_token"], "max_pages": 1})
    assert second["success"] is True, second
    assert second["result"]["next_token"] is None
    keys = [r["vector_id"] for r in first["result"]["vectors"] + second["result"]["vectors"]]
    assert keys == [k for k, _ in _expected(query, metric)[:150]]
