"""install.sql / uninstall.sql / the extension build: idempotent install, upgrade in place,
clean uninstall, CREATE EXTENSION s3vl CASCADE and ALTER EXTENSION UPDATE on the local server."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from s3vl_local.stack import INDEX_DIMENSION
from sql.sql_helpers import REPO_ROOT, SQL_DIR, install, psql_file

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
        assert before[1][0][3] == INDEX_DIMENSION
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
            INDEX_DIMENSION,)


# ---- the extension ----------------------------------------------------------------------------
def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _history_versions() -> list[str]:
    """Released versions kept in sql/extension/history, oldest first (sorted as versions)."""
    names = (p.name for p in (SQL_DIR / "extension" / "history").glob("s3vl--*.sql"))
    return sorted((n.removeprefix("s3vl--").removesuffix(".sql") for n in names),
                  key=_version_key)


def test_version_is_newer_than_every_released_one() -> None:
    assert _history_versions()
    assert all(_version_key(v) < _version_key(_source_version()) for v in _history_versions())


def _source_version() -> str:
    text = (SQL_DIR / "10_core" / "00_schema.sql").read_text()
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
                            f"ARRAY[{INDEX_DIMENSION}]), 'products')").fetchone()[0] >= 0
        # Configuration rows are marked for pg_dump (every such table: see below).
        assert conn.execute("SELECT 's3vl.config'::regclass = ANY (extconfig) FROM pg_extension "
                            "WHERE extname = 's3vl'").fetchone() == (True,)
        proc = psql_file(dsn, SQL_DIR / "install.sql")
        assert proc.returncode != 0 and "ALTER EXTENSION s3vl UPDATE" in proc.stderr
        conn.execute("DROP EXTENSION s3vl")
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 's3vl'"
                            ).fetchone() == (0,)


@pytest.mark.parametrize("old", _history_versions())
def test_extension_upgrade_keeps_rows(fresh_database: Any, local_stack: Any,
                                      installed_extension: str, old: str) -> None:
    """Every released version (sql/extension/history) upgrades to the current one."""
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
        conn.execute("SELECT * FROM s3vl.query_vectors(array_fill(0.1::float8, "
                     f"ARRAY[{INDEX_DIMENSION}]), 'products')")
        conn.execute("DROP EXTENSION s3vl")


# ---- issue 16 item 5: a schema someone else created first -------------------------------------
@pytest.fixture
def squatter(fresh_database: Any, local_stack: Any) -> Any:
    """(dsn of a new database, a role with CREATE on it, as many application roles have)."""
    dsn = fresh_database()
    name = f"s3vl_squat_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
    yield dsn, name
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'DROP ROLE "{name}"')


def _squat(dsn: str, role: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'GRANT CREATE ON DATABASE "{conn.info.dbname}" TO "{role}"')
        conn.execute(f'SET ROLE "{role}"')
        conn.execute("CREATE SCHEMA s3vl")
        conn.execute("CREATE FUNCTION s3vl._config() RETURNS void LANGUAGE sql AS 'SELECT'")


def test_install_refuses_a_schema_someone_else_created(squatter: tuple[str, str],
                                                       installed_extension: str) -> None:
    dsn, role = squatter
    _squat(dsn, role)
    proc = psql_file(dsn, SQL_DIR / "install.sql")
    assert proc.returncode != 0
    assert "s3vl install: schema s3vl already exists with objects owned by another role" in (
        proc.stderr)
    assert f"schema s3vl (owner {role})" in proc.stderr
    assert f"function s3vl._config() (owner {role})" in proc.stderr
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert _objects(conn) == [("function", "s3vl._config()")]  # nothing added
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.execute("CREATE EXTENSION s3vl CASCADE")
        assert "owned by another role" in str(caught.value)


def test_install_refuses_one_foreign_object_in_its_own_schema(
        squatter: tuple[str, str]) -> None:
    dsn, role = squatter
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'ALTER FUNCTION s3vl._require(text, text, anyelement) OWNER TO "{role}"')
    proc = psql_file(dsn, SQL_DIR / "install.sql")
    assert proc.returncode != 0
    assert f"function s3vl._require(text,text,anyelement) (owner {role})" in proc.stderr
    assert "schema s3vl (owner" not in proc.stderr


# ---- issue 16 item 7: pg_dump keeps every table that holds user state -------------------------
USER_STATE_TABLES = {"s3vl.config", "s3vl.index_registry", "s3vl.cache_settings",
                     "s3vl.cache_limits", "s3vl.sync_tables", "s3vl.sync_outbox",
                     "s3vl.sync_state", "s3vl.sync_index_status"}


def _dumped(conn: psycopg.Connection[Any]) -> set[str]:
    row = conn.execute("SELECT array(SELECT unnest(extconfig)::regclass::text) FROM pg_extension "
                       "WHERE extname = 's3vl'").fetchone()
    assert row is not None
    return set(row[0])


def test_every_table_holding_user_state_is_dumped(fresh_database: Any,
                                                  installed_extension: str) -> None:
    dsn = fresh_database()
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION s3vl CASCADE")
        # From the catalog: every logged table of the schema and the sequences they own (only
        # UNLOGGED tables hold no user state), so a table a later version adds is checked too.
        logged = {r[0] for r in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = "
            "'s3vl'::regnamespace AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'")}
        owned_sequences = {r[0] for r in conn.execute(
            "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') JOIN pg_class t "
            "ON t.oid = d.refobjid WHERE s.relkind = 'S' AND t.relpersistence = 'p' "
            "AND s.relnamespace = 's3vl'::regnamespace")}
        unlogged = {r[0] for r in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = "
            "'s3vl'::regnamespace AND c.relkind = 'r' AND c.relpersistence = 'u'")}
        assert logged >= USER_STATE_TABLES
        assert {"s3vl.config_id_seq", "s3vl.index_registry_id_seq"} <= owned_sequences
        assert _dumped(conn) == logged | owned_sequences
        # The result cache, and the admission-control slots (rows to lock, refilled by
        # set_invoke_concurrency; no user state).
        assert unlogged == {"s3vl.query_cache", "s3vl.invoke_slots"}
        # An upgrade marks them too.
        conn.execute("DROP EXTENSION s3vl")
        conn.execute(f"CREATE EXTENSION s3vl VERSION '{_history_versions()[-1]}'")
        conn.execute("ALTER EXTENSION s3vl UPDATE")
        assert _dumped(conn) == logged | owned_sequences
        conn.execute("DROP EXTENSION s3vl")


def _user_state(conn: psycopg.Connection[Any], tables: set[str]) -> dict[str, list[Any]]:
    """Every row of each table (as text, ordered), without columns a restore renumbers."""
    found = {}
    for table in sorted(tables):
        if table.endswith("_seq"):
            found[table] = conn.execute(f"SELECT last_value FROM {table}").fetchall()
        else:
            found[table] = sorted(r[0] for r in conn.execute(
                f"SELECT (to_jsonb(t) - 'created_at' - 'updated_at' - 'first_enqueued_at' "
                f"- 'last_enqueued_at' - 'next_attempt_at')::text FROM {table} t"))
    return found


def _pg_tool(name: str) -> str:
    from s3vl_local import pg

    return str(pg.find_bindir() / name)


def test_dump_and_restore_keep_sync_working(fresh_database: Any, local_stack: Any,
                                            s3vectors_client: Any, installed_extension: str,
                                            tmp_path: Path) -> None:
    from sql.sync_helpers import DIMENSION, index_contents

    index_name = f"dumptest-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index_name,
                                  dataType="float32", dimension=DIMENSION,
                                  distanceMetric="euclidean")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index_name
    source, target = fresh_database(), fresh_database()
    conn: Any
    try:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION s3vl CASCADE")
            conn.execute("SELECT s3vl.configure(%s, timeout_seconds => 11)",
                         (local_stack.lambda_arn,))
            conn.execute("SELECT s3vl.register_index(%s, %s, 'kept')", (index_name, arn))
            conn.execute("SELECT s3vl.set_cache(%s, '7 minutes')", (index_name,))
            conn.execute("SELECT s3vl.set_cache_limits(123, 456789)")
            conn.execute("CREATE TABLE public.items (id integer PRIMARY KEY, embedding real[], "
                         "title text)")
            conn.execute("SELECT s3vl.track_table('public.items', 'id', 'embedding', %s, "
                         "ARRAY['title'])", (index_name,))
            conn.execute("INSERT INTO public.items SELECT g, ARRAY[g, 0, 0, 0], 't' || g "
                         "FROM generate_series(1, 5) g")
            assert conn.execute("SELECT upserted FROM s3vl.sync()").fetchone() == (5,)
            # Pending at dump time: three inserts and a delete.
            conn.execute("INSERT INTO public.items SELECT g, ARRAY[g, 1, 0, 0], 't' || g "
                         "FROM generate_series(6, 8) g")
            conn.execute("DELETE FROM public.items WHERE id = 1")
            tables = _dumped(conn)
            before = _user_state(conn, tables)
        assert len(before["s3vl.sync_outbox"]) == 4 and len(before["s3vl.sync_state"]) == 5
        dump = tmp_path / "s3vl.dump"
        proc = subprocess.run([_pg_tool("pg_dump"), "-Fc", "--exclude-schema=aws_lambda",
                               "--exclude-schema=aws_commons",
                               "-f", str(dump), "-d", source], capture_output=True, text=True,
                              check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run([_pg_tool("pg_restore"), "--exit-on-error", "-d", target,
                               str(dump)], capture_output=True, text=True, check=False,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        with psycopg.connect(target, autocommit=True) as conn:
            assert _dumped(conn) == tables
            assert _user_state(conn, tables) == before
            assert conn.execute("SELECT * FROM s3vl.sync()").fetchall() == [
                (index_name, 3, 1, 0, None)]
            conn.execute("UPDATE public.items SET title = 'changed' WHERE id = 2")
            conn.execute("INSERT INTO public.items VALUES (9, '{9,9,9,9}', 'new')")
            assert conn.execute("SELECT upserted FROM s3vl.sync()").fetchone() == (2,)
            rows = conn.execute("SELECT id::text, embedding::float8[], title FROM public.items"
                                ).fetchall()
            assert index_contents(s3vectors_client, arn) == {
                k: ([float(x) for x in v], {"title": t}) for k, v, t in rows}
            assert conn.execute("SELECT count(*) FROM s3vl.stale_rows('public.items')"
                                ).fetchone() == (0,)
    finally:
        s3vectors_client.delete_index(indexArn=arn)


def _install_released(dsn: str, version: str, tmp_path: Path) -> None:
    """A released version installed the plain way (its extension script minus the extension-only
    lines), as an install.sql of that version left it."""
    text = (SQL_DIR / "extension" / "history" / f"s3vl--{version}.sql").read_text()
    lines = [line for line in text.splitlines()
             if not line.startswith("\\echo") and "pg_extension_config_dump" not in line]
    script = tmp_path / f"s3vl-{version}.sql"
    script.write_text("\\set ON_ERROR_STOP on\nBEGIN;\n" + "\n".join(lines) + "\nCOMMIT;\n")
    proc = psql_file(dsn, script)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("how", ["extension", "install.sql"])
def test_upgrade_to_1_0_renames(how: str, fresh_database: Any, local_stack: Any,
                                s3vectors_client: Any, installed_extension: str,
                                tmp_path: Path) -> None:
    """From 0.4.0 to 1.0 (sql/CHANGELOG.md): objects kept, each function in its 1.0 form only
    (the old signatures dropped, grants restored), named calls with the new names work, the
    old names do not, and the reference sample's positional forms still run."""
    index_name = f"rename-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index_name,
                                  dataType="float32", dimension=3, distanceMetric="cosine")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index_name
    dsn = fresh_database()
    conn: Any
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if how == "extension":
                conn.execute("CREATE EXTENSION s3vl VERSION '0.4.0'")
            else:
                _install_released(dsn, "0.4.0", tmp_path)
            conn.execute("SELECT s3vl.configure(%s)", (local_stack.lambda_arn,))
            conn.execute("SELECT s3vl.register_index(index_name_param => %s, "
                         "index_arn_param => %s)", (index_name, arn))
            conn.execute("SELECT s3vl.put_vectors(%s, '[{\"key\": \"a\", \"data\": [1, 0, 0], "
                         "\"metadata\": {\"t\": \"x\"}}]')", (index_name,))
            conn.execute("SELECT s3vl.create_policy(%s, 's3vl_reader', filter => '{\"t\": \"x\"}')",
                         (index_name,))
            if how == "extension":
                conn.execute("ALTER EXTENSION s3vl UPDATE")
            else:
                install(dsn)
            assert conn.execute("SELECT s3vl.version()").fetchone() == (installed_extension,)
            forms = dict(conn.execute(
                "SELECT proname, count(*) FROM pg_proc WHERE pronamespace = 's3vl'::regnamespace"
                " AND proname IN ('put_vectors', 'delete_vectors', 'list_vectors', "
                "'register_index',"
                " 'query_vectors', 'search_text') GROUP BY 1").fetchall())
            assert forms == {"put_vectors": 1, "delete_vectors": 1, "list_vectors": 1,
                             "register_index": 1, "query_vectors": 3, "search_text": 2}
            assert conn.execute("SELECT has_function_privilege('s3vl_writer', "
                                "'s3vl.put_vectors(jsonb, text, text)', 'EXECUTE')").fetchone() == (
                True,)
            assert conn.execute("SELECT index_name, role_name, metadata_filter FROM "
                                "s3vl.list_policies()").fetchall() == [
                (index_name, "s3vl_reader", {"t": "x"})]
            # New names, named.
            conn.execute("SELECT s3vl.register_index(index_name => %s, index_arn => %s, "
                         "description => 'renamed')", (index_name, arn))
            assert conn.execute("SELECT dimension FROM s3vl.describe_index(index_name => %s)",
                                (index_name,)).fetchone() == (3,)
            assert conn.execute("SELECT s3vl.put_vectors(vectors => '[{\"key\": \"b\", "
                                "\"data\": [0, 1, 0]}]', index_name => %s)", (index_name,)
                                ).fetchone() == (1,)
            rows = conn.execute("SELECT vector_id FROM s3vl.query_vectors(query_vector => "
                                "ARRAY[1, 0, 0]::float8[], index_name => %s, top_k => 2)",
                                (index_name,)).fetchall()
            assert [r[0] for r in rows] == ["a", "b"]
            listed = conn.execute("SELECT vector_id, embedding FROM s3vl.list_vectors("
                                  "index_name => %s, return_data => true) ORDER BY 1",
                                  (index_name,)).fetchall()
            assert [r[0] for r in listed] == ["a", "b"] and listed[0][1] == [1.0, 0.0, 0.0]
            # The sample's positional forms, and the literal form PostgreSQL used to refuse.
            for query in ("SELECT vector_id FROM s3vl.query_vectors(ARRAY[1,0,0]::float8[], %s)",
                          "SELECT vector_id FROM s3vl.query_vectors(%s, ARRAY[1,0,0]::float8[], 1)",
                          "SELECT vector_id FROM s3vl.query_vectors(%s::text, '{1,0,0}', 1)"):
                assert conn.execute(query, (index_name,)).fetchone() == ("a",), query
            # Old names are gone.
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute("SELECT s3vl.register_index(index_name_param => %s, "
                             "index_arn_param => %s)", (index_name, arn))
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute("SELECT s3vl.delete_vectors(%s, ARRAY['a'])", (index_name,))
    finally:
        s3vectors_client.delete_index(indexArn=arn)


@pytest.mark.parametrize("how", ["extension", "install.sql"])
def test_upgrade_from_the_last_release_keeps_tracked_tables(
        how: str, fresh_database: Any, local_stack: Any, s3vectors_client: Any,
        installed_extension: str, tmp_path: Path) -> None:
    """0.3.0 stored SQL fragments and no tracker: the upgrade drops the fragments, keeps pending
    changes, and sync waits for track_table to be run again (docs/sync.md, upgrading)."""
    from sql.sync_helpers import DIMENSION, index_contents

    last = "0.3.0"  # the last release without sync_tables.tracked_by
    index_name = f"upgrade-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index_name,
                                  dataType="float32", dimension=DIMENSION,
                                  distanceMetric="euclidean")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index_name
    dsn = fresh_database()
    conn: Any
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if how == "extension":
                conn.execute(f"CREATE EXTENSION s3vl VERSION '{last}'")
            else:
                _install_released(dsn, last, tmp_path)
            conn.execute("SELECT s3vl.configure(%s)", (local_stack.lambda_arn,))
            conn.execute("SELECT s3vl.register_index(%s, %s)", (index_name, arn))
            conn.execute("SELECT s3vl.set_cache_limits(77, 7777)")
            conn.execute("CREATE TABLE public.items (id integer PRIMARY KEY, embedding real[])")
            conn.execute("SELECT s3vl.track_table('public.items', 'id', 'embedding', %s)",
                         (index_name,))
            conn.execute("INSERT INTO public.items VALUES (1, '{1,0,0,0}'), (2, '{0,1,0,0}')")
            if how == "extension":
                conn.execute("ALTER EXTENSION s3vl UPDATE")
            else:
                install(dsn)
            assert conn.execute("SELECT s3vl.version()").fetchone() == (installed_extension,)
            assert conn.execute("SELECT max_entries, max_bytes FROM s3vl.cache_limits"
                                ).fetchall() == [(77, 7777)]
            assert conn.execute("SELECT tracked_by FROM s3vl.sync_tables").fetchall() == [
                (None,)]
            refused = conn.execute("SELECT upserted, failed, last_error FROM s3vl.sync()"
                                   ).fetchone()
            assert refused is not None and refused[:2] == (0, 2), refused
            assert "track_table" in refused[2]
            conn.execute("INSERT INTO public.items VALUES (3, '{0,0,1,0}')")  # still captured
            conn.execute("SELECT s3vl.track_table('public.items', 'id', 'embedding', %s)",
                         (index_name,))
            assert conn.execute("SELECT upserted, failed FROM s3vl.sync(retry_now => true)"
                                ).fetchone() == (3, 0)
            assert sorted(index_contents(s3vectors_client, arn)) == ["1", "2", "3"]
            conn.execute("SELECT s3vl.untrack_table('public.items')")
    finally:
        s3vectors_client.delete_index(indexArn=arn)


def test_cache_limits_restore_trigger_spares_the_extension_script(
        fresh_database: Any, installed_extension: str) -> None:
    """A restore's copy of the one cache_limits row updates it; the script's own re-insert of the
    default (every upgrade) does not overwrite the user's limits."""
    dsn = fresh_database()
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION s3vl CASCADE")
        conn.execute("SELECT s3vl.set_cache_limits(55, 5555)")
        with conn.transaction():
            conn.execute("SELECT set_config('s3vl.extension_script', 'on', true)")
            conn.execute("INSERT INTO s3vl.cache_limits (id) VALUES (true) "
                         "ON CONFLICT (id) DO NOTHING")
        assert conn.execute("SELECT max_entries, max_bytes FROM s3vl.cache_limits").fetchall(
            ) == [(55, 5555)]
        conn.execute("INSERT INTO s3vl.cache_limits VALUES (true, 66, 6666)")  # as COPY would
        assert conn.execute("SELECT max_entries, max_bytes FROM s3vl.cache_limits").fetchall(
            ) == [(66, 6666)]
        conn.execute("DROP EXTENSION s3vl")


def test_an_upgrade_by_another_superuser_keeps_the_sync_jobs_functions_together(
        fresh_database: Any, local_stack: Any, tmp_path: Path) -> None:
    """1.1.0 drops and re-creates schedule_sync and _sync_job. Upgraded by another superuser
    than the one who installed 1.0.1, they still share unschedule_sync's owner, so the jobs
    schedule_sync files (under its owner) are the ones unschedule_sync finds."""
    dsn = fresh_database()
    other = f"s3vl_upgrader_{uuid.uuid4().hex[:6]}"
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        _install_released(dsn, "1.0.1", tmp_path)
        conn.execute(f'CREATE ROLE "{other}" LOGIN SUPERUSER')
        try:
            upgrader_dsn = psycopg.conninfo.make_conninfo(dsn, user=other)
            install(upgrader_dsn)
            owners = conn.execute(
                "SELECT p.oid::regprocedure::text, p.proowner::regrole::text FROM pg_proc p "
                "WHERE p.oid IN ('s3vl.schedule_sync(interval, integer)'::regprocedure, "
                "'s3vl.unschedule_sync()'::regprocedure, "
                "'s3vl._sync_job(interval, interval, integer)'::regprocedure)").fetchall()
            assert len(owners) == 3
            assert {owner for _, owner in owners} == {
                conn.execute("SELECT current_user").fetchone()[0]}, owners
        finally:
            conn.execute(f'REASSIGN OWNED BY "{other}" TO CURRENT_USER')
            conn.execute(f'DROP ROLE "{other}"')
