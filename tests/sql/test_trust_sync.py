"""Issue 19 items 2 and 3, and sync_status's last_error: a tracked table is locked and checked
again before every read (still an ordinary table without rules, owned by the role that owned it
when it was tracked, tracked columns of built-in types), sync reads with row_security = off (a
row-level security policy never runs as the s3vl owner: reproduced with a NOSUPERUSER NOBYPASSRLS
owner, as on Aurora), and an old error stops showing once its keys synced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sql.sql_helpers import LAMBDA_ARN, expect_error, install
from sql.sync_helpers import index_contents
from sql.test_security_sync import Cast, _as, cast  # noqa: F401

pytestmark = pytest.mark.stack


def _evil(db: psycopg.Connection[Any], c: Cast) -> None:
    """As the current role: evil() logs who runs it (current_user) and returns true."""
    db.execute(f"CREATE FUNCTION {c.schema}.evil() RETURNS boolean LANGUAGE plpgsql AS $f$ "
               f"BEGIN INSERT INTO {c.schema}.calls VALUES (current_user); RETURN true; END $f$")


def _tracked(db: psycopg.Connection[Any], c: Cast, name: str = "t") -> str:
    """As the admin: a table it owns, tracked, with two rows pending."""
    table = f"{c.schema}.{name}"
    _as(db, c.admin)
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[])")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, c.index_name))
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}'), (2, '{{0,1,0,0}}')")
    return table


def _turn_into_a_view(db: psycopg.Connection[Any], c: Cast, table: str) -> None:
    """PostgreSQL 15: the owner empties the table, drops its triggers and key, and adds an
    ON SELECT rule: the relation becomes a view running evil()."""
    _evil(db, c)
    db.execute(f"DELETE FROM {table}")
    for op in ("insert", "update", "delete"):
        db.execute(f"DROP TRIGGER s3vl_sync_{op} ON {table}")
    db.execute(f"ALTER TABLE {table} DROP CONSTRAINT t_pkey")
    db.execute(f"VACUUM {table}")  # clears relhastriggers
    db.execute(f'CREATE RULE "_RETURN" AS ON SELECT TO {table} DO INSTEAD '
               f"SELECT 1::integer AS id, '{{1,0,0,0}}'::real[] AS embedding "
               f"WHERE {c.schema}.evil()")
    assert db.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                      (table,)).fetchone() == ("v",)


# ---- item 2 -------------------------------------------------------------------------------------
def test_a_table_turned_into_a_view_is_not_read_by_sync(db: psycopg.Connection[Any],
                                                        cast: Cast,  # noqa: F811
                                                        s3vectors_client: Any) -> None:
    c = cast
    table = _tracked(db, c)
    _turn_into_a_view(db, c, table)
    _as(db, c.writer)
    row = db.execute("SELECT upserted, deleted, failed, last_error FROM s3vl.sync(%s)",
                     (c.index_name,)).fetchone()
    assert row is not None and row[:3] == (0, 0, 2), row
    assert "42809" in row[3] and "no longer an ordinary table" in row[3], row
    assert c.log(db) == []
    assert index_contents(s3vectors_client, c.index_arn) == {}


@pytest.mark.parametrize("call", [
    "SELECT s3vl.backfill(%(t)s)",
    "SELECT * FROM s3vl.stale_rows(%(t)s)",
    "SELECT * FROM s3vl.query_table(ARRAY[1,0,0,0]::float8[], %(t)s, 'id')",
])
def test_a_table_turned_into_a_view_is_not_read_by_any_path(db: psycopg.Connection[Any],
                                                            cast: Cast,  # noqa: F811
                                                            call: str) -> None:
    c = cast
    table = _tracked(db, c)
    _turn_into_a_view(db, c, table)
    expect_error(db, call, {"t": table}, "42809", "no longer an ordinary table")
    assert c.log(db) == []


def test_a_rule_added_after_tracking_stops_sync(db: psycopg.Connection[Any],
                                                cast: Cast) -> None:  # noqa: F811
    c = cast
    table = _tracked(db, c)
    _evil(db, c)
    db.execute(f"CREATE RULE also AS ON UPDATE TO {table} DO ALSO SELECT {c.schema}.evil()")
    _as(db, c.writer)
    row = db.execute("SELECT failed, last_error FROM s3vl.sync(%s)", (c.index_name,)).fetchone()
    assert row is not None and row[0] == 2 and "has rules" in row[1], row
    # The capture trigger refuses too: a write to the table fails rather than run on.
    _as(db, c.admin)
    expect_error(db, f"INSERT INTO {table} VALUES (3, '{{0,0,1,0}}')", None, "42809", "rules")


def test_a_table_that_changed_hands_stops_sync(db: psycopg.Connection[Any],
                                               cast: Cast) -> None:  # noqa: F811
    c = cast
    table = _tracked(db, c)
    db.execute("RESET ROLE")
    db.execute(f'ALTER TABLE {table} OWNER TO "{c.victim}"')
    db.execute(f'GRANT TRIGGER, SELECT ON {table} TO "{c.admin}"')  # the tracker still reads it
    _as(db, c.writer)
    row = db.execute("SELECT failed, last_error FROM s3vl.sync(%s)", (c.index_name,)).fetchone()
    assert row is not None and row[0] == 2 and "42501" in row[1] and c.victim in row[1], row
    db.execute("RESET ROLE")
    expect_error(db, "SELECT s3vl.backfill(%s)", (table,), "42501", "owned by", c.victim)
    # Tracking it again (here by a superuser) records the new owner; sync resumes.
    db.execute("RESET ROLE")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, c.index_name))
    _as(db, c.writer)
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s, retry_now => true)",
                      (c.index_name,)).fetchone() == (2, 0)


def test_a_partition_that_is_a_foreign_kind_is_refused(db: psycopg.Connection[Any],
                                                       cast: Cast) -> None:  # noqa: F811
    """Every partition is checked: a partition that is not an ordinary table is refused at
    track_table (here a partitioned table whose partition has a rule added later)."""
    c = cast
    _as(db, c.admin)
    table = f"{c.schema}.p"
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding real[]) "
               "PARTITION BY RANGE (id)")
    db.execute(f"CREATE TABLE {c.schema}.p1 PARTITION OF {table} FOR VALUES FROM (0) TO (100)")
    db.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s)", (table, c.index_name))
    db.execute(f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}')")
    _evil(db, c)
    db.execute(f"CREATE RULE also AS ON UPDATE TO {c.schema}.p1 DO ALSO SELECT {c.schema}.evil()")
    expect_error(db, "SELECT s3vl.backfill(%s)", (table,), "42809", "p1 has rules")
    db.execute(f"DROP RULE also ON {c.schema}.p1")
    assert db.execute("SELECT s3vl.backfill(%s)", (table,)).fetchone() == (1,)


# ---- item 3: row-level security never runs as the s3vl owner ------------------------------------
@pytest.fixture
def aurora_like(local_stack: Any, fresh_database: Any, s3vectors_client: Any
                ) -> Iterator[dict[str, Any]]:
    """A database where s3vl is installed by a NOSUPERUSER NOBYPASSRLS role (as Aurora's master
    user), with an admin that owns a table it tracks, a writer, and a registered index."""
    from s3vl_local.stack import index_arn

    suffix = uuid.uuid4().hex[:8]
    roles = {k: f"s3vl_aur_{k}_{suffix}" for k in ("owner", "admin", "writer")}
    admin_dsn = fresh_database()
    with psycopg.connect(admin_dsn, autocommit=True) as su:
        su.execute(f'CREATE ROLE "{roles["owner"]}" LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE')
        su.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
            sql.Identifier(su.info.dbname), sql.Identifier(roles["owner"])))
        su.execute(f'GRANT USAGE ON SCHEMA aws_lambda TO "{roles["owner"]}"')
        su.execute(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO "{roles["owner"]}"')
        su.execute(f'CREATE ROLE "{roles["admin"]}" LOGIN IN ROLE s3vl_admin')
        su.execute(f'CREATE ROLE "{roles["writer"]}" LOGIN IN ROLE s3vl_writer')
        su.execute("CREATE SCHEMA app")
        su.execute("GRANT USAGE, CREATE ON SCHEMA app TO PUBLIC")
        su.execute("CREATE TABLE app.calls (who text)")
        su.execute("GRANT INSERT, SELECT ON app.calls TO PUBLIC")
    owner_dsn = psycopg.conninfo.make_conninfo(admin_dsn, user=roles["owner"])
    install(owner_dsn)
    index = f"aur-{suffix}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index,
                                  dataType="float32", dimension=4, distanceMetric="euclidean")
    arn = index_arn(index=index)
    with psycopg.connect(owner_dsn, autocommit=True) as owner:
        assert owner.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles "
                             "WHERE rolname = current_user").fetchone() == (False,)
        owner.execute("INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds) "
                      "VALUES (%s, %s, 30)", (LAMBDA_ARN, local_stack.region))
        owner.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
    try:
        yield {"dsn": admin_dsn, "roles": roles, "index": index, "arn": arn}
    finally:
        s3vectors_client.delete_index(indexArn=arn)
        with psycopg.connect(admin_dsn, autocommit=True) as su:
            su.execute("DROP SCHEMA app CASCADE")
            su.execute("DROP SCHEMA s3vl CASCADE")
            for name in roles.values():
                su.execute(f'DROP OWNED BY "{name}"')
        with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as su:
            su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(psycopg.conninfo.conninfo_to_dict(admin_dsn)["dbname"])))
            for name in roles.values():
                su.execute(f'DROP ROLE "{name}"')


def test_a_policy_on_a_tracked_table_never_runs_as_the_owner(aurora_like: dict[str, Any],
                                                             s3vectors_client: Any) -> None:
    a = aurora_like
    roles = a["roles"]
    with psycopg.connect(a["dsn"], autocommit=True) as db:
        db.execute(f'SET ROLE "{roles["admin"]}"')
        db.execute("CREATE FUNCTION app.evil() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
                   "INSERT INTO app.calls VALUES (current_user); RETURN true; END $f$")
        db.execute("CREATE TABLE app.t (id integer PRIMARY KEY, embedding real[])")
        db.execute("ALTER TABLE app.t ENABLE ROW LEVEL SECURITY")
        db.execute("CREATE POLICY p ON app.t USING (app.evil())")
        # Row-level security switched on after tracking (track_table now refuses it up front,
        # see the next test): every sync checks again.
        db.execute("ALTER TABLE app.t DISABLE ROW LEVEL SECURITY")
        db.execute("SELECT s3vl.track_table('app.t', 'id', 'embedding', %s)", (a["index"],))
        db.execute("ALTER TABLE app.t ENABLE ROW LEVEL SECURITY")
        db.execute("INSERT INTO app.t VALUES (1, '{1,0,0,0}')")
        db.execute(f'GRANT SELECT ON app.t TO "{roles["owner"]}"')  # as deploy.md says
        db.execute(f'SET ROLE "{roles["writer"]}"')
        row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                         (a["index"],)).fetchone()
        assert row is not None and row[:2] == (0, 1), row
        assert "42501" in row[2] and "row-level security" in row[2], row
        db.execute(f'SET ROLE "{roles["admin"]}"')
        expect_error(db, "SELECT s3vl.backfill('app.t')", None, "42501", "row-level security")
        db.execute("RESET ROLE")
        assert db.execute("SELECT who FROM app.calls WHERE who = %s",
                          (roles["owner"],)).fetchall() == []
        assert index_contents(s3vectors_client, a["arn"]) == {}
        # Without row-level security the same table syncs.
        db.execute("ALTER TABLE app.t DISABLE ROW LEVEL SECURITY")
        db.execute(f'SET ROLE "{roles["writer"]}"')
        assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s, retry_now => true)",
                          (a["index"],)).fetchone() == (1, 0)


def test_track_table_refuses_a_policy_that_would_apply_to_the_owner(
        aurora_like: dict[str, Any]) -> None:
    """The tracker owns the table (not FORCE), which 0.4.0 accepted; sync could only ever read
    it by running its policy as the s3vl owner, so track_table refuses it now."""
    a = aurora_like
    with psycopg.connect(a["dsn"], autocommit=True) as db:
        db.execute(f'SET ROLE "{a["roles"]["admin"]}"')
        db.execute("CREATE TABLE app.t (id integer PRIMARY KEY, embedding real[])")
        db.execute("ALTER TABLE app.t ENABLE ROW LEVEL SECURITY")
        expect_error(db, "SELECT s3vl.track_table('app.t', 'id', 'embedding', %s)",
                     (a["index"],), "42501", "row-level security", "s3vl owner")
        db.execute("RESET ROLE")
        assert db.execute("SELECT count(*) FROM s3vl.sync_tables").fetchone() == (0,)


# ---- sync_status: an old error clears --------------------------------------------------------
def test_last_error_clears_once_its_keys_synced(db: psycopg.Connection[Any],
                                               cast: Cast) -> None:  # noqa: F811
    c = cast
    table = _tracked(db, c)
    db.execute("RESET ROLE")
    db.execute(f'ALTER TABLE {table} OWNER TO "{c.victim}"')  # any refusal will do
    db.execute(f'GRANT SELECT ON {table} TO "{c.admin}"')
    db.execute("SELECT * FROM s3vl.sync(%s)", (c.index_name,))
    status = db.execute("SELECT last_error, last_error_at, failed FROM s3vl.sync_status() "
                        "WHERE index_name = %s", (c.index_name,)).fetchone()
    assert status is not None and "owned by" in status[0] and status[1] is not None, status
    assert status[2] == 2
    db.execute(f'ALTER TABLE {table} OWNER TO "{c.admin}"')
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s, retry_now => true)",
                      (c.index_name,)).fetchone() == (2, 0)
    # A later run with nothing pending: still no error shown.
    db.execute("SELECT * FROM s3vl.sync(%s)", (c.index_name,))
    status = db.execute("SELECT pending, failed, last_error, last_error_at, last_success "
                        "FROM s3vl.sync_status() WHERE index_name = %s",
                        (c.index_name,)).fetchone()
    assert status is not None and status[:4] == (0, 0, None, None), status
    assert status[4] is not None
    assert db.execute("SELECT last_error FROM s3vl.sync_index_status WHERE index_name = %s",
                      (c.index_name,)).fetchone() == (None,)
