"""The demo's sync step: a tracked table kept in step with its own index by s3vl.sync().

demo.product_embeddings (one row per product, with its embedding) is tracked into the
`products-synced` index; the step refills it, syncs, then changes and deletes rows without
syncing to show s3vl.stale_rows and s3vl.query_table (no orphaned ids), and syncs again.
"""

from __future__ import annotations

import sys
from typing import Any

import psycopg

from s3vl_local.demo.data import DemoData

SYNCED_INDEX = "products-synced"
TABLE_SQL = """
CREATE TABLE IF NOT EXISTS demo.product_embeddings (
  product_id text PRIMARY KEY,
  embedding  real[] NOT NULL,
  category   text NOT NULL,
  price      numeric(10, 2) NOT NULL,
  stock      integer NOT NULL
)
"""


def has_sync(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regprocedure('s3vl.sync(text, integer, boolean)') "
                           "IS NOT NULL").fetchone()
        return bool(row and row[0])


def _ensure_index(client: Any, bucket: str, products_index_arn: str) -> str:
    products = client.get_index(indexArn=products_index_arn)["index"]
    arn = products_index_arn.rsplit("/", 1)[0] + "/" + SYNCED_INDEX
    try:
        client.get_index(indexArn=arn)
    except client.exceptions.NotFoundException:
        client.create_index(vectorBucketName=bucket, indexName=SYNCED_INDEX, dataType="float32",
                            dimension=products["dimension"],
                            distanceMetric=products["distanceMetric"])
    return arn


def _show(conn: psycopg.Connection[Any], title: str, query: str, params: Any = None) -> None:
    shown = query.replace("%s::float8[]", "<embedding of the deleted product>")
    print(f"\n== {title}\n{shown}")
    for row in conn.execute(query, params).fetchall():
        print("  " + " | ".join("" if v is None else str(v) for v in row))


def run(dsn: str, client: Any, bucket: str, products_index_arn: str, data: DemoData) -> None:
    arn = _ensure_index(client, bucket, products_index_arn)
    probe = [float(x) for x in data.product_vectors[0]]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.register_index(%s, %s, 'demo: kept in step by s3vl.sync')",
                     (SYNCED_INDEX, arn))
        conn.execute(TABLE_SQL)
        conn.execute("SELECT s3vl.track_table('demo.product_embeddings', 'product_id', "
                     "'embedding', %s, ARRAY['category', 'price', 'stock'])", (SYNCED_INDEX,))
        with conn.transaction():
            conn.execute("DELETE FROM demo.product_embeddings")  # captured: a rerun resyncs
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO demo.product_embeddings VALUES (%s, %s, %s, %s, %s)",
                    [(p.product_id, [float(x) for x in v], p.category, p.price, p.stock)
                     for p, v in zip(data.products, data.product_vectors, strict=True)])
        print("\n== 8. Sync: demo.product_embeddings is tracked into index "
              f"'{SYNCED_INDEX}' (triggers -> outbox -> s3vl.sync -> PutVectors/DeleteVectors)")
        _show(conn, "pending changes", "SELECT index_name, pending, failed FROM s3vl.sync_status()")
        _show(conn, "send them", "SELECT * FROM s3vl.sync()")
        first = data.products[0].product_id
        conn.execute("UPDATE demo.product_embeddings SET price = price + 1 WHERE product_id = %s",
                     (first,))
        conn.execute("DELETE FROM demo.product_embeddings WHERE product_id = %s", (first,))
        _show(conn, "after an unsynced delete: the index is stale",
              "SELECT key, reason, pending FROM s3vl.stale_rows('demo.product_embeddings')")
        _show(conn, "query_table never returns the orphaned id",
              "SELECT key, round(distance::numeric, 4) AS distance FROM s3vl.query_table("
              "%s::float8[], 'demo.product_embeddings', 'product_id', top_k => 3)", (probe,))
        _show(conn, "sync again", "SELECT * FROM s3vl.sync()")
        _show(conn, "status", "SELECT index_name, pending, failed, last_success IS NOT NULL "
              "AS synced FROM s3vl.sync_status()")
    sys.stdout.flush()
