"""psql-level SQL → aws_lambda stand-in → Lambda endpoint → handler → S3 Vectors emulator.

Every `s3vl` read operation runs through the whole path of the local stack against the demo
catalogue (384-d MiniLM embeddings) in its own index, and query results are checked against an
exact k-NN computed here with numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import psycopg
import pytest

from s3vl_local.demo import data as demo_data
from s3vl_local.demo.loader import put_vectors
from s3vl_local.stack import StackInfo

INDEX = "e2e-products"
REGISTERED = "e2e_products"


@pytest.fixture(scope="module")
def demo() -> demo_data.DemoData:
    return demo_data.load()


@pytest.fixture(scope="module")
def products_index(local_stack: StackInfo, demo: demo_data.DemoData) -> Iterator[str]:
    """The demo catalogue in its own index, registered in s3vl as e2e_products; yields its ARN."""
    import boto3

    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    existing = {i["indexName"] for i in
                client.list_indexes(vectorBucketName=local_stack.bucket_name)["indexes"]}
    if INDEX in existing:
        client.delete_index(vectorBucketName=local_stack.bucket_name, indexName=INDEX)
    client.create_index(vectorBucketName=local_stack.bucket_name, indexName=INDEX,
                        dataType="float32", dimension=384, distanceMetric="cosine",
                        metadataConfiguration={"nonFilterableMetadataKeys": ["description"]})
    arn: str = client.get_index(vectorBucketName=local_stack.bucket_name,
                                indexName=INDEX)["index"]["indexArn"]
    put_vectors(client, arn, demo)
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.unregister_index(%s) FROM s3vl.list_indexes() "
                     "WHERE index_name = %s", (REGISTERED, REGISTERED))
        conn.execute("SELECT s3vl.register_index(%s, %s)", (REGISTERED, arn))
    yield arn


def exact_knn(demo: demo_data.DemoData, query: np.ndarray, k: int,
              keep: np.ndarray | None = None) -> list[tuple[str, float]]:
    """Cosine distance (1 - cosine similarity) over float32 data, computed independently."""
    vectors = demo.product_vectors.astype(np.float64)
    q = query.astype(np.float64)
    sims = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    distances = 1.0 - sims
    order = [i for i in np.argsort(distances, kind="stable") if keep is None or keep[i]]
    return [(demo.products[i].product_id, float(distances[i])) for i in order[:k]]


def as_array(vector: np.ndarray) -> list[float]:
    return [float(x) for x in vector]


@pytest.mark.parametrize("query_index", range(8))
def test_query_vectors_equals_exact_knn(db: psycopg.Connection[Any], products_index: str,
                                        demo: demo_data.DemoData, query_index: int) -> None:
    query = demo.query_vectors[query_index]
    rows = db.execute(
        "SELECT vector_id, distance, similarity_score, metadata FROM "
        "s3vl.query_vectors(%s::float8[], index_name => %s, top_k => 10)",
        (as_array(query), REGISTERED)).fetchall()
    expected = exact_knn(demo, query, 10)
    assert [r[0] for r in rows] == [e[0] for e in expected]
    for (key, distance, similarity, metadata), (_, exact) in zip(rows, expected, strict=True):
        assert distance == pytest.approx(exact, abs=1e-5)
        assert similarity == pytest.approx(1.0 - distance, abs=1e-9)
        product = next(p for p in demo.products if p.product_id == key)
        assert metadata["name"] == product.name and metadata["price"] == product.price


def test_metadata_filter_equals_filtered_exact_knn(db: psycopg.Connection[Any],
                                                   products_index: str,
                                                   demo: demo_data.DemoData) -> None:
    query = demo.query_vectors[3]
    keep = np.array([p.category == "outdoor" and p.price < 200 for p in demo.products])
    rows = db.execute(
        "SELECT vector_id, distance FROM s3vl.query_vectors(%s::float8[], index_arn => %s, "
        "top_k => 7, metadata_filter => %s::jsonb)",
        (as_array(query), products_index,
         json.dumps({"category": "outdoor", "price": {"$lt": 200}}))).fetchall()
    expected = exact_knn(demo, query, 7, keep)
    assert [r[0] for r in rows] == [e[0] for e in expected]
    assert len(rows) == min(7, int(keep.sum()))


def test_blog_cte_joins_nearest_with_catalogue(db: psycopg.Connection[Any], products_index: str,
                                               demo: demo_data.DemoData) -> None:
    db.execute("CREATE TEMP TABLE catalogue (product_id text PRIMARY KEY, price numeric, "
               "stock int)")
    with db.cursor() as cur:
        cur.executemany("INSERT INTO catalogue VALUES (%s, %s, %s)",
                        [(p.product_id, p.price, p.stock) for p in demo.products])
    query = demo.query_vectors[0]
    rows = db.execute(
        "WITH nearest AS (SELECT vector_id, distance FROM s3vl.query_vectors(%s::float8[], "
        "index_name => %s, top_k => 10)) "
        "SELECT c.product_id FROM nearest n JOIN catalogue c ON c.product_id = n.vector_id "
        "WHERE c.stock > 0 AND c.price < 500 ORDER BY n.distance",
        (as_array(query), REGISTERED)).fetchall()
    by_id = {p.product_id: p for p in demo.products}
    expected = [key for key, _ in exact_knn(demo, query, 10)
                if by_id[key].stock > 0 and by_id[key].price < 500]
    assert [r[0] for r in rows] == expected


def test_get_vectors_returns_stored_float32_and_flags_missing(
        db: psycopg.Connection[Any], products_index: str, demo: demo_data.DemoData) -> None:
    ids = ["p-0003", "does-not-exist", "p-0150"]
    rows = db.execute("SELECT vector_id, embedding, metadata, found FROM "
                      "s3vl.get_vectors(%s, index_name => %s)", (ids, REGISTERED)).fetchall()
    assert [r[0] for r in rows] == ids
    assert [r[3] for r in rows] == [True, False, True]
    for key, embedding, metadata, found in rows:
        if not found:
            assert embedding is None and metadata == {}
            continue
        i = int(key.split("-")[1]) - 1
        np.testing.assert_array_equal(np.asarray(embedding, dtype=np.float32),
                                      demo.product_vectors[i])
        assert metadata["description"] == demo.products[i].description


def test_list_vectors_pages_through_everything(db: psycopg.Connection[Any], products_index: str,
                                               demo: demo_data.DemoData) -> None:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        rows = db.execute("SELECT vector_id, response_next_token, total_count FROM "
                          "s3vl.list_vectors(index_name => %s, max_results => 70, "
                          "next_token => %s)", (REGISTERED, token)).fetchall()
        pages += 1
        seen += [r[0] for r in rows if r[0] is not None]
        assert all(r[2] == len([x for x in rows if x[0] is not None]) for r in rows)
        token = rows[0][1] if rows else None
        if token is None or pages > 10:
            break
    assert pages == 5  # 300 vectors in pages of 70
    assert sorted(seen) == sorted(p.product_id for p in demo.products)


def test_describe_index_reads_get_index(db: psycopg.Connection[Any], products_index: str,
                                        local_stack: StackInfo) -> None:
    row = db.execute("SELECT index_name, index_arn, vector_bucket_name, dimension, "
                     "distance_metric, data_type, non_filterable_metadata_keys "
                     "FROM s3vl.describe_index(%s)", (REGISTERED,)).fetchone()
    assert row == (INDEX, products_index, local_stack.bucket_name, 384, "cosine", "float32",
                   ["description"])


def test_demo_index_is_registered_by_local_up(db: psycopg.Connection[Any],
                                              local_stack: StackInfo) -> None:
    row = db.execute("SELECT s3vl.resolve_index_arn('products')").fetchone()
    assert row == (local_stack.index_arn,)
    config = db.execute("SELECT lambda_arn FROM s3vl.get_config()").fetchone()
    assert config is not None and config[0] == local_stack.lambda_arn


def test_concurrent_sessions_get_their_own_answers(local_stack: StackInfo, products_index: str,
                                                   demo: demo_data.DemoData) -> None:
    def search(query_index: int) -> tuple[int, list[str]]:
        with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], index_name => %s, "
                "top_k => 5)", (as_array(demo.query_vectors[query_index]), REGISTERED)).fetchall()
        return query_index, [r[0] for r in rows]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(search, [i % 8 for i in range(12)]))
    for query_index, ids in results:
        assert ids == [k for k, _ in exact_knn(demo, demo.query_vectors[query_index], 5)]


def test_wrong_dimension_is_rejected_and_session_survives(db: psycopg.Connection[Any],
                                                          products_index: str) -> None:
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3]::float8[], "
                   "index_name => %s)", (REGISTERED,))
    assert info.value.sqlstate is not None and info.value.sqlstate.startswith("22")
    assert "384" in str(info.value)
    assert db.execute("SELECT 1").fetchone() == (1,)


def test_validate_config_round_trips_availability_check(db: psycopg.Connection[Any],
                                                        local_stack: StackInfo) -> None:
    row = db.execute("SELECT is_valid, lambda_arn, error_message FROM s3vl.validate_config()"
                     ).fetchone()
    assert row == (True, local_stack.lambda_arn, None)


def test_scan_vectors_returns_every_vector_with_data(db: psycopg.Connection[Any],
                                                     products_index: str,
                                                     demo: demo_data.DemoData) -> None:
    rows = db.execute("SELECT vector_id, embedding FROM s3vl.scan_vectors(index_name => %s, "
                      "return_data => true, page_size => 128)", (REGISTERED,)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(p.product_id for p in demo.products)
    stored = {r[0]: r[1] for r in rows}
    np.testing.assert_array_equal(np.asarray(stored["p-0042"], dtype=np.float32),
                                  demo.product_vectors[41])


def test_registry_reads_dimension_and_metric_through_get_index(db: psycopg.Connection[Any],
                                                               products_index: str) -> None:
    rows = db.execute("SELECT index_arn, dimension, distance_metric FROM s3vl.list_indexes() "
                      "WHERE index_name = %s", (REGISTERED,)).fetchall()
    assert rows == [(products_index, 384, "cosine")]


def test_short_query_vectors_form(db: psycopg.Connection[Any], products_index: str,
                                  demo: demo_data.DemoData) -> None:
    query = demo.query_vectors[5]
    rows = db.execute("SELECT vector_id FROM s3vl.query_vectors(%s, %s::float8[], 3)",
                      (REGISTERED, as_array(query))).fetchall()
    assert [r[0] for r in rows] == [k for k, _ in exact_knn(demo, query, 3)]
