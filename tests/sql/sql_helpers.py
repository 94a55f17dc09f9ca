"""Helpers shared by the SQL tests: psql runs, error assertions, canned databases."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "sql"
CANNED_SQL = Path(__file__).with_name("canned_aws_lambda.sql")
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:s3vl-function"
CANNED_INDEX_ARN = "arn:aws:s3vectors:us-east-1:123456789012:bucket/demo-bucket/index/demo-index"


def psql_file(dsn: str, path: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one SQL file with psql as a user would (ON_ERROR_STOP, no psqlrc)."""
    from s3vl_local.stack import psql_binary

    return subprocess.run([psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                           "-f", str(path)], capture_output=True, text=True, check=False,
                          cwd=str(cwd or REPO_ROOT), timeout=120)


def install(dsn: str, cwd: Path | None = None) -> None:
    proc = psql_file(dsn, SQL_DIR / "install.sql", cwd)
    assert proc.returncode == 0, proc.stderr


def expect_error(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] | None,
                 sqlstate: str, *fragments: str) -> psycopg.Error:
    """Run query, assert it fails with sqlstate and a message containing every fragment."""
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(query, params).fetchall()
    err = caught.value
    text = " ".join(filter(None, [err.diag.message_primary, err.diag.message_detail,
                                  err.diag.message_hint]))
    assert err.sqlstate == sqlstate, f"{err.sqlstate} != {sqlstate}: {text}"
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return err


def make_canned_db(admin_dsn_factory: Any, name: str) -> str:
    """A new database with the canned aws_lambda, s3vl installed and configured; returns its DSN."""
    with psycopg.connect(admin_dsn_factory("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn: str = admin_dsn_factory(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(CANNED_SQL.read_text().encode())
        set_answer(conn, "availability_check",
                   {"success": True, "result": {"status": "available", "protocol_version": 1}})
        set_answer(conn, "get_index", {"success": True, "result": {
            "index_arn": CANNED_INDEX_ARN, "index_name": "demo-index",
            "vector_bucket_name": "demo-bucket", "dimension": 3, "distance_metric": "cosine",
            "data_type": "float32", "non_filterable_metadata_keys": ["body"],
            "creation_time": "2026-01-02T03:04:05+00:00"}})
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure(%s, timeout_seconds => 7)", (LAMBDA_ARN,))
        conn.execute("SELECT s3vl.register_index('demo', %s)", (CANNED_INDEX_ARN,))
    return dsn


def set_answer(conn: psycopg.Connection[Any], operation: str, response: Any = None, *,
               raise_sqlstate: str | None = None, raise_message: str | None = None,
               raise_detail: str | None = None) -> None:
    """What the canned function answers (or raises) for one operation ('*' = any other)."""
    from psycopg.types.json import Json

    conn.execute(
        "INSERT INTO canned.answers VALUES (%s, %s, %s, %s, %s) ON CONFLICT (operation) DO UPDATE"
        " SET response = EXCLUDED.response, raise_sqlstate = EXCLUDED.raise_sqlstate,"
        " raise_message = EXCLUDED.raise_message, raise_detail = EXCLUDED.raise_detail",
        (operation, None if response is None else Json(response), raise_sqlstate,
         raise_message, raise_detail))


def last_request(conn: psycopg.Connection[Any]) -> Any:
    row = conn.execute("SELECT request FROM canned.calls ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def call_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM canned.calls").fetchone()
    return int(row[0]) if row else 0


def sql_message(error: dict[str, Any]) -> str:
    """The function's message as SQL reports it: an operation-name prefix is replaced by the SQL
    function's name (a prefix naming the error's field stays)."""
    from s3vl_lambda.operations import OPERATIONS

    head, sep, rest = error["message"].partition(": ")
    if sep and head != error.get("field") and (
            head in OPERATIONS or head == "update_metadata_configuration"):
        return rest
    return str(error["message"])
