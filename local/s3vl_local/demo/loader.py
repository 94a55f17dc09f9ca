"""Load the demo catalogue into PostgreSQL (schema demo) and its vectors into S3 Vectors."""

from __future__ import annotations

from typing import Any

import psycopg

from s3vl_local.demo.data import DemoData

PUT_BATCH = 500  # S3 Vectors PutVectors maximum per call

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.products (
  product_id  text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,
  category    text NOT NULL,
  price       numeric(10, 2) NOT NULL CHECK (price >= 0),
  stock       integer NOT NULL CHECK (stock >= 0),
  tenant      text NOT NULL
);
CREATE TABLE IF NOT EXISTS demo.queries (
  phrase    text PRIMARY KEY,
  embedding float8[] NOT NULL
);
"""


def load_tables(dsn: str, data: DemoData) -> None:
    """(Re)fill demo.products and demo.queries; idempotent."""
    with psycopg.connect(dsn) as conn:
        conn.execute(SCHEMA_SQL.encode())
        conn.execute("TRUNCATE demo.products, demo.queries")
        with conn.cursor() as cur, cur.copy(
            "COPY demo.products (product_id, name, description, category, price, stock, tenant)"
            " FROM STDIN"
        ) as copy:
            for p in data.products:
                copy.write_row((p.product_id, p.name, p.description, p.category, p.price,
                                p.stock, p.tenant))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO demo.queries (phrase, embedding) VALUES (%s, %s)",
                            [(q, [float(x) for x in v])
                             for q, v in zip(data.queries, data.query_vectors, strict=True)])
        conn.commit()


def put_vectors(client: Any, index_arn: str, data: DemoData) -> int:
    """PutVectors in batches of 500; returns the number of calls made."""
    vectors = [
        {"key": p.product_id, "data": {"float32": [float(x) for x in vec]},
         "metadata": p.metadata()}
        for p, vec in zip(data.products, data.product_vectors, strict=True)
    ]
    calls = 0
    for start in range(0, len(vectors), PUT_BATCH):
        client.put_vectors(indexArn=index_arn, vectors=vectors[start:start + PUT_BATCH])
        calls += 1
    return calls
