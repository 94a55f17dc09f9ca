"""install.sql / uninstall.sql / the extension build: idempotent install, upgrade in place,
clean uninstall, CREATE EXTENSION s3vl CASCADE and ALTER EXTENSION UPDATE on the local server."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sql.helpers import REPO_ROOT, SQL_DIR, install, psql_file

pytestmark = pytest.mark.stack


def _objects(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Every object in schema s3vl as (kind, identity), for before/after comparisons."""
    return conn.execute(
        "SELECT 'function', p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = 's3vl' "
        "UNION ALL SELECT 'relation', c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 's3vl' ORDER BY 1, 2").fetchall()


def _state(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    return (conn.execute("SELECT lambda_arn, aws_region, timeout_seconds, created_at FROM "
                         "s3vl.config").fetchall(),
            conn.execute("SELECT index_name, index_arn, description, dimension, created_at "
                         "FROM s3vl.index_registry ORDER BY 1").fetchall())


def test_install_twice_from_anywhere_keeps_configuration(fresh_database: Any, local_stack: Any,
                                                         tmp_path: Path) -> None:
    dsn = fresh_database()
    install(dsn, cwd=tmp_path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure(%s, timeout_seconds => 12)", (local_stack.lambda_arn,))
        conn.execute("SELECT s3vl.register_index('products', %s, 'kept')",
                     (local_stack.index_arn,))
        before = _state(conn)
        objects = _objects(conn)
    install(dsn, cwd=Path("/"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert _state(conn) == before
        assert _objects(conn) == objects
        assert before[1][0][3] == 384
        assert conn.execute("SELECT s3vl.version()").fetchone() == (_source_version(),)


def test_install_without_aws_lambda_explains(local_stack: Any) -> None:
    name = f"s3vl_bare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        proc = psql_file(local_stack.admin_dsn(name), SQL_DIR / "install.sql")
        assert proc.returncode != 0
        assert "aws_lambda.invoke" in proc.stderr
        assert "CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE" in proc.stderr
        assert "s3vl_local.stack up" in proc.stderr
        with psycopg.connect(local_stack.admin_dsn(name), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 's3vl'"
                                ).fetchone() == (0,)
    finally:
        with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_uninstall_removes_everything_and_reinstall_works(fresh_database: Any) -> None:
    dsn = fresh_database()
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert len(_objects(conn)) > 30
    proc = psql_file(dsn, SQL_DIR / "uninstall.sql")
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 's3vl'"
                            ).fetchone() == (0,)
        assert _objects(conn) == []
        # Functions outside the schema that mention s3vl: none.
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE prosrc LIKE '%%s3vl.%%' AND "
                            "pronamespace <> 'aws_lambda'::regnamespace").fetchone() == (0,)
    install(dsn)


def test_upgrade_in_place_from_the_reference_sample_schema(fresh_database: Any,
                                                           local_stack: Any) -> None:
    dsn = fresh_database()
    proc = psql_file(dsn, Path(__file__).with_name("sample_shaped_schema.sql"))
    assert proc.returncode == 0, proc.stderr
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT lambda_arn, timeout_seconds FROM s3vl.get_config()"
                            ).fetchone() == (local_stack.lambda_arn, 45)
        assert conn.execute("SELECT index_name, description, dimension FROM s3vl.list_indexes()"
                            ).fetchall() == [("old", "from the sample", None)]
        # Only the new 8-argument list_vectors remains, and it works on the kept registry row.
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'list_vectors' AND "
                            "pronamespace = 's3vl'::regnamespace").fetchone() == (1,)
        conn.execute("SELECT * FROM s3vl.list_vectors(index_name => 'old', max_results => 1)")
        # aws-cn ARNs were refused by the sample's CHECK constraint; now accepted.
        conn.execute("INSERT INTO s3vl.index_registry (index_name, index_arn, bucket_name, "
                     "region, account_id) VALUES ('cn', 'arn:aws-cn:s3vectors:cn-north-1:"
                     "123456789012:bucket/b-1/index/i-1', 'b-1', 'cn-north-1', '123456789012')")
        conn.execute("SELECT s3vl.register_index('old', %s)", (local_stack.index_arn,))
        assert conn.execute("SELECT dimension FROM s3vl.get_index_info('old')").fetchone() == (
            384,)


# ---- the extension ----------------------------------------------------------------------------
def _source_version() -> str:
    text = (SQL_DIR / "00_schema.sql").read_text()
    version: str = text.split("AS $$ SELECT '", 1)[1].split("'", 1)[0]
    return version


@pytest.fixture(scope="module")
def installed_extension() -> str:
    """Build and install the extension files into this server's sharedir; returns the version."""
    proc = subprocess.run(["bash", str(SQL_DIR / "build-extension.sh"), "install"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return _source_version()


def test_create_extension_cascade_and_drop(fresh_database: Any, local_stack: Any,
                                           installed_extension: str) -> None:
    dsn = fresh_database()
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION s3vl CASCADE")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 's3vl'"
                            ).fetchone() == (installed_extension,)
        conn.execute("SELECT s3vl.configure(%s)", (local_stack.lambda_arn,))
        conn.execute("SELECT s3vl.register_index('products', %s)", (local_stack.index_arn,))
        assert conn.execute("SELECT count(*) FROM s3vl.query_vectors(array_fill(0.1::float8, "
                            "ARRAY[384]), 'products')").fetchone()[0] >= 0
        # Configuration rows are marked for pg_dump.
        assert conn.execute("SELECT cardinality(extconfig) FROM pg_extension WHERE extname = "
                            "'s3vl'").fetchone() == (4,)
        proc = psql_file(dsn, SQL_DIR / "install.sql")
        assert proc.returncode != 0 and "ALTER EXTENSION s3vl UPDATE" in proc.stderr
        conn.execute("DROP EXTENSION s3vl")
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 's3vl'"
                            ).fetchone() == (0,)


def test_extension_upgrade_keeps_rows(fresh_database: Any, local_stack: Any,
                                      installed_extension: str) -> None:
    history = sorted(p.name for p in (SQL_DIR / "extension" / "history").glob("s3vl--*.sql"))
    assert history, "no earlier version to upgrade from"
    old = history[0].removeprefix("s3vl--").removesuffix(".sql")
    assert old != installed_extension
    dsn = fresh_database()
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION s3vl VERSION '{old}'")
        conn.execute("SELECT s3vl.configure(%s, timeout_seconds => 9)", (local_stack.lambda_arn,))
        conn.execute("SELECT s3vl.register_index('products', %s)", (local_stack.index_arn,))
        before = _state(conn)
        conn.execute("ALTER EXTENSION s3vl UPDATE")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 's3vl'"
                            ).fetchone() == (installed_extension,)
        assert conn.execute("SELECT s3vl.version()").fetchone() == (installed_extension,)
        assert _state(conn) == before
        members = conn.execute(
            "SELECT count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid WHERE "
            "d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 's3vl') AND "
            "d.deptype = 'e'").fetchone()[0]
        in_schema = conn.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = "
                                 "'s3vl'::regnamespace").fetchone()[0]
        assert members == in_schema
        # The upgraded functions work end to end (0.1.0 sent jsonb requests, 0.2.0 json).
        assert conn.execute("SELECT is_valid FROM s3vl.validate_config()").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = '_invoke' AND "
                            "pronamespace = 's3vl'::regnamespace").fetchone() == (1,)
        conn.execute("SELECT * FROM s3vl.query_vectors(array_fill(0.1::float8, ARRAY[384]), "
                     "'products')")
        conn.execute("DROP EXTENSION s3vl")
