"""How s3vl.sync cuts the outbox into invocations: batch sizes per partition count, a batch whose
JSON comes out larger than the estimate (split, nothing fails), one claim per run."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sql.sync_helpers import index_contents

pytestmark = pytest.mark.stack


def _limit(db: psycopg.Connection[Any], name: str) -> int:
    row = db.execute("SELECT max_value FROM s3vl.limits() WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_batch_size_grows_with_partitions_within_the_byte_budget(
        db: psycopg.Connection[Any]) -> None:
    per_call = _limit(db, "put_vectors_per_call")
    budget = _limit(db, "sync_batch_bytes")

    def size(dimension: int, partitions: int) -> int:
        row = db.execute("SELECT s3vl._sync_batch_size(%s, %s)",
                         (dimension, partitions)).fetchone()
        assert row is not None
        return int(row[0])

    # One PutVectors call's worth per partition: the function splits a batch by partition.
    assert size(32, 1) == per_call
    assert size(32, 8) == 8 * per_call
    assert size(32, 0) == per_call  # a plain index counts as one
    # Large vectors: the byte estimate decides, whatever the partition count.
    assert size(4096, 8) == size(4096, 1) < per_call
    assert size(4096, 1) * (4096 * 22) <= budget


@pytest.fixture
def wide_rows(local_stack: Any, s3vectors_client: Any,
              db: psycopg.Connection[Any]) -> Iterator[tuple[str, str, str]]:
    """A table whose rows may carry large non-filterable metadata, tracked into an index that
    declares that key non-filterable: (table, index name, index ARN)."""
    name = f"syncwide-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(
        vectorBucketName=local_stack.bucket_name, indexName=name, dataType="float32",
        dimension=4, distanceMetric="euclidean",
        metadataConfiguration={"nonFilterableMetadataKeys": ["note"]})
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    table = f"sync_wide_{uuid.uuid4().hex[:8]}"
    db.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], note text)")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['note'])",
               (table, name))
    try:
        yield table, name, arn
    finally:
        db.execute("SELECT s3vl.untrack_table(%s)", (table,))
        db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM s3vl.index_registry WHERE index_name = %s", (name,))
        db.execute("DELETE FROM s3vl.sync_index_status WHERE index_name = %s", (name,))
        s3vectors_client.delete_index(indexArn=arn)


def test_a_batch_over_the_byte_budget_is_split_and_nothing_fails(
        db: psycopg.Connection[Any], s3vectors_client: Any,
        wide_rows: tuple[str, str, str]) -> None:
    table, name, arn = wide_rows
    rows = 500  # one batch by count (dimension 4: the estimate allows put_vectors_per_call)
    db.execute(f"INSERT INTO {table} SELECT g, ARRAY[g, 1, 2, 3]::real[], repeat('x', 14000) "
               "FROM generate_series(1, %s) g", (rows,))
    # The batch as one request would not fit one synchronous invocation.
    assert rows * 14000 > _limit(db, "invoke_payload_bytes") > _limit(db, "sync_batch_bytes")
    got = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (name,)).fetchone()
    assert got == (rows, 0, None)
    stored = index_contents(s3vectors_client, arn)
    assert len(stored) == rows
    assert stored["7"][1] == {"note": "x" * 14000}
    pending = db.execute("SELECT pending FROM s3vl.sync_status() WHERE index_name = %s",
                         (name,)).fetchone()
    assert pending == (0,)


def test_a_run_claims_its_keys_once_and_leaves_the_rest_to_others(
        local_stack: Any, db: psycopg.Connection[Any],
        wide_rows: tuple[str, str, str]) -> None:
    """Two runs at once take disjoint keys: the first claims max_rows keys at its start, and a
    second run meanwhile syncs only the others (it then waits for the first to commit only to
    record the index's outcome)."""
    table, name, _ = wide_rows
    db.execute(f"INSERT INTO {table} SELECT g, ARRAY[g, 1, 2, 3]::real[], 'n' "
               "FROM generate_series(1, 300) g")
    other: list[Any] = []
    with psycopg.connect(local_stack.dsn) as first:
        claimed = first.execute("SELECT upserted FROM s3vl.sync(%s, 200)", (name,)).fetchone()
        assert claimed == (200,)

        def second_run() -> None:
            with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
                other.append(conn.execute("SELECT upserted FROM s3vl.sync(%s, 1000)",
                                          (name,)).fetchone())

        runner = threading.Thread(target=second_run)
        runner.start()
        # The first run's transaction is still open: the second one syncs the other keys, then
        # waits on the index's status row until the first commits.
        deadline = time.monotonic() + 60
        while not waiting_on_lock(db) and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        first.commit()
        runner.join(60)
    assert other == [(100,)]
    left = db.execute("SELECT pending FROM s3vl.sync_status() WHERE index_name = %s",
                      (name,)).fetchone()
    assert left == (0,)


def waiting_on_lock(db: psycopg.Connection[Any]) -> bool:
    row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND query LIKE '%s3vl.sync(%'").fetchone()
    return row is not None and row[0] > 0
