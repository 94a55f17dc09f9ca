"""s3vl.stale_rows (version tracking) and s3vl.query_table (no orphaned ids reach the caller)."""

from __future__ import annotations

from typing import Any

import psycopg

from sql.sql_helpers import expect_error
from sql.sync_helpers import drain, tracked_table


def test_stale_rows_follow_changes(local_stack: Any, db: psycopg.Connection[Any],
                                   s3vectors_client: Any) -> None:
    with tracked_table(local_stack, s3vectors_client) as tracked:
        t = tracked.table
        db.execute(f"INSERT INTO {t} SELECT g, ARRAY[g, 0, 0, 1]::real[], 'x', g, true, NULL "
                   "FROM generate_series(1, 5) g")
        stale = db.execute("SELECT key, reason, pending FROM s3vl.stale_rows(%s)", (t,))
        assert stale.fetchall() == [(str(k), "never synced", True) for k in range(1, 6)]
        drain(db, tracked.index_name)
        assert db.execute("SELECT * FROM s3vl.stale_rows(%s)", (t,)).fetchall() == []
        db.execute(f"UPDATE {t} SET price = 100 WHERE id = 2")  # metadata only
        db.execute(f"UPDATE {t} SET embedding = '{{9,9,9,9}}' WHERE id = 3")
        db.execute(f"UPDATE {t} SET note = 'untracked' WHERE id = 4")
        db.execute(f"DELETE FROM {t} WHERE id = 5")
        rows = db.execute("SELECT key, reason, synced_at IS NOT NULL, pending "
                          "FROM s3vl.stale_rows(%s)", (t,)).fetchall()
        assert rows == [("2", "changed", True, True), ("3", "changed", True, True),
                        ("5", "deleted", True, True)]
        drain(db, tracked.index_name)
        assert db.execute("SELECT * FROM s3vl.stale_rows(%s)", (t,)).fetchall() == []


def test_query_table_skips_orphans(local_stack: Any, db: psycopg.Connection[Any],
                                   s3vectors_client: Any) -> None:
    with tracked_table(local_stack, s3vectors_client) as tracked:
        t = tracked.table
        # Distance to [0,0,0,0] grows with id; ids 1..40 are the nearest.
        db.execute(f"INSERT INTO {t} SELECT g, ARRAY[g, 0, 0, 0]::real[], 'x', g, g % 2 = 0, "
                   "NULL FROM generate_series(1, 60) g")
        drain(db, tracked.index_name)
        db.execute(f"DELETE FROM {t} WHERE id <= 30")  # not synced: 30 orphans in the index
        plain = db.execute("SELECT vector_id FROM s3vl.query_vectors(%s::text, "
                           "ARRAY[0,0,0,0]::float8[], 5)", (tracked.index_name,)).fetchall()
        assert [r[0] for r in plain] == ["1", "2", "3", "4", "5"]  # orphans, as expected
        rows = db.execute("SELECT key, distance, metadata FROM s3vl.query_table(source => %s, "
                          "key_column => 'id', "
                          "query_vector => ARRAY[0,0,0,0]::float8[], top_k => 5)", (t,)).fetchall()
        assert [r[0] for r in rows] == ["31", "32", "33", "34", "35"]
        assert rows[0][1] < rows[-1][1]
        assert rows[0][2] == {"title": "x", "price": 31, "in_stock": False}
        filtered = db.execute("SELECT key FROM s3vl.query_table(source => %s, key_column => 'id', "
                              "query_vector => ARRAY[0,0,0,0]::float8[], top_k => 3, "
                              "metadata_filter => '{\"in_stock\": true}')",
                              (t,)).fetchall()
        assert [r[0] for r in filtered] == ["32", "34", "36"]
        # Fewer existing keys than top_k: all of them, no orphan.
        everything = db.execute("SELECT key FROM s3vl.query_table(source => %s, "
                                "key_column => 'id', "
                                "query_vector => ARRAY[0,0,0,0]::float8[], top_k => 50)",
                                (t,)).fetchall()
        assert sorted(int(r[0]) for r in everything) == list(range(31, 61))


def test_query_table_bad_input(db: psycopg.Connection[Any], local_stack: Any,
                               s3vectors_client: Any) -> None:
    with tracked_table(local_stack, s3vectors_client) as tracked:
        t = tracked.table
        expect_error(db, "SELECT * FROM s3vl.query_table(source => %s, "
                         "key_column => 'id; DROP TABLE x', "
                     "query_vector => ARRAY[0,0,0,1]::float8[], top_k => 5)", (t,), "42703",
                                                                                    "key_column")
        expect_error(db, "SELECT * FROM s3vl.query_table(source => %s, key_column => 'id', "
                         "query_vector => ARRAY[0,0,0,1]::float8[], top_k => 0)",
                     (t,), "22023", "top_k")
        expect_error(db, "SELECT * FROM s3vl.query_table(source => 'pg_class', "
                         "key_column => 'oid', "
                     "query_vector => ARRAY[0,0,0,1]::float8[], top_k => 5)", None, "42704",
                                                                                    "not tracked")
        expect_error(db, "SELECT * FROM s3vl.stale_rows('pg_class')", None, "42704",
                     "not tracked")


def test_odd_identifiers_are_quoted(local_stack: Any, db: psycopg.Connection[Any],
                                    s3vectors_client: Any) -> None:
    """Table and column names with quotes, spaces and semicolons work and inject nothing."""
    with tracked_table(local_stack, s3vectors_client) as tracked:
        table = '"Odd; DROP TABLE s3vl.config; --"'
        db.execute(f'CREATE TABLE {table} ("the ""id""" text PRIMARY KEY, '
                   '"vec; x" float8[], "price\'s" numeric)')
        try:
            db.execute("SELECT s3vl.track_table(%s, %s, %s, %s, ARRAY[%s])",
                       (table, 'the "id"', "vec; x", tracked.index_name, "price's"))
            db.execute(f"INSERT INTO {table} VALUES ('a''b', '{{1,0,0,0}}', 2.5), "
                       "('c', '{2,0,0,0}', 3)")
            drain(db, tracked.index_name)
            stored = s3vectors_client.get_vectors(indexArn=tracked.index_arn, keys=["a'b"],
                                                  returnMetadata=True)["vectors"]
            assert stored[0]["metadata"] == {"price's": 2.5}
            db.execute(f"DELETE FROM {table} WHERE \"vec; x\"[1] = 1")
            rows = db.execute("SELECT key FROM s3vl.query_table(source => %s, key_column => %s, "
                              "query_vector => ARRAY[0,0,0,0]::float8[], top_k => 1)",
                              (table, 'the "id"')).fetchall()
            assert rows == [("c",)]
            assert [r[0] for r in db.execute("SELECT key FROM s3vl.stale_rows(%s)",
                                             (table,)).fetchall()] == ["a'b"]
            assert db.execute("SELECT count(*) FROM s3vl.config").fetchone() != (0,)
        finally:
            db.execute("SELECT s3vl.untrack_table(%s)", (table,))
            db.execute(f"DROP TABLE {table}")
