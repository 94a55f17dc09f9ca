"""Role boundaries of sync (issue 16, items 1, 2, 3 and the sync part of 10).

Each test plays an attacker holding one s3vl role against the functions that run as the s3vl
owner: user-defined casts must never run as the owner, the sync tables take no direct writes,
sync reads only what the role that tracked a table may read, and readers see no keys of tables
they cannot read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error
from sql.sync_helpers import index_contents, registered_index

pytestmark = pytest.mark.stack


@dataclass
class Cast:
    schema: str
    admin: str
    victim: str
    reader: str
    writer: str
    index_name: str
    index_arn: str

    def log(self, db: psycopg.Connection[Any]) -> list[str]:
        """Who ran the attacker's functions (current_user at the time)."""
        db.execute("RESET ROLE")
        return [r[0] for r in db.execute(f"SELECT who FROM {self.schema}.calls ORDER BY 1")]


@pytest.fixture
def cast(db: psycopg.Connection[Any], local_stack: Any,
         s3vectors_client: Any) -> Iterator[Cast]:
    """A schema the test roles may create in, the roles, a call log and a registered index."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"sec_{suffix}"
    names = {kind: f"s3vl_sec_{kind}_{suffix}" for kind in ("admin", "victim", "reader",
                                                              "writer")}
    db.execute(f'CREATE ROLE "{names["admin"]}" LOGIN IN ROLE s3vl_admin')
    db.execute(f'CREATE ROLE "{names["victim"]}" LOGIN')
    db.execute(f'CREATE ROLE "{names["reader"]}" LOGIN IN ROLE s3vl_reader')
    db.execute(f'CREATE ROLE "{names["writer"]}" LOGIN IN ROLE s3vl_writer')
    db.execute(f"CREATE SCHEMA {schema}")
    db.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO PUBLIC")
    db.execute(f"CREATE TABLE {schema}.calls (who text)")
    db.execute(f"GRANT INSERT, SELECT ON {schema}.calls TO PUBLIC")
    with registered_index(local_stack, s3vectors_client) as (index_name, arn):
        try:
            yield Cast(schema, names["admin"], names["victim"], names["reader"],
                       names["writer"], index_name, arn)
        finally:
            db.execute("RESET ROLE")
            db.execute("SELECT s3vl.untrack_table(c.oid) FROM pg_class c WHERE "
                       "c.relnamespace = %s::regnamespace AND c.relkind = 'r'", (schema,))
            db.execute("SELECT s3vl.untrack_table(st.source) FROM s3vl.sync_tables st "
                       "WHERE st.index_name = %s", (index_name,))
            db.execute(f"DROP SCHEMA {schema} CASCADE")
            for name in names.values():
                db.execute(f'DROP OWNED BY "{name}"')
                db.execute(f'DROP ROLE "{name}"')
            db.execute("DELETE FROM s3vl.sync_index_status WHERE index_name = %s", (index_name,))


def _as(db: psycopg.Connection[Any], role: str) -> None:
    db.execute("RESET ROLE")
    db.execute(f'SET ROLE "{role}"')


def _logging_cast(db: psycopg.Connection[Any], c: Cast, type_name: str, target: str) -> None:
    """As the current role: an enum type with a cast to `target` that logs who runs it."""
    db.execute(f"CREATE TYPE {c.schema}.{type_name} AS ENUM ('a', 'b', 'c')")
    db.execute(f"CREATE FUNCTION {c.schema}.{type_name}_to_{target}({c.schema}.{type_name}) "
               f"RETURNS {target} LANGUAGE plpgsql AS $f$ BEGIN "
               f"INSERT INTO {c.schema}.calls VALUES (current_user); "
               f"RETURN pg_catalog.to_json(pg_catalog.format('%s', $1))::{target}; END $f$")
    db.execute(f"CREATE CAST ({c.schema}.{type_name} AS {target}) WITH FUNCTION "
               f"{c.schema}.{type_name}_to_{target}({c.schema}.{type_name})")


# ---- item 1: user-defined casts never run as the owner ------------------------------------------
def test_key_of_a_user_type_is_refused(db: psycopg.Connection[Any], cast: Cast) -> None:
    c = cast
    _as(db, c.admin)
    _logging_cast(db, c, "evil", "text")
    db.execute(f"CREATE TABLE {c.schema}.t (k {c.schema}.evil PRIMARY KEY, embedding real[])")
    expect_error(db, "SELECT s3vl.track_table(%s, 'k', 'embedding', %s)",
                 (f"{c.schema}.t", c.index_name), "42804", "key_column", "built-in")
    db.execute(f"INSERT INTO {c.schema}.t VALUES ('a', '{{1,0,0,0}}')")
    assert c.log(db) == []


def test_metadata_of_a_user_type_is_refused(db: psycopg.Connection[Any], cast: Cast) -> None:
    c = cast
    _as(db, c.admin)
    _logging_cast(db, c, "mood", "json")
    db.execute(f"CREATE TABLE {c.schema}.t (id integer PRIMARY KEY, embedding real[], "
               f"m {c.schema}.mood)")
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['m'])",
                 (f"{c.schema}.t", c.index_name), "42804", "metadata_columns", "built-in")
    assert c.log(db) == []


def test_type_changed_after_tracking_is_refused_at_capture_and_sync(
        db: psycopg.Connection[Any], cast: Cast, s3vectors_client: Any) -> None:
    c = cast
    table = f"{c.schema}.t"
    _as(db, c.admin)
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], m text)")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['m'])",
               (table, c.index_name))
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}', 'a')")
    _logging_cast(db, c, "mood", "json")
    db.execute(f"ALTER TABLE {table} ALTER COLUMN m TYPE {c.schema}.mood USING m::{c.schema}.mood")
    # Capture: the trigger (running as the owner) refuses, so the write fails.
    expect_error(db, f"INSERT INTO {table} VALUES (2, '{{0,1,0,0}}', 'b')", None, "42804",
                 "metadata", "built-in")
    # Sync: the pending key fails with the same check; nothing reaches the index.
    _as(db, c.writer)
    row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (c.index_name,)).fetchone()
    assert row is not None and row[:2] == (0, 1) and "42804" in row[2], row
    assert c.log(db) == []
    assert index_contents(s3vectors_client, c.index_arn) == {}


# ---- item 2: no direct writes; the SQL comes from the catalog -----------------------------------
@pytest.mark.parametrize("group", ["admin", "writer", "reader"])
@pytest.mark.parametrize("statement", [
    "INSERT INTO s3vl.sync_tables (source, key_column, embedding_column, index_name) "
    "VALUES ('pg_class', 'oid', 'relacl', 'x')",
    "UPDATE s3vl.sync_tables SET index_name = 'x'",
    "UPDATE s3vl.sync_outbox SET next_attempt_at = now()",
    "INSERT INTO s3vl.sync_outbox (source, key, index_name) VALUES ('pg_class', '1', 'x')",
    "DELETE FROM s3vl.sync_state",
    "INSERT INTO s3vl.sync_index_status (index_name) VALUES ('x')",
])
def test_sync_tables_take_no_direct_writes(db: psycopg.Connection[Any], cast: Cast, group: str,
                                           statement: str) -> None:
    _as(db, getattr(cast, group))
    expect_error(db, statement, None, "42501")


def test_no_stored_sql_text(db: psycopg.Connection[Any], cast: Cast) -> None:
    """Nothing sync runs is stored as SQL text: a stored column name is only looked up."""
    columns = {r[0] for r in db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 's3vl.sync_tables'::regclass "
        "AND attnum > 0 AND NOT attisdropped")}
    assert not columns & {"key_type", "embedding_cast"}
    table = f"{cast.schema}.t"
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], title text)")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['title'])",
               (table, cast.index_name))
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}', 't')")
    evil = f"title', (SELECT count(*) FROM {cast.schema}.calls)) --"
    db.execute("UPDATE s3vl.sync_tables SET metadata_columns = ARRAY[%s] "
               "WHERE source = %s::regclass", (evil, table))
    row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (cast.index_name,)).fetchone()
    assert row is not None and row[:2] == (0, 1) and "42703" in row[2], row


# ---- item 3: sync reads only what the tracker may read ------------------------------------------
def _victim_table(db: psycopg.Connection[Any], c: Cast) -> str:
    table = f"{c.schema}.secrets"
    _as(db, c.victim)
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[], title text, "
               "secret text)")
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}', 'one', 'pin 1234')")
    return table


def test_tracking_needs_select_on_every_tracked_column(db: psycopg.Connection[Any],
                                                       cast: Cast) -> None:
    c = cast
    table = _victim_table(db, c)
    db.execute(f'GRANT TRIGGER, SELECT (id, embedding, title) ON {table} TO "{c.admin}"')
    _as(db, c.admin)
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['title', "
                 "'secret'])", (table, c.index_name), "42501", "secret")
    # Without TRIGGER or SELECT at all, the checked definer function refuses too.
    _as(db, c.victim)
    db.execute(f'REVOKE ALL ON {table} FROM "{c.admin}"')
    _as(db, c.admin)
    expect_error(db, "SELECT s3vl._sync_register(%s, 'id', 'embedding', %s, NULL)",
                 (table, c.index_name), "42501")
    db.execute("RESET ROLE")
    assert db.execute("SELECT count(*) FROM s3vl.sync_tables WHERE source = %s::regclass",
                      (table,)).fetchone() == (0,)


def test_sync_checks_the_trackers_privileges_every_time(db: psycopg.Connection[Any], cast: Cast,
                                                        s3vectors_client: Any) -> None:
    c = cast
    table = _victim_table(db, c)
    db.execute(f'GRANT TRIGGER, SELECT ON {table} TO "{c.admin}"')
    _as(db, c.admin)
    db.execute("SELECT s3vl.backfill(%s) FROM (SELECT s3vl.track_table(%s, 'id', 'embedding', "
               "%s, ARRAY['title', 'secret'])) x", (table, table, c.index_name))
    assert db.execute("SELECT tracked_by::text FROM s3vl.sync_tables WHERE source = "
                      "%s::regclass", (table,)).fetchone() == (c.admin,)
    _as(db, c.writer)
    assert db.execute("SELECT upserted FROM s3vl.sync(%s)", (c.index_name,)).fetchone() == (1,)
    # The owner takes SELECT on the secret column back: sync stops sending this table.
    _as(db, c.victim)
    db.execute(f'REVOKE SELECT ON {table} FROM "{c.admin}"')
    db.execute(f'GRANT SELECT (id, embedding, title) ON {table} TO "{c.admin}"')
    db.execute(f"UPDATE {table} SET secret = 'pin 9999', embedding = '{{0,1,0,0}}'")
    _as(db, c.writer)
    row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (c.index_name,)).fetchone()
    assert row is not None and row[:2] == (0, 1), row
    assert "42501" in row[2] and "secret" in row[2] and c.admin in row[2], row
    stored = index_contents(s3vectors_client, c.index_arn)
    assert stored == {"1": ([1.0, 0.0, 0.0, 0.0], {"title": "one", "secret": "pin 1234"})}


def test_row_level_security_is_not_bypassed(db: psycopg.Connection[Any], cast: Cast) -> None:
    c = cast
    table = _victim_table(db, c)
    db.execute(f'GRANT TRIGGER, SELECT ON {table} TO "{c.admin}"')
    db.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    db.execute(f'CREATE POLICY few ON {table} TO "{c.admin}" USING (id > 100)')
    _as(db, c.admin)
    expect_error(db, "SELECT s3vl.track_table(%s, 'id', 'embedding', %s)",
                 (table, c.index_name), "42501", "row-level security")


def test_tracked_before_the_tracker_was_recorded(db: psycopg.Connection[Any], cast: Cast,
                                                 s3vectors_client: Any) -> None:
    """Rows left by an upgrade (tracker unknown) are not synced until track_table runs again;
    running it again keeps the pending changes."""
    table = f"{cast.schema}.t"
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[])")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, cast.index_name))
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}'), (2, '{{0,1,0,0}}')")
    db.execute("UPDATE s3vl.sync_tables SET tracked_by = NULL WHERE source = %s::regclass",
               (table,))
    row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (cast.index_name,)).fetchone()
    assert row is not None and row[:2] == (0, 2) and "track_table" in row[2], row
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, cast.index_name))
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s, retry_now => true)",
                      (cast.index_name,)).fetchone() == (2, 0)
    assert sorted(index_contents(s3vectors_client, cast.index_arn)) == ["1", "2"]


# ---- item 10 (sync part): readers see no keys of tables they cannot read ------------------------
def test_reader_sees_no_keys_of_unreadable_tables(db: psycopg.Connection[Any],
                                                  cast: Cast) -> None:
    c = cast
    table = f"{c.schema}.t"
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[])")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, c.index_name))
    db.execute(f"INSERT INTO {table} VALUES (41, '{{1,0,0,0}}')")
    _as(db, c.reader)
    expect_error(db, "SELECT key FROM s3vl.sync_outbox", None, "42501")
    expect_error(db, "SELECT key FROM s3vl.sync_state", None, "42501")
    expect_error(db, "SELECT * FROM s3vl.stale_rows(%s)", (table,), "42501")
    expect_error(db, "SELECT * FROM s3vl._sync_state_rows(%s)", (table,), "42501")
    db.execute("RESET ROLE")
    db.execute(f'GRANT SELECT ON {table} TO "{c.reader}"')
    _as(db, c.reader)
    assert db.execute("SELECT key, reason, pending FROM s3vl.stale_rows(%s)",
                      (table,)).fetchall() == [("41", "never synced", True)]
