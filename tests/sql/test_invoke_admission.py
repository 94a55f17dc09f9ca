"""Admission control (issue 19): with s3vl.set_invoke_concurrency(N) at most N invocations of the
database are in flight at once; the others wait in the database (until their deadline) instead
of being throttled. A slot is held for one invocation only: a session that leaves its
transaction open holds none, and no role but the owner can lock a slot."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sql.sql_helpers import CANNED_INDEX_ARN, expect_error
from sql.test_invoke_retry import GET, retry_db  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack


class Slow:
    """Answers every invocation after `delay` seconds and records how many ran at once."""

    def __init__(self, delay: float) -> None:
        self.running = 0
        self.most = 0
        self.calls = 0
        lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    owner.running += 1
                    owner.calls += 1
                    owner.most = max(owner.most, owner.running)
                time.sleep(delay)
                with lock:
                    owner.running -= 1
                data = json.dumps({"success": True, "result": []}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def slow(retry_db: psycopg.Connection[Any]) -> Iterator[Slow]:  # noqa: F811
    server = Slow(0.3)
    retry_db.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}").format(
        sql.Identifier(retry_db.info.dbname),
        sql.Literal(f"http://127.0.0.1:{server.server.server_port}")))
    yield server
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(NULL)")
    server.server.shutdown()
    server.server.server_close()


def _run_sessions(dsn: str, count: int) -> list[str]:
    errors: list[str] = []
    start = threading.Barrier(count)

    def one() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            start.wait()
            try:
                conn.execute(GET, (CANNED_INDEX_ARN,)).fetchall()
            except psycopg.Error as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return errors


def test_at_most_n_invocations_run_at_once(retry_db: Any, slow: Slow,  # noqa: F811
                                           local_stack: Any) -> None:
    dsn = local_stack.admin_dsn(retry_db.info.dbname)
    assert retry_db.execute("SELECT s3vl.set_invoke_concurrency(2)").fetchone() == (2,)
    assert _run_sessions(dsn, 6) == []
    assert slow.calls == 6 and slow.most == 2
    # Off again: all six at once.
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(0)")
    slow.most = 0
    assert _run_sessions(dsn, 6) == []
    assert slow.most == 6


def test_an_open_transaction_holds_no_slot(retry_db: Any, slow: Slow,  # noqa: F811
                                           local_stack: Any) -> None:
    dsn = local_stack.admin_dsn(retry_db.info.dbname)
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(1)")
    with psycopg.connect(dsn) as holder:
        holder.execute("SET ROLE s3vl_reader")
        holder.execute(GET, (CANNED_INDEX_ARN,)).fetchall()  # transaction left open
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SET statement_timeout = '5s'")
            assert len(other.execute(GET, (CANNED_INDEX_ARN,)).fetchall()) == 1
        holder.rollback()


def test_no_role_but_the_owner_touches_the_slots(retry_db: Any) -> None:  # noqa: F811
    for group in ("s3vl_reader", "s3vl_writer", "s3vl_admin"):
        retry_db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(group)))
        try:
            expect_error(retry_db, "SELECT * FROM s3vl.invoke_slots FOR UPDATE", None, "42501")
            if group != "s3vl_admin":
                expect_error(retry_db, "SELECT s3vl.set_invoke_concurrency(1)", None, "42501")
        finally:
            retry_db.execute("RESET ROLE")
    expect_error(retry_db, "SELECT s3vl.set_invoke_concurrency(1001)", None, "22023",
                 "max_concurrent", "1000")
    expect_error(retry_db, "SELECT s3vl.set_invoke_concurrency(-1)", None, "22023")


def test_a_full_house_until_the_deadline_is_sv001(retry_db: Any, slow: Slow,  # noqa: F811
                                                  local_stack: Any) -> None:
    dsn = local_stack.admin_dsn(retry_db.info.dbname)
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(1)")
    retry_db.execute("UPDATE s3vl.config SET timeout_seconds = 1")
    try:
        # The owner's session holds the only slot (as an invocation in flight would).
        with psycopg.connect(dsn) as in_flight:
            in_flight.execute("SELECT 1 FROM s3vl.invoke_slots WHERE slot = 1 FOR UPDATE")
            expect_error(retry_db, GET, [CANNED_INDEX_ARN], "SV001", "no invocation slot")
            in_flight.rollback()
    finally:
        retry_db.execute("UPDATE s3vl.config SET timeout_seconds = 5")


def test_slots_emptied_by_a_crash_fail_open_and_are_refilled(retry_db: Any, slow: Slow,  # noqa: F811
                                                            local_stack: Any) -> None:
    """The slots table is UNLOGGED (a crash empties it): with no rows, calls go through (no
    admission control) rather than wait for a slot that cannot exist; setting the bound again
    refills it."""
    dsn = local_stack.admin_dsn(retry_db.info.dbname)
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(2)")
    retry_db.execute("TRUNCATE s3vl.invoke_slots")  # what crash recovery does to it
    assert _run_sessions(dsn, 4) == []
    assert slow.most == 4
    retry_db.execute("SELECT s3vl.set_invoke_concurrency(2)")
    assert retry_db.execute("SELECT count(*) FROM s3vl.invoke_slots").fetchone() == (1000,)
    slow.most = 0
    assert _run_sessions(dsn, 4) == []
    assert slow.most == 2
