"""Faults on the path under s3vl: endpoint down, function raising, function slower than the
timeout. Each gives the Aurora-like aws_lambda error (wrapped by s3vl with its SQLSTATE), and the
session stays usable. Runs in a fresh database so the shared stack's configuration is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from e2e.lambda_endpoint_helpers import lambda_endpoint
from s3vl_local.ports import free_port
from s3vl_local.stack import StackInfo, install_s3vl_schema

TIMEOUT_SECONDS = 1


@pytest.fixture
def s3vl_db(fresh_database: Callable[[], str],
            local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    """A fresh database with s3vl installed, a 1 s timeout, and the demo index registered."""
    dsn = fresh_database()
    install_s3vl_schema(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure(%s, timeout_seconds => %s)",
                     (local_stack.lambda_arn, TIMEOUT_SECONDS))
        conn.execute("SELECT s3vl.register_index('products', %s)", (local_stack.index_arn,))
        yield conn


def point_at(conn: psycopg.Connection[Any], url: str) -> None:
    # Database level: the stand-in ignores a session's own endpoint (as Aurora's parameter).
    conn.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}").format(
        sql.Identifier(conn.info.dbname), sql.Literal(url)))


def fails(conn: psycopg.Connection[Any], query: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query)
    return info.value


def still_usable(conn: psycopg.Connection[Any], local_stack: StackInfo) -> None:
    point_at(conn, local_stack.lambda_endpoint)
    row = conn.execute("SELECT dimension FROM s3vl.describe_index('products')").fetchone()
    assert row == (512,)


def test_endpoint_down(s3vl_db: psycopg.Connection[Any], local_stack: StackInfo) -> None:
    point_at(s3vl_db, f"http://127.0.0.1:{free_port()}")
    err = fails(s3vl_db, "SELECT * FROM s3vl.describe_index('products')")
    assert "invoke API failed" in (err.diag.message_primary or "")
    assert "Unable to connect to endpoint" in (err.diag.message_detail or "")
    assert err.sqlstate == "SV006"
    still_usable(s3vl_db, local_stack)


def test_function_raising(s3vl_db: psycopg.Connection[Any], local_stack: StackInfo) -> None:
    with lambda_endpoint("e2e.fake_handlers:boom") as url:
        point_at(s3vl_db, url)
        err = fails(s3vl_db, "SELECT * FROM s3vl.describe_index('products')")
    assert "lambda invocation failed" in (err.diag.message_primary or "")
    detail = err.diag.message_detail or ""
    assert 'returned error "Unhandled"' in detail and "ValueError" in detail
    still_usable(s3vl_db, local_stack)


def test_function_slower_than_request_timeout(s3vl_db: psycopg.Connection[Any],
                                              local_stack: StackInfo) -> None:
    # The real handler behind 1.5 s of extra latency; s3vl allows 1 s (request_timeout_ms 1000).
    args = ("--latency-ms", "1500", "--s3vectors-endpoint", local_stack.s3vectors_endpoint)
    with lambda_endpoint("s3vl_lambda.handler:lambda_handler", extra_args=args) as url:
        point_at(s3vl_db, url)
        err = fails(s3vl_db, "SELECT * FROM s3vl.describe_index('products')")
    assert err.sqlstate == "SV003"
    assert "invoke API failed" in (err.diag.message_primary or "")
    assert "Timeout was reached" in (err.diag.message_detail or "")
    still_usable(s3vl_db, local_stack)
