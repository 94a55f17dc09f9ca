"""Shared pieces of the sync tests: a dedicated emulator index and a tracked table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

DIMENSION = 4


class TrackedTable:
    def __init__(self, table: str, index_name: str, index_arn: str) -> None:
        self.table = table
        self.index_name = index_name
        self.index_arn = index_arn


@contextmanager
def registered_index(stack: Any, client: Any) -> Iterator[tuple[str, str]]:
    """A fresh emulator index of DIMENSION, registered; yields (name, arn); removed afterwards."""
    index_name = f"synctest-{uuid.uuid4().hex[:8]}"
    client.create_index(vectorBucketName=stack.bucket_name, indexName=index_name,
                        dataType="float32", dimension=DIMENSION, distanceMetric="euclidean")
    arn = stack.index_arn.rsplit("/", 1)[0] + "/" + index_name
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.register_index(%s, %s, 'sync tests')", (index_name, arn))
    try:
        yield index_name, arn
    finally:
        with psycopg.connect(stack.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM s3vl.index_registry WHERE index_name = %s", (index_name,))
            conn.execute("DELETE FROM s3vl.sync_index_status WHERE index_name = %s",
                         (index_name,))
        client.delete_index(indexArn=arn)


@contextmanager
def tracked_table(stack: Any, client: Any, metadata: bool = True) -> Iterator[TrackedTable]:
    """A fresh index (registered) and a table public.<name> tracked into it; removed afterwards."""
    table = f"sync_items_{uuid.uuid4().hex[:8]}"
    with registered_index(stack, client) as (index_name, arn), \
            psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], "
                     "title text, price numeric, in_stock boolean, note text)")
        conn.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, %s)",
                     (table, index_name,
                      ["title", "price", "in_stock"] if metadata else None))
        try:
            yield TrackedTable(table, index_name, arn)
        finally:
            conn.execute("SELECT s3vl.untrack_table(%s)", (table,))
            conn.execute(f"DROP TABLE {table}")


def index_contents(client: Any, arn: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
    """Every vector of the index: key -> (float32 data, metadata)."""
    found: dict[str, tuple[list[float], dict[str, Any]]] = {}
    token = None
    while True:
        args: dict[str, Any] = {"indexArn": arn, "returnData": True, "returnMetadata": True,
                                "maxResults": 1000}
        if token:
            args["nextToken"] = token
        page = client.list_vectors(**args)
        for v in page["vectors"]:
            found[v["key"]] = (list(v["data"]["float32"]), v.get("metadata") or {})
        token = page.get("nextToken")
        if not token:
            return found


def table_contents(conn: psycopg.Connection[Any],
                   table: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
    """What the index should hold for the table (metadata as the JSON sync sends)."""
    rows = conn.execute(
        f"SELECT id::text, embedding::float8[], jsonb_strip_nulls(jsonb_build_object("
        f"'title', title, 'price', price, 'in_stock', in_stock)) FROM {table} "
        "WHERE embedding IS NOT NULL").fetchall()
    return {k: ([float(x) for x in v], m) for k, v, m in rows}


def drain(conn: psycopg.Connection[Any], index_name: str, rounds: int = 50) -> None:
    """Sync until nothing is pending (failures retried at once)."""
    for _ in range(rounds):
        conn.execute("SELECT * FROM s3vl.sync(%s, 100000, retry_now => true)", (index_name,))
        row = conn.execute("SELECT pending FROM s3vl.sync_status() WHERE index_name = %s",
                           (index_name,)).fetchone()
        if row is not None and row[0] == 0:
            return
    raise AssertionError(f"sync did not drain {index_name} in {rounds} rounds")
