"""QueryVectors: exact kNN, distance formulas, flags, topK limits and nextToken pages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from emulator_helpers import IndexFactory, make_client
from s3vectors_emulator import start_server


def load(client: Any, ref: dict[str, str], matrix: np.ndarray, meta: bool = False) -> list[str]:
    keys = [f"v{i:05d}" for i in range(matrix.shape[0])]
    for start in range(0, len(keys), 500):
        batch = [
            {"key": k, "data": {"float32": row}, **({"metadata": {"i": start + j}} if meta else {})}
            for j, (k, row) in enumerate(
                zip(keys[start : start + 500], matrix[start : start + 500].tolist(), strict=True)
            )
        ]
        client.put_vectors(**ref, vectors=batch)
    return keys


def reference_distances(matrix: np.ndarray, query: np.ndarray, metric: str) -> np.ndarray:
    m, q = matrix.astype(np.float64), query.astype(np.float64)
    if metric == "cosine":
        return 1.0 - (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    return np.linalg.norm(m - q, axis=1)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_knn_matches_numpy_reference(
    client: Any, make_index: IndexFactory, metric: str
) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((400, 16)).astype(np.float32)
    ref = make_index(dimension=16, metric=metric)
    keys = load(client, ref, matrix)
    query = rng.standard_normal(16).astype(np.float32)
    result = client.query_vectors(
        **ref, topK=25, queryVector={"float32": query.tolist()}, returnDistance=True
    )
    assert result["distanceMetric"] == metric
    expected = reference_distances(matrix, query, metric)
    order = np.argsort(expected, kind="stable")[:25]
    assert [v["key"] for v in result["vectors"]] == [keys[i] for i in order]
    got = np.array([v["distance"] for v in result["vectors"]])
    assert np.allclose(got, expected[order], rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(got) >= 0)


def test_cosine_distance_values(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=2, metric="cosine")
    client.put_vectors(
        **ref,
        vectors=[
            {"key": "same", "data": {"float32": [2.0, 0.0]}},
            {"key": "orthogonal", "data": {"float32": [0.0, 5.0]}},
            {"key": "opposite", "data": {"float32": [-1.0, 0.0]}},
        ],
    )
    result = client.query_vectors(
        **ref, topK=3, queryVector={"float32": [1.0, 0.0]}, returnDistance=True
    )
    got = {v["key"]: v["distance"] for v in result["vectors"]}
    assert got == pytest.approx({"same": 0.0, "orthogonal": 1.0, "opposite": 2.0}, abs=1e-6)


def test_euclidean_distance_is_l2_not_squared(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=2, metric="euclidean")
    client.put_vectors(**ref, vectors=[{"key": "p", "data": {"float32": [3.0, 4.0]}}])
    result = client.query_vectors(
        **ref, topK=1, queryVector={"float32": [0.0, 0.0]}, returnDistance=True
    )
    assert result["vectors"][0]["distance"] == pytest.approx(5.0)


def test_return_flags_false_give_keys_only(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(
        **ref, vectors=[{"key": "a", "data": {"float32": [1, 2, 3]}, "metadata": {"m": 1}}]
    )
    plain = client.query_vectors(**ref, topK=1, queryVector={"float32": [1, 2, 3]})
    assert plain["vectors"] == [{"key": "a"}]
    off = client.query_vectors(
        **ref,
        topK=1,
        queryVector={"float32": [1, 2, 3]},
        returnMetadata=False,
        returnDistance=False,
    )
    assert off["vectors"] == [{"key": "a"}]
    on = client.query_vectors(
        **ref,
        topK=1,
        queryVector={"float32": [1, 2, 3]},
        returnMetadata=True,
        returnDistance=True,
    )
    assert on["vectors"][0]["metadata"] == {"m": 1}
    assert on["vectors"][0]["distance"] == pytest.approx(0.0, abs=1e-6)


def test_top_k_larger_than_index_returns_all(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(
        **ref, vectors=[{"key": f"k{i}", "data": {"float32": [1, i, 0]}} for i in range(7)]
    )
    result = client.query_vectors(**ref, topK=100, queryVector={"float32": [1, 0, 0]})
    assert len(result["vectors"]) == 7
    assert "nextToken" not in result


def test_top_k_limits(client: Any, unchecked: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[{"key": "a", "data": {"float32": [1, 2, 3]}}])
    assert (
        len(client.query_vectors(**ref, topK=10000, queryVector={"float32": [1, 2, 3]})["vectors"])
        == 1
    )
    for bad in (10001, 0):
        with pytest.raises(unchecked.exceptions.ValidationException, match="topK"):
            unchecked.query_vectors(**ref, topK=bad, queryVector={"float32": [1, 2, 3]})


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([1.0, 2.0], "must have length 3, but has length 2"),
        ([float("nan"), 1, 1], "NaN"),
        ([0.0, 0.0, 0.0], "all-zero"),
    ],
)
def test_bad_query_vectors(
    client: Any, make_index: IndexFactory, vector: list[float], message: str
) -> None:
    ref = make_index(metric="cosine")
    with pytest.raises(client.exceptions.ValidationException, match=message):
        client.query_vectors(**ref, topK=1, queryVector={"float32": vector})


def test_query_on_empty_index_returns_nothing(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    assert client.query_vectors(**ref, topK=5, queryVector={"float32": [1, 2, 3]})["vectors"] == []


def test_query_by_index_arn(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[{"key": "a", "data": {"float32": [1, 2, 3]}}])
    arn = client.get_index(**ref)["index"]["indexArn"]
    result = client.query_vectors(indexArn=arn, topK=1, queryVector={"float32": [1, 2, 3]})
    assert result["vectors"] == [{"key": "a"}]


def test_query_texts_rejected_not_ignored(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    with pytest.raises(client.exceptions.ValidationException, match="queryTexts"):
        client.query_vectors(
            **ref,
            topK=1,
            queryVector={"float32": [1, 2, 3]},
            queryTexts=[{"text": "hello", "metadataKey": "body"}],
        )


@pytest.fixture(scope="module")
def paged_server() -> Any:
    with start_server(query_page_size=100) as handle:
        yield handle


def test_results_above_one_page_follow_next_token(paged_server: Any) -> None:
    client = make_client(paged_server.url)
    client.create_vector_bucket(vectorBucketName="paged")
    ref = {"vectorBucketName": "paged", "indexName": "idx"}
    client.create_index(**ref, dataType="float32", dimension=8, distanceMetric="euclidean")
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((1200, 8)).astype(np.float32)
    keys = load(client, ref, matrix, meta=True)
    query = {"float32": rng.standard_normal(8).astype(np.float32).tolist()}
    args = {
        **ref,
        "topK": 1000,
        "queryVector": query,
        "returnDistance": True,
        "returnMetadata": True,
    }
    pages = []
    response = client.query_vectors(**args)
    pages.append(response["vectors"])
    while "nextToken" in response:
        response = client.query_vectors(**args, nextToken=response["nextToken"])
        pages.append(response["vectors"])
    assert [len(p) for p in pages] == [100] * 10
    flat = [v for page in pages for v in page]
    expected = np.argsort(
        reference_distances(matrix, np.array(query["float32"]), "euclidean"), kind="stable"
    )[:1000]
    assert [v["key"] for v in flat] == [keys[i] for i in expected]
    assert all(v["metadata"]["i"] == int(v["key"][1:]) for v in flat)
    # botocore's paginator follows the same tokens.
    paginator = client.get_paginator("query_vectors")
    via_paginator = [v["key"] for page in paginator.paginate(**args) for v in page["vectors"]]
    assert via_paginator == [v["key"] for v in flat]


def test_next_token_from_another_query_is_rejected(paged_server: Any) -> None:
    client = make_client(paged_server.url)
    client.create_vector_bucket(vectorBucketName="paged2")
    ref = {"vectorBucketName": "paged2", "indexName": "idx"}
    client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
    load(client, ref, np.arange(600, dtype=np.float32).reshape(300, 2))
    first = client.query_vectors(**ref, topK=300, queryVector={"float32": [0, 0]})
    with pytest.raises(client.exceptions.ValidationException, match="different query"):
        client.query_vectors(
            **ref, topK=300, queryVector={"float32": [1, 1]}, nextToken=first["nextToken"]
        )
    with pytest.raises(client.exceptions.ValidationException, match="nextToken"):
        client.query_vectors(
            **ref, topK=300, queryVector={"float32": [0, 0]}, nextToken="bm90LWEtdG9rZW4="
        )
    # the right request still works after a mismatched one
    second = client.query_vectors(
        **ref, topK=300, queryVector={"float32": [0, 0]}, nextToken=first["nextToken"]
    )
    assert len(second["vectors"]) == 100
