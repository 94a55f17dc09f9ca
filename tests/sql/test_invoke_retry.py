"""Throttled (429 TooManyRequestsException) and 5xx Lambda invocations: retried with jittered,
capped exponential backoff until the call's deadline (timeout_seconds); s3vl.config.max_attempts
(set by s3vl_admin with s3vl.set_invoke_retries) is only a safety cap, and a throttle that outlasts
the deadline or the cap is SV001 with a retry hint. Real stand-in, real HTTP: a scripted loopback
Lambda endpoint."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sql.sql_helpers import CANNED_INDEX_ARN, LAMBDA_ARN, expect_error, install

pytestmark = pytest.mark.stack

OK = (200, "", json.dumps({"success": True, "result": []}))
THROTTLED = (429, "TooManyRequestsException",
             json.dumps({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                         "Type": "User", "message": "Rate Exceeded."}))
SERVICE = (500, "ServiceException", json.dumps({"Type": "Service", "message": "boom"}))
BAD = (400, "InvalidRequestContentException",
       json.dumps({"Type": "User", "message": "Could not parse request body into json"}))


class Scripted:
    """Answers the scripted (status, error type, body) in turn, then the last one forever."""

    def __init__(self, script: list[tuple[int, str, str]]) -> None:
        self.script = script
        self.times: list[float] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.times.append(time.monotonic())
                status, kind, body = owner.script[min(len(owner.times), len(owner.script)) - 1]
                data = body.encode()
                self.send_response(status)
                if kind:
                    self.send_header("x-amzn-ErrorType", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture(scope="module")
def retry_db(local_stack: Any) -> Iterator[psycopg.Connection[Any]]:
    from s3vl_local import standin

    name = f"s3vl_retry_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = local_stack.admin_dsn(name)
    standin.install(dsn, local_stack.lambda_endpoint)
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds) "
                     "VALUES (%s, 'us-east-1', 5)", (LAMBDA_ARN,))
        yield conn
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


@pytest.fixture
def scripted(retry_db: psycopg.Connection[Any]) -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def make(*script: tuple[int, str, str]) -> Scripted:
        server = Scripted(list(script))
        servers.append(server)
        retry_db.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}"
                                 ).format(sql.Identifier(retry_db.info.dbname),
                                          sql.Literal(server.url)))
        return server

    yield make
    retry_db.execute("UPDATE s3vl.config SET timeout_seconds = 5, max_attempts = DEFAULT")
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


GET = "SELECT * FROM s3vl.get_vectors(ARRAY['a'], index_arn => %s)"


def test_throttled_then_answered_is_retried(retry_db: Any, scripted: Any) -> None:
    server = scripted(THROTTLED, THROTTLED, OK)
    rows = retry_db.execute(GET, (CANNED_INDEX_ARN,)).fetchall()
    assert rows == [("a", None, {}, False)]
    assert len(server.times) == 3


def test_5xx_then_answered_is_retried(retry_db: Any, scripted: Any) -> None:
    server = scripted(SERVICE, OK)
    assert len(retry_db.execute(GET, (CANNED_INDEX_ARN,)).fetchall()) == 1
    assert len(server.times) == 2


def test_a_throttle_that_outlasts_the_attempts_is_sv001(retry_db: Any, scripted: Any) -> None:
    server = scripted(THROTTLED)
    retry_db.execute("SELECT s3vl.set_invoke_retries(3)")
    err = expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV001", "s3vl.get_vectors",
                       "TooManyRequestsException", "3 attempts")
    assert "retry" in (err.diag.message_hint or "").lower()
    assert len(server.times) == 3
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert all(g < 2.0 for g in gaps)  # backoff starts small (jittered, capped)
    documented = retry_db.execute("SELECT retryable FROM s3vl.error_codes() WHERE sqlstate = "
                                  "'SV001'").fetchone()
    assert documented == (True,)


def test_retries_stay_inside_the_timeout(retry_db: Any, scripted: Any) -> None:
    server = scripted(THROTTLED)
    retry_db.execute("SELECT s3vl.set_invoke_retries(10)")
    retry_db.execute("UPDATE s3vl.config SET timeout_seconds = 1")
    started = time.monotonic()
    expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV001")
    assert time.monotonic() - started < 1.5
    assert 1 <= len(server.times) <= 10


def test_other_failures_are_not_retried(retry_db: Any, scripted: Any) -> None:
    server = scripted(BAD, OK)
    expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV006", "InvalidRequestContentException")
    assert len(server.times) == 1


def test_one_attempt_means_no_retry(retry_db: Any, scripted: Any) -> None:
    server = scripted(THROTTLED, OK)
    retry_db.execute("SELECT s3vl.set_invoke_retries(1)")
    expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV001", "1 attempt")
    assert len(server.times) == 1


def test_only_an_admin_sets_the_attempts(retry_db: Any) -> None:
    expect_error(retry_db, "SELECT s3vl.set_invoke_retries(0)", None, "22023", "max_attempts",
                 "between 1 and 1000")
    expect_error(retry_db, "SELECT s3vl.set_invoke_retries(1001)", None, "22023", "max_attempts")
    for group in ("s3vl_reader", "s3vl_writer"):
        retry_db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(group)))
        try:
            expect_error(retry_db, "SELECT s3vl.set_invoke_retries(10)", None, "42501")
            expect_error(retry_db, "UPDATE s3vl.config SET max_attempts = 10", None, "42501")
        finally:
            retry_db.execute("RESET ROLE")
    retry_db.execute("SET ROLE s3vl_admin")
    try:
        assert retry_db.execute("SELECT s3vl.set_invoke_retries(4)").fetchone() == (4,)
    finally:
        retry_db.execute("RESET ROLE")
    assert retry_db.execute("SELECT max_attempts FROM s3vl.config").fetchone() == (4,)


# ---- issue 19: the retry budget is the deadline, not a count ------------------------------------
def test_a_throttle_longer_than_the_old_ten_attempts_is_outlasted(retry_db: Any,
                                                                   scripted: Any) -> None:
    """Sustained contention used to fail a query after 10 attempts, far inside its timeout
    (issue 19, soak: 30 of 6,000 queries). Now the default attempts are only a safety cap."""
    retry_db.execute("UPDATE s3vl.config SET max_attempts = DEFAULT, timeout_seconds = 20")
    assert retry_db.execute("SELECT max_attempts FROM s3vl.config").fetchone() == (100,)
    server = scripted(*([THROTTLED] * 11), OK)
    rows = retry_db.execute(GET, (CANNED_INDEX_ARN,)).fetchall()
    assert rows == [("a", None, {}, False)]
    assert len(server.times) == 12
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert max(gaps) < 1.5  # full jitter under a 1 s cap (plus the round trip)


def test_a_lasting_throttle_is_retried_until_the_deadline(retry_db: Any, scripted: Any) -> None:
    """With a cap that is never reached, the call gives up only when its deadline is near."""
    retry_db.execute("SELECT s3vl.set_invoke_retries(1000)")
    retry_db.execute("UPDATE s3vl.config SET timeout_seconds = 2")
    server = scripted(THROTTLED)
    started = time.monotonic()
    expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV001", "TooManyRequestsException")
    elapsed = time.monotonic() - started
    assert elapsed >= 1.7, elapsed  # it kept trying until at most ~150 ms were left
    assert elapsed < 3.0, elapsed
    assert len(server.times) > 3


def test_an_upgrade_raises_the_old_default_once(retry_db: Any, local_stack: Any) -> None:
    """An install still at 0.4.0's default of 10 attempts gets the new cap; an explicit other
    value, or 10 set again after the upgrade, is kept by later installs."""
    from sql.sql_helpers import SQL_DIR, psql_file

    retry_db.execute("UPDATE s3vl.config SET max_attempts = 10")
    retry_db.execute("COMMENT ON COLUMN s3vl.config.max_attempts IS NULL")  # as 0.4.0 left it
    dsn = local_stack.admin_dsn(retry_db.info.dbname)
    assert psql_file(dsn, SQL_DIR / "install.sql").returncode == 0
    assert retry_db.execute("SELECT max_attempts FROM s3vl.config").fetchone() == (100,)
    retry_db.execute("SELECT s3vl.set_invoke_retries(10)")
    assert psql_file(dsn, SQL_DIR / "install.sql").returncode == 0
    assert retry_db.execute("SELECT max_attempts FROM s3vl.config").fetchone() == (10,)
    retry_db.execute("UPDATE s3vl.config SET max_attempts = DEFAULT")
