"""s3vl.track_table / sync / sync_status against the real function and the emulator."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error
from sql.sync_helpers import drain, index_contents, table_contents, tracked_table


@pytest.fixture
def tracked(local_stack: Any, s3vectors_client: Any) -> Any:
    with tracked_table(local_stack, s3vectors_client) as t:
        yield t


def test_insert_update_delete_reach_the_index(db: psycopg.Connection[Any], tracked: Any,
                                              s3vectors_client: Any) -> None:
    t = tracked.table
    db.execute(f"INSERT INTO {t} VALUES (1, '{{1,0,0,0}}', 'a', 9.5, true, 'x'), "
               f"(2, '{{0,1,0,0}}', 'b', 3, false, NULL), "
               f"(3, '{{0,0,1,0}}', NULL, NULL, NULL, NULL)")
    db.execute(f"UPDATE {t} SET embedding = '{{0.5,0.25,0,0}}', price = 10 WHERE id = 1")
    db.execute(f"UPDATE {t} SET note = 'not tracked' WHERE id = 2")  # no new change
    db.execute(f"DELETE FROM {t} WHERE id = 3")
    pending = db.execute("SELECT key, changes FROM s3vl.sync_outbox WHERE source = %s::regclass"
                         " ORDER BY key", (t,)).fetchall()
    assert pending == [("1", 2), ("2", 1), ("3", 2)]
    with db.transaction():
        db.execute(f"INSERT INTO {t} VALUES (4, '{{1,1,1,1}}', 'gone', 1, true, NULL)")
        raise psycopg.Rollback()
    result = db.execute("SELECT * FROM s3vl.sync(%s)", (tracked.index_name,)).fetchall()
    assert result == [(tracked.index_name, 2, 1, 0, None)]
    assert index_contents(s3vectors_client, tracked.index_arn) == table_contents(db, t)
    assert index_contents(s3vectors_client, tracked.index_arn)["1"] == (
        [0.5, 0.25, 0.0, 0.0], {"title": "a", "price": 10, "in_stock": True})
    status = db.execute("SELECT pending, failed, last_error, last_success IS NOT NULL "
                        "FROM s3vl.sync_status() WHERE index_name = %s",
                        (tracked.index_name,)).fetchone()
    assert status == (0, 0, None, True)
    # Nothing pending: a second sync does nothing.
    again = db.execute("SELECT upserted, deleted FROM s3vl.sync(%s)",
                       (tracked.index_name,)).fetchone()
    assert again == (0, 0)


def test_backfill_and_key_change(db: psycopg.Connection[Any], local_stack: Any,
                                 s3vectors_client: Any) -> None:
    with tracked_table(local_stack, s3vectors_client) as tracked:
        t = tracked.table
        db.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        db.execute(f"INSERT INTO {t} SELECT g, ARRAY[g, 1, 0, 0]::real[], 't' || g, g * 1.5, "
                   "g % 2 = 0, NULL FROM generate_series(1, 700) g")
        db.execute(f"ALTER TABLE {t} ENABLE TRIGGER USER")
        assert db.execute("SELECT s3vl.backfill(%s)", (t,)).fetchone() == (700,)
        drain(db, tracked.index_name)
        db.execute(f"UPDATE {t} SET id = id + 1000 WHERE id <= 5")  # key change: delete + put
        drain(db, tracked.index_name)
        assert index_contents(s3vectors_client, tracked.index_arn) == table_contents(db, t)


def test_bad_arguments_change_nothing(db: psycopg.Connection[Any], tracked: Any) -> None:
    t = tracked.table
    expect_error(db, "SELECT s3vl.track_table(%s, 'nope', 'embedding', %s)",
                 (t, tracked.index_name), "42703", "key_column")
    expect_error(db, "SELECT s3vl.track_table(%s, 'title', 'embedding', %s)",
                 (t, tracked.index_name), "42P10", "key_column", "unique")
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'title', %s)",
                 (t, tracked.index_name), "42804", "embedding_column")
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', 'no-such-index')",
                 (t,), "42704")
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['zzz'])",
                 (t, tracked.index_name), "42703", "metadata_columns")
    expect_error(db, "SELECT * FROM s3vl.sync(%s, 0)", (tracked.index_name,), "22023",
                 "max_rows")
    # The original tracking is intact.
    db.execute(f"INSERT INTO {t} VALUES (7, '{{1,2,3,4}}', 'k', 1, true, NULL)")
    assert db.execute("SELECT count(*) FROM s3vl.sync_outbox WHERE source = %s::regclass",
                      (t,)).fetchone() == (1,)


def test_bad_row_fails_alone(db: psycopg.Connection[Any], tracked: Any,
                             s3vectors_client: Any) -> None:
    t = tracked.table
    db.execute(f"INSERT INTO {t} SELECT g, ARRAY[g, 1, 2, 3]::real[], 'ok', g, true, NULL "
               "FROM generate_series(1, 30) g")
    db.execute(f"UPDATE {t} SET embedding = '{{1,2,3}}' WHERE id = 17")  # wrong dimension
    result = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                        (tracked.index_name,)).fetchone()
    assert result is not None and result[:2] == (29, 1)
    assert "dimension" in result[2] and "SQLSTATE 22000" in result[2]
    status = db.execute("SELECT pending, failed, last_error FROM s3vl.sync_status() "
                        "WHERE index_name = %s", (tracked.index_name,)).fetchone()
    assert status is not None and status[:2] == (1, 1) and "dimension" in status[2]
    assert db.execute("SELECT key, attempts FROM s3vl.sync_outbox WHERE source = %s::regclass",
                      (t,)).fetchall() == [("17", 1)]
    # Backoff: an immediate plain sync leaves it alone; fixing the row and retrying sends it.
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s)",
                      (tracked.index_name,)).fetchone() == (0, 0)
    db.execute(f"UPDATE {t} SET embedding = '{{1,2,3,4}}' WHERE id = 17")
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s)",
                      (tracked.index_name,)).fetchone() == (1, 0)
    assert index_contents(s3vectors_client, tracked.index_arn) == table_contents(db, t)


@pytest.mark.parametrize("key_type, keys", [
    ("char(6)", ["ab", "abcdef"]),
    ("uuid", ["6f1c2a3e-0000-4000-8000-000000000001", "6f1c2a3e-0000-4000-8000-000000000002"]),
    ("sync_test_sku", ["A-1", "B-22"]),  # a domain over text
    ("bigint", ["9007199254740993", "-5"]),
])
def test_built_in_key_types_and_domains(db: psycopg.Connection[Any], local_stack: Any,
                                        s3vectors_client: Any, key_type: str,
                                        keys: list[str]) -> None:
    from sql.sync_helpers import registered_index

    table = "sync_keyed_items"
    db.execute("DROP DOMAIN IF EXISTS sync_test_sku, sync_test_label CASCADE")
    db.execute("CREATE DOMAIN sync_test_sku AS text CHECK (VALUE ~ '^[A-Z]-[0-9]+$')")
    db.execute("CREATE DOMAIN sync_test_label AS varchar(20)")
    with registered_index(local_stack, s3vectors_client) as (index_name, arn):
        db.execute(f"CREATE TABLE {table} (k {key_type} PRIMARY KEY, embedding real[], "
                   "label sync_test_label)")
        try:
            db.execute("SELECT s3vl.track_table(%s, 'k', 'embedding', %s, ARRAY['label'])",
                       (table, index_name))
            for n, key in enumerate(keys):
                db.execute(f"INSERT INTO {table} VALUES (%s, ARRAY[%s, 0, 0, 1], 'l' || %s)",
                           (key, n, n))
            drain(db, index_name)
            texts = [r[0] for r in db.execute(f"SELECT k::text FROM {table} ORDER BY 1")]
            stored = index_contents(s3vectors_client, arn)
            assert sorted(stored) == texts
            assert {m["label"] for _, m in stored.values()} == {"l0", "l1"}
            db.execute(f"UPDATE {table} SET embedding = '{{5,5,5,5}}' WHERE k = %s", (keys[1],))
            db.execute(f"DELETE FROM {table} WHERE k = %s", (keys[0],))
            drain(db, index_name)
            remaining = db.execute(f"SELECT k::text FROM {table}").fetchall()
            assert {k: v for k, (v, _) in index_contents(s3vectors_client, arn).items()} == {
                remaining[0][0]: [5.0, 5.0, 5.0, 5.0]}
            assert db.execute("SELECT count(*) FROM s3vl.stale_rows(%s)", (table,)).fetchone(
                ) == (0,)
        finally:
            db.execute("SELECT s3vl.untrack_table(%s)", (table,))
            db.execute(f"DROP TABLE {table}")
            db.execute("DROP DOMAIN sync_test_sku, sync_test_label")


def test_json_metadata_is_refused_up_front(db: psycopg.Connection[Any], tracked: Any) -> None:
    db.execute(f"ALTER TABLE {tracked.table} ADD COLUMN doc json")
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['doc'])",
                 (tracked.table, tracked.index_name), "42804", "metadata_columns", "json")
    # The tracking in place is unchanged and writes still work.
    db.execute(f"INSERT INTO {tracked.table} (id, embedding, doc) VALUES (1, '{{1,1,1,1}}', "
               "'{\"a\": 1}')")
    assert db.execute("SELECT metadata_columns FROM s3vl.sync_tables WHERE source = %s::regclass",
                      (tracked.table,)).fetchone() == (["title", "price", "in_stock"],)
