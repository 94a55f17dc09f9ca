"""s3vl.query_vectors_batch on the real stack: the same answers as query_vectors one by one,
both input forms, batches over the 100-query limit, and argument errors."""

from __future__ import annotations

import random
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import REPO_ROOT, expect_error
from sql.writes_helpers import WriteDb, wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack

DIM = 4


@pytest.fixture(scope="module")
def batch_index(wdb: WriteDb) -> str:  # noqa: F811
    rng = random.Random(7)
    name, _ = wdb.new_index(dimension=DIM)
    vecs = [{"key": f"v-{i:03d}", "data": [rng.uniform(-1, 1) for _ in range(DIM)],
             "metadata": {"group": i % 3, "name": f"n{i}"}} for i in range(60)]
    wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                     (name, Jsonb(vecs)))
    return name


def queries(n: int, seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)]


def one_by_one(conn: Any, name: str, qs: list[list[float]], top_k: int, filt: Any,
               with_md: bool) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for i, q in enumerate(qs, start=1):
        rows += [(i, *r) for r in conn.execute(
            "SELECT vector_id, distance, similarity_score, metadata FROM s3vl.query_vectors(%s, "
            "%s::float8[], %s, %s, %s)", (name, q, top_k, with_md, filt)).fetchall()]
    return rows


@pytest.mark.parametrize("top_k,filt,with_md", [(5, None, True), (3, Jsonb({"group": 1}), False),
                                                (60, None, True)])
def test_batch_equals_queries_run_one_by_one(wdb: WriteDb, batch_index: str, top_k: int,  # noqa: F811
                                             filt: Any, with_md: bool) -> None:
    qs = queries(12)
    batch = wdb.conn.execute(
        "SELECT ordinal, vector_id, distance, similarity_score, metadata FROM "
        "s3vl.query_vectors_batch(index_name => %s, query_vectors => %s::float8[], top_k => %s, "
        "metadata_filter => %s, return_metadata => %s)",
        (batch_index, qs, top_k, filt, with_md)).fetchall()
    assert batch == one_by_one(wdb.conn, batch_index, qs, top_k, filt, with_md)
    assert len({r[0] for r in batch}) == 12


def test_jsonb_forms_and_ids(wdb: WriteDb, batch_index: str) -> None:  # noqa: F811
    qs = queries(3, seed=2)
    plain = wdb.conn.execute("SELECT ordinal, query_id, vector_id FROM "
                             "s3vl.query_vectors_batch(index_name => %s, "
                             "query_vectors => %s::jsonb, top_k => 2)",
                             (batch_index, Jsonb(qs))).fetchall()
    with_ids = wdb.conn.execute(
        "SELECT ordinal, query_id, vector_id FROM s3vl.query_vectors_batch(index_name => %s, "
        "query_vectors => %s::jsonb, top_k => 2)",
        (batch_index, Jsonb([{"id": f"q{i}", "vector": q} for i, q in enumerate(qs)]))).fetchall()
    array_ids = wdb.conn.execute(
        "SELECT ordinal, query_id, vector_id FROM s3vl.query_vectors_batch(index_name => %s, "
        "query_vectors => %s::float8[], top_k => 2, query_ids => %s)", (batch_index, qs, ["q0",
                                                                                          "q1",
                                                                                          "q2"])).fetchall()
    assert [r[1] for r in plain] == [None] * 6
    assert [r[1] for r in with_ids] == ["q0", "q0", "q1", "q1", "q2", "q2"]
    assert [(r[0], r[2]) for r in plain] == [(r[0], r[2]) for r in with_ids]
    assert with_ids == array_ids


def test_more_than_100_queries_span_several_invocations(wdb: WriteDb,  # noqa: F811
                                                        batch_index: str) -> None:
    qs = queries(230, seed=3)
    batch = wdb.conn.execute("SELECT ordinal, vector_id, distance FROM "
                             "s3vl.query_vectors_batch(index_name => %s, "
                             "query_vectors => %s::float8[], top_k => 2)",
                             (batch_index, qs)).fetchall()
    assert [r[0] for r in batch] == [i for i in range(1, 231) for _ in range(2)]
    for i in (1, 100, 101, 230):
        single = wdb.conn.execute("SELECT vector_id, distance FROM s3vl.query_vectors(%s, "
                                  "%s::float8[], 2)", (batch_index, qs[i - 1])).fetchall()
        assert [(r[1], r[2]) for r in batch if r[0] == i] == single


def test_batch_argument_errors(wdb: WriteDb, batch_index: str) -> None:  # noqa: F811
    q = ("SELECT * FROM s3vl.query_vectors_batch(index_name => %s, query_vectors => %s::float8[], "
         "top_k => %s)")
    expect_error(wdb.conn, q, (batch_index, [1, 2, 3, 4], 2), "22023", "two-dimensional")
    three = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]
    expect_error(wdb.conn, q, (batch_index, [[1, 2, 3], [1, 2, 3]], 2), "22000",
                 "query_vectors[1]", "dimension 3", "dimension 4")
    expect_error(wdb.conn, q, (batch_index, three, 0), "22023", "top_k", "10000")
    expect_error(wdb.conn, q, (batch_index, [[1.0, 2.0, float("nan"), 4.0]], 2), "22000",
                 "query_vectors[1]", "finite")
    expect_error(wdb.conn, "SELECT * FROM s3vl.query_vectors_batch(index_name => %s, "
                           "query_vectors => %s::float8[], top_k => 2, "
                 "query_ids => ARRAY['a'])", (batch_index, three), "22023", "query_ids",
                 "1 ids for 3 vectors")
    expect_error(wdb.conn, "SELECT * FROM s3vl.query_vectors_batch(index_name => %s, "
                           "query_vectors => %s::jsonb)",
                 (batch_index, Jsonb([{"id": "a", "vector": [1, 2, 3, 4]}, [1, 2, 3, 4]])),
                 "22023", "every query vector or for none")
    expect_error(wdb.conn, "SELECT * FROM s3vl.query_vectors_batch(index_name => %s, "
                           "query_vectors => %s::jsonb)",
                 (batch_index, Jsonb([[1, 2, 3, 4], [1, "x", 3, 4]])), "22023",
                 "query_vectors[2]")
    expect_error(wdb.conn, "SELECT * FROM s3vl.query_vectors_batch(index_name => %s, "
                           "query_vectors => %s::jsonb)",
                 (batch_index, Jsonb([])), "22023", "non-empty")
    expect_error(wdb.conn, "SELECT * FROM s3vl.query_vectors_batch(index_name => %s, "
                           "query_vectors => %s::float8[], top_k => 2, "
                 "metadata_filter => '[1]'::jsonb)", (batch_index, three), "22023",
                                                                           "metadata_filter")


def test_batch_is_granted_to_reader(wdb: WriteDb) -> None:  # noqa: F811
    for sig in ["s3vl.query_vectors_batch(float8[], text, integer, jsonb, boolean, text[])",
                "s3vl.query_vectors_batch(jsonb, text, integer, jsonb, boolean)"]:
        assert wdb.conn.execute("SELECT has_function_privilege('s3vl_reader', %s, 'EXECUTE')",
                                (sig,)).fetchone() == (True,)


def test_cookbook_last_orders_similar_products_in_stock(wdb: WriteDb) -> None:  # noqa: F811
    doc = (REPO_ROOT / "docs" / "writes-batch-cache.md").read_text()
    blocks = [b.split("```")[0] for b in doc.split("### Cookbook")[1].split("```sql")[1:]]
    (statement,) = [b for b in blocks if "s3vl.query_vectors_batch(" in b]
    name, _ = wdb.new_index(dimension=DIM)
    products = [{"key": f"sku-{i}", "data": [1.0, float(i), 0.5, -0.25 * i],
                 "metadata": {"stock": 5 if i % 2 == 0 else 0}} for i in range(12)]
    wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                     (name, Jsonb(products)))
    conn = wdb.conn
    conn.execute("CREATE TEMP TABLE orders (order_id integer, created_at timestamptz, "
                 "embedding float8[])")
    conn.execute("INSERT INTO orders SELECT g, now() - g * interval '1 hour', "
                 "ARRAY[1, g, 0.5, 0]::float8[] FROM generate_series(1, 103) g")
    rows = conn.execute(statement.replace("'products'", f"'{name}'")).fetchall()
    conn.execute("DROP TABLE orders")
    assert len({r[0] for r in rows}) == 100 and len(rows) == 500
    assert max(r[0] for r in rows) == 100  # the 100 most recent orders: ids 1..100
    assert all(int(r[1].split("-")[1]) % 2 == 0 for r in rows)  # in stock only
    first = [r[1] for r in rows if r[0] == 1]
    single = conn.execute("SELECT vector_id FROM s3vl.query_vectors(%s, ARRAY[1, 1, 0.5, 0]"
                          "::float8[], 5, true, '{\"stock\": {\"$gt\": 0}}')", (name,)
                          ).fetchall()
    assert first == [s[0] for s in single]
