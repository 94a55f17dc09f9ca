"""The sync functions work for members of the s3vl roles without superuser rights."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error
from sql.sync_helpers import DIMENSION, index_contents, table_contents


@pytest.fixture
def roles(db: psycopg.Connection[Any]) -> Iterator[dict[str, str]]:
    made = {group: f"s3vl_sync_{group[5:]}_{uuid.uuid4().hex[:6]}"
            for group in ("s3vl_admin", "s3vl_writer", "s3vl_reader")}
    for group, name in made.items():
        db.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE {group}')
    yield made
    db.execute("RESET ROLE")
    for name in made.values():
        db.execute(f'DROP OWNED BY "{name}"')
        db.execute(f'DROP ROLE "{name}"')


def test_admin_tracks_writer_syncs_reader_queries(db: psycopg.Connection[Any], local_stack: Any,
                                                  s3vectors_client: Any,
                                                  roles: dict[str, str]) -> None:
    suffix = uuid.uuid4().hex[:8]
    index_name, table = f"syncrole-{suffix}", f"sync_role_items_{suffix}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index_name,
                                  dataType="float32", dimension=DIMENSION,
                                  distanceMetric="euclidean")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index_name
    try:
        db.execute("SELECT s3vl.register_index(%s, %s)", (index_name, arn))
        db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], title text, "
                   "price numeric, in_stock boolean, note text)")
        db.execute(f'ALTER TABLE {table} OWNER TO "{roles["s3vl_admin"]}"')
        db.execute(f'GRANT SELECT ON {table} TO "{roles["s3vl_reader"]}"')
        db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
        db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['title'])",
                   (table, index_name))
        db.execute(f"INSERT INTO {table} SELECT g, ARRAY[g, 0, 0, 0]::real[], 't' || g, NULL, "
                   "NULL, NULL FROM generate_series(1, 20) g")
        db.execute(f'SET ROLE "{roles["s3vl_writer"]}"')
        expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s)",
                     (table, index_name), "42501")
        assert db.execute("SELECT upserted FROM s3vl.sync(%s)",
                          (index_name,)).fetchone() == (20,)
        db.execute(f'SET ROLE "{roles["s3vl_reader"]}"')
        expect_error(db, "SELECT * FROM s3vl.sync(%s)", (index_name,), "42501")
        rows = db.execute("SELECT key FROM s3vl.query_table(source => %s, key_column => 'id', "
                          "query_vector => ARRAY[0,0,0,0]::float8[],"
                          " top_k => 3)", (table,)).fetchall()
        assert rows == [("1",), ("2",), ("3",)]
        assert db.execute("SELECT count(*) FROM s3vl.stale_rows(%s)", (table,)).fetchone() == (0,)
        db.execute("RESET ROLE")
        expected = {k: (v, {"title": f"t{k}"}) for k, (v, _) in table_contents(db, table).items()}
        assert index_contents(s3vectors_client, arn) == expected
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.untrack_table(%s) FROM pg_class WHERE oid = to_regclass(%s)",
                   (table, table))
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute("DELETE FROM s3vl.index_registry WHERE index_name = %s", (index_name,))
        db.execute("DELETE FROM s3vl.sync_index_status WHERE index_name = %s", (index_name,))
        s3vectors_client.delete_index(indexArn=arn)
