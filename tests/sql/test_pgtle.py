"""The pg_tle registration script (sql/build-pgtle.sh, `make pgtle`). pg_tle is not packaged for
this machine, so a minimal stand-in `pgtle` schema stores what the script registers (and refuses
to register a version twice, as pg_tle does); the stored bodies are then served to a real
CREATE EXTENSION / ALTER EXTENSION UPDATE as extension files of a stand-in name (`s3vl_tle`), the
way pg_tle serves them, so pg_extension_config_dump runs where it would. The result is compared
with a plain `psql -f sql/install.sql` install, catalog entry by catalog entry."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import REPO_ROOT, SQL_DIR, install, psql_file

pytestmark = pytest.mark.stack

DELIMITER = "$_pgtle_$"
STAND_IN = "s3vl_tle"  # extension name the stored bodies are served under here

FAKE_PGTLE = """
CREATE SCHEMA pgtle;
CREATE TABLE pgtle.registered (kind text, name text, version text, from_version text,
                               body text, requires text[], PRIMARY KEY (kind, name, version,
                               from_version));
CREATE FUNCTION pgtle.available_extension_versions() RETURNS TABLE (name text, version text)
LANGUAGE sql AS $$ SELECT name, version FROM pgtle.registered WHERE kind = 'version' $$;
CREATE FUNCTION pgtle.install_extension(name text, version text, description text, ext text,
                                        requires text[] DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pgtle.registered r WHERE r.kind = 'version' AND r.name = $1
             AND r.version = $2) THEN
    RAISE EXCEPTION 'version % of extension % is already installed', $2, $1;
  END IF;
  INSERT INTO pgtle.registered VALUES ('version', $1, $2, '', $4, $5);
  RETURN 'OK';
END $$;
CREATE FUNCTION pgtle.install_update_path(name text, fromvers text, tovers text, ext text)
RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO pgtle.registered VALUES ('path', $1, $3, $2, $4, NULL) RETURNING true $$;
CREATE FUNCTION pgtle.uninstall_update_path_if_exists(name text, fromvers text, tovers text)
RETURNS boolean LANGUAGE sql AS $$
  WITH d AS (DELETE FROM pgtle.registered r WHERE r.kind = 'path' AND r.name = $1
             AND r.from_version = $2 AND r.version = $3 RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM d) $$;
CREATE FUNCTION pgtle.uninstall_extension(name text, version text) RETURNS boolean
LANGUAGE sql AS $$
  DELETE FROM pgtle.registered r WHERE r.name = $1 AND r.kind IN ('version', 'path')
    AND (r.version = $2 OR r.from_version = $2) RETURNING true $$;
CREATE FUNCTION pgtle.set_default_version(name text, version text) RETURNS boolean
LANGUAGE sql AS $$
  DELETE FROM pgtle.registered r WHERE r.kind = 'default' AND r.name = $1;
  INSERT INTO pgtle.registered VALUES ('default', $1, $2, '', NULL, NULL) RETURNING true $$;
"""

# Everything install.sql creates that a caller can see or depend on.
CATALOG = {
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_function_result(p.oid), p.prokind, p.prosecdef, p.provolatile,
               p.proconfig, p.proacl::text, md5(p.prosrc),
               obj_description(p.oid, 'pg_proc')
        FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace ORDER BY 1, 2""",
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.relacl::text,
               obj_description(c.oid, 'pg_class')
        FROM pg_class c WHERE c.relnamespace = 's3vl'::regnamespace ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 's3vl'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2""",
    "constraints_triggers_indexes": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 's3vl'::regnamespace
        UNION ALL
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 's3vl'::regnamespace)
          AND NOT tgisinternal
        UNION ALL
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 's3vl'
        ORDER BY 1, 2""",
    "schema_and_roles": """
        SELECT 'schema', nspacl::text, NULL FROM pg_namespace WHERE nspname = 's3vl'
        UNION ALL
        SELECT 'member', r.rolname, m.rolname FROM pg_auth_members am
        JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
        WHERE r.rolname LIKE 's3vl\\_%' AND m.rolname LIKE 's3vl\\_%'
        ORDER BY 1, 2, 3""",
    "default_rows": """
        SELECT 'cache_limits', to_jsonb(l) - 'updated_at' FROM s3vl.cache_limits l""",
}


def catalog(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CATALOG.items()}


# What extension/dump.sql adds for extension installs only (the restore trigger and its function).
DUMP_ONLY = set(re.findall(r"(?:FUNCTION s3vl\.|TRIGGER )(\w+)",
                           (SQL_DIR / "extension" / "dump.sql").read_text()))


def without_dump_only(entries: dict[str, list[tuple[Any, ...]]]
                      ) -> tuple[dict[str, list[tuple[Any, ...]]], set[str]]:
    kept: dict[str, list[tuple[Any, ...]]] = {}
    dropped: set[str] = set()
    for part, rows in entries.items():
        kept[part] = [r for r in rows if not DUMP_ONLY & {str(x) for x in r[:2]}]
        dropped |= {str(x) for r in rows for x in r[:2]} & DUMP_ONLY
    return kept, dropped


def parts() -> list[str]:
    """The install order: the \\ir lines of install.sql (files may live in layer folders)."""
    return re.findall(r"^\\ir (.*\.sql)$", (SQL_DIR / "install.sql").read_text(), re.M)


def source_version() -> str:
    """The body of s3vl.version(), in whichever part defines it (as the build reads it)."""
    for part in parts():
        found = re.search(r"^AS \$\$ SELECT '([0-9.]+)'::text \$\$;$",
                          (SQL_DIR / part).read_text(), re.M)
        if found:
            return found.group(1)
    raise AssertionError("no part of install.sql defines s3vl.version()")


def released() -> list[str]:
    names = (p.name for p in (SQL_DIR / "extension" / "history").glob("s3vl--*.sql"))
    versions = [n.removeprefix("s3vl--").removesuffix(".sql") for n in names]
    return sorted((v for v in versions if v != source_version()),
                  key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pgtle")
    proc = subprocess.run(["bash", str(SQL_DIR / "build-pgtle.sh")], capture_output=True,
                          text=True, check=False, cwd=REPO_ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "S3VL_PGTLE_OUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    return out / "s3vl-pgtle.sql"


def bodies(text: str) -> list[str]:
    parts = text.split(DELIMITER)
    assert len(parts) % 2 == 1, "an unpaired delimiter"
    return parts[1::2]


def test_script_shape(script: Path) -> None:
    text = script.read_text()
    found = bodies(text)
    assert len(found) == 1 + len(released())
    assert all(b == found[0] for b in found)  # each update path is the whole (idempotent) body
    body = found[0]
    assert not [line for line in body.splitlines() if line.lstrip().startswith("\\")]
    assert not [line for line in text.splitlines() if line.lstrip().startswith("\\")]
    # pg_tle runs trusted languages only: every function is SQL or PL/pgSQL.
    assert set(re.findall(r"^LANGUAGE (\w+)", body, re.M | re.I)) == {"sql", "plpgsql"}
    # The dump marks are part of it, after every part of install.sql, in install.sql's order.
    assert (SQL_DIR / "extension" / "dump.sql").read_text().strip() in body
    order = parts()
    assert re.findall(r"^-- ==== (.*\.sql)$", body, re.M) == [*order, "extension/dump.sql"]
    version = source_version()
    assert f"pgtle.install_extension('s3vl', '{version}'," in text
    assert "ARRAY['aws_lambda']" in text
    for old in released():
        assert f"pgtle.install_update_path('s3vl', '{old}', '{version}'," in text
    assert f"pgtle.set_default_version('s3vl', '{version}');" in text
    # The same script build-extension.sh makes, less its psql-only first lines.
    built = subprocess.run(["bash", str(SQL_DIR / "build-extension.sh"), "build"],
                           capture_output=True, text=True, check=False, cwd=REPO_ROOT,
                           env={"PATH": "/usr/bin:/bin",
                                "S3VL_EXTENSION_OUT": str(script.parent / "ext")})
    assert built.returncode == 0, built.stderr
    ext = (script.parent / "ext" / f"s3vl--{version}.sql").read_text().splitlines()
    assert body.strip("\n").splitlines()[1:] == ext[2:]


def test_the_build_refuses_a_delimiter_or_meta_command(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    subprocess.run(["cp", "-r", str(SQL_DIR), str(sql)], check=True)
    for bad in (f"-- {DELIMITER}\n", "\\set x 1\n"):
        last = parts()[-1]  # any part: the build reads every one
        (sql / last).write_text((SQL_DIR / last).read_text() + bad)
        proc = subprocess.run(["bash", str(sql / "build-pgtle.sh")], capture_output=True,
                              text=True, check=False, env={"PATH": "/usr/bin:/bin",
                                                           "S3VL_PGTLE_OUT": str(tmp_path)})
        assert proc.returncode != 0 and "build-pgtle.sh: the SQL contains" in proc.stderr


@pytest.fixture(scope="module")
def registered(script: Path, local_stack: Any) -> Iterator[dict[str, Any]]:
    """The script run twice into a stand-in pgtle; what it registered, as served files."""
    import uuid

    name = f"s3vl_pgtle_{uuid.uuid4().hex[:8]}"
    admin = local_stack.admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = local_stack.admin_dsn(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FAKE_PGTLE)
    for _ in range(2):  # re-running replaces what it registered
        proc = psql_file(dsn, script)
        assert proc.returncode == 0, proc.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT kind, version, from_version, body, requires "
                            "FROM pgtle.registered ORDER BY 1, 2, 3").fetchall()
    yield {"rows": rows}
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_registrations_after_two_runs(registered: dict[str, Any]) -> None:
    version = source_version()
    kinds = [(k, v, f) for k, v, f, _, _ in registered["rows"]]
    assert kinds == sorted([("default", version, ""), ("version", version, "")]
                           + [("path", version, old) for old in released()])
    assert [r[4] for r in registered["rows"] if r[0] == "version"] == [["aws_lambda"]]


@pytest.fixture(scope="module")
def served(registered: dict[str, Any]) -> Iterator[str]:
    """The stored bodies as extension files (the way pg_tle serves them) under STAND_IN."""
    import shutil

    from s3vl_local import pg

    pg_config = shutil.which("pg_config") or str(pg.find_bindir() / "pg_config")
    sharedir = subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True,
                              check=True).stdout.strip()
    target = Path(sharedir) / "extension"
    version = source_version()
    files = {f"{STAND_IN}.control": (f"default_version = '{version}'\nrelocatable = false\n"
                                     "superuser = true\n")}
    for kind, to, old, body, _ in registered["rows"]:
        if kind == "version":
            files[f"{STAND_IN}--{to}.sql"] = body
        elif kind == "path":
            files[f"{STAND_IN}--{old}--{to}.sql"] = body
    for old in released():  # a database holding a released version (as its own script made it)
        files[f"{STAND_IN}--{old}.sql"] = (SQL_DIR / "extension" / "history" /
                                           f"s3vl--{old}.sql").read_text()
    for file, text in files.items():
        (target / file).write_text(text)
    yield version
    for file in files:
        (target / file).unlink(missing_ok=True)


def test_registered_body_installs_what_install_sql_installs(served: str,
                                                            fresh_database: Any) -> None:
    plain = fresh_database()
    install(plain)
    tle = fresh_database()
    with psycopg.connect(tle, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION {STAND_IN}")
        marked = conn.execute(f"SELECT array(SELECT unnest(extconfig)::regclass::text ORDER BY 1) "
                              f"FROM pg_extension WHERE extname = '{STAND_IN}'").fetchone()
        permanent = conn.execute("SELECT array(SELECT oid::regclass::text FROM pg_class WHERE "
                                 "relnamespace = 's3vl'::regnamespace AND relkind = 'r' AND "
                                 "relpersistence = 'p' ORDER BY 1)").fetchone()
    assert marked is not None and permanent is not None
    assert set(permanent[0]) <= set(marked[0]) and permanent[0]  # dump marks ran
    want = catalog(plain)
    got, extension_only = without_dump_only(catalog(tle))
    assert extension_only == DUMP_ONLY and DUMP_ONLY  # exactly what dump.sql adds
    for part in CATALOG:
        assert got[part] == want[part], part


@pytest.mark.parametrize("old", released())
def test_each_update_path_gives_a_fresh_install(served: str, fresh_database: Any,
                                                old: str) -> None:
    fresh = fresh_database()
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION {STAND_IN}")
    upgraded = fresh_database()
    with psycopg.connect(upgraded, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION {STAND_IN} VERSION '{old}'")
        conn.execute(f"ALTER EXTENSION {STAND_IN} UPDATE")
        assert conn.execute("SELECT s3vl.version()").fetchone() == (served,)
    want, got = catalog(fresh), catalog(upgraded)
    for part in CATALOG:
        assert got[part] == want[part], part
