"""The SQL a user of the AWS reference sample already has (its README), run verbatim against
s3vl on the local stack (only the ARNs differ: they are the local ones)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import install

pytestmark = pytest.mark.stack

SAMPLE_QUERIES = {
    "similarity": """
SELECT
    vector_id,
    similarity_score,
    distance,
    metadata
FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
    index_name => 'demo-index',
    top_k => 10,
    return_metadata => TRUE
);""",
    "filtered": """
SELECT
    vector_id,
    similarity_score,
    metadata
FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
    index_name => 'demo-index',
    top_k => 5,
    return_metadata => TRUE,
    metadata_filter => '{"category": "test"}'::jsonb
);""",
    "get": """
SELECT
    vector_id,
    embedding,
    metadata,
    found
FROM s3vl.get_vectors(
    vector_ids => ARRAY['vec_001', 'vec_002', 'vec_003'],
    index_name => 'demo-index',
    include_vector_data => TRUE,
    include_metadata => TRUE
);""",
    "list": """
SELECT
    vector_id,
    metadata,
    response_next_token,
    total_count
FROM s3vl.list_vectors(
    index_name => 'demo-index',
    max_results => 20,
    return_metadata => TRUE
);""",
    "join": """
WITH similar_products AS (
    SELECT
        vector_id,
        similarity_score,
        (metadata->>'id')::INTEGER as product_id
    FROM s3vl.query_vectors(
        query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
        index_name => 'demo-index',
        top_k => 10
    )
)
SELECT
    p.product_name,
    p.price,
    sp.similarity_score,
    sp.vector_id
FROM similar_products sp
JOIN products p ON p.id = sp.product_id
ORDER BY sp.similarity_score DESC;""",
}

VECTORS = {
    "vec_001": ([0.1, 0.2, 0.3, 0.4, 0.5], {"category": "test", "id": 1}),
    "vec_002": ([0.5, 0.4, 0.3, 0.2, 0.1], {"category": "test", "id": 2}),
    "vec_003": ([0.9, 0.0, 0.0, 0.0, 0.1], {"category": "other", "id": 3}),
}


@pytest.fixture
def sample_db(fresh_database: Any, local_stack: Any, s3vectors_client: Any) -> Any:
    name = f"sample-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                                  dataType="float32", dimension=5, distanceMetric="cosine")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    s3vectors_client.put_vectors(indexArn=arn, vectors=[
        {"key": k, "data": {"float32": v}, "metadata": m} for k, (v, m) in VECTORS.items()])
    dsn = fresh_database()
    install(dsn)
    yield dsn, arn
    s3vectors_client.delete_index(indexArn=arn)


def test_sample_readme_statements_run_unchanged(sample_db: Any, local_stack: Any) -> None:
    dsn, arn = sample_db
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The README's configure call (a region given explicitly) is accepted as written.
        assert conn.execute("""SELECT s3vl.configure(
    'arn:aws:lambda:us-west-2:123456789012:function:s3vl-vector-query',
    'us-west-2'
);""").fetchone() == (True,)
        assert conn.execute("SELECT aws_region FROM s3vl.get_config()").fetchone() == (
            "us-west-2",)
        conn.execute("SELECT s3vl.configure(%s, %s)", (local_stack.lambda_arn, "us-east-1"))
        valid = conn.execute("SELECT * FROM s3vl.validate_config();").fetchone()
        assert valid is not None and valid[0] is True
        assert conn.execute(f"""SELECT s3vl.register_index(
    'demo-index',
    '{arn}'
);""").fetchone() == (True,)
        assert len(conn.execute("SELECT * FROM s3vl.list_indexes();").fetchall()) == 1
        assert len(conn.execute("SELECT * FROM s3vl.get_index_info('demo-index');"
                                ).fetchall()) == 1
        assert len(conn.execute("SELECT * FROM s3vl.get_config();").fetchall()) == 1

        rows = conn.execute(SAMPLE_QUERIES["similarity"]).fetchall()
        assert [r[0] for r in rows] == ["vec_001", "vec_002", "vec_003"]
        assert rows[0][1] == pytest.approx(1.0, abs=1e-5)
        assert rows[0][2] == pytest.approx(0.0, abs=1e-5)

        rows = conn.execute(SAMPLE_QUERIES["filtered"]).fetchall()
        assert [r[0] for r in rows] == ["vec_001", "vec_002"]

        rows = conn.execute(SAMPLE_QUERIES["get"]).fetchall()
        assert [(r[0], r[3]) for r in rows] == [("vec_001", True), ("vec_002", True),
                                                ("vec_003", True)]
        assert rows[2][1] == pytest.approx(VECTORS["vec_003"][0], abs=1e-6)

        rows = conn.execute(SAMPLE_QUERIES["list"]).fetchall()
        assert sorted(r[0] for r in rows) == sorted(VECTORS)
        assert {r[2] for r in rows} == {None} and {r[3] for r in rows} == {3}

        conn.execute("CREATE TABLE products (id integer PRIMARY KEY, product_name text, "
                     "price numeric)")
        conn.execute("INSERT INTO products VALUES (1, 'Lamp', 30), (3, 'Desk', 250)")
        rows = conn.execute(SAMPLE_QUERIES["join"]).fetchall()
        assert [(r[0], r[3]) for r in rows] == [("Lamp", "vec_001"), ("Desk", "vec_003")]
