"""The aws_lambda stand-in in a real PostgreSQL, calling real Lambda endpoint processes."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from e2e.fake_forging_endpoint import FORGED_ROW, forging_server
from e2e.lambda_endpoint_helpers import lambda_endpoint
from s3vl_local import standin
from s3vl_local.ports import free_port
from s3vl_local.stack import StackInfo

ARN = "arn:aws:lambda:us-east-1:123456789012:function:s3vl-function"


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with lambda_endpoint("e2e.fake_handlers:echo", timeout_seconds=10) as url:
        yield url


@pytest.fixture(scope="module")
def boom_url() -> Iterator[str]:
    with lambda_endpoint("e2e.fake_handlers:boom") as url:
        yield url


@pytest.fixture(scope="module")
def db(local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    """A database of this module's own with the stand-in (its endpoint is changed per test)."""
    name = f"s3vl_standin_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    standin.install(local_stack.admin_dsn(name), local_stack.lambda_endpoint)
    with psycopg.connect(local_stack.admin_dsn(name), autocommit=True) as conn:
        yield conn
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def use_endpoint(conn: psycopg.Connection[Any], url: str) -> None:
    """Points the database at url, as Aurora's static parameter would (a session SET is ignored)."""
    conn.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}").format(
        sql.Identifier(conn.info.dbname), sql.Literal(url)))


def test_four_overloads_match_aurora(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'aws_lambda' AND p.proname = 'invoke' ORDER BY 1").fetchall()
    assert len(rows) == 4
    signatures = {args: result for args, result in rows}
    for name_type in ("text", "aws_commons._lambda_function_arn_1"):
        for json_type in ("json", "jsonb"):
            region = "region text, " if name_type == "text" else ""
            expected = (f"function_name {name_type}, payload {json_type}, {region}"
                        f"invocation_type text, log_type text, context {json_type}, "
                        f"qualifier character varying, OUT status_code integer, "
                        f"OUT payload {json_type}, OUT executed_version text, "
                        f"OUT log_result text")
            assert expected in signatures, f"missing overload: {expected}"
    arn_type = db.execute(
        "SELECT pg_get_function_result('aws_commons.create_lambda_function_arn(text, text)'"
        "::regprocedure)").fetchone()
    assert arn_type == ("aws_commons._lambda_function_arn_1",)


@pytest.mark.parametrize(("call", "payload_type"), [
    ("aws_lambda.invoke(%(fn)s, %(p)s::json)", "json"),
    ("aws_lambda.invoke(%(fn)s, %(p)s::jsonb)", "jsonb"),
    ("aws_lambda.invoke(aws_commons.create_lambda_function_arn(%(fn)s, 'us-east-1'), %(p)s::json)",
     "json"),
    ("aws_lambda.invoke(aws_commons.create_lambda_function_arn(%(fn)s), %(p)s::jsonb)", "jsonb"),
])
def test_each_overload_round_trips(db: psycopg.Connection[Any], echo_url: str, call: str,
                                   payload_type: str) -> None:
    use_endpoint(db, echo_url)
    row = db.execute(
        f"SELECT status_code, payload, pg_typeof(payload)::text, executed_version, log_result "
        f"FROM {call}", {"fn": ARN, "p": json.dumps({"marker": payload_type})}).fetchone()
    assert row is not None
    status, payload, typ, version, log_result = row
    assert (status, typ, version, log_result) == (200, payload_type, "$LATEST", None)
    assert payload["event"] == {"marker": payload_type}


def test_tail_log_context_and_qualifier(db: psycopg.Connection[Any], echo_url: str) -> None:
    use_endpoint(db, echo_url)
    row = db.execute(
        "SELECT payload, log_result FROM aws_lambda.invoke('s3vl-function', "
        "'{\"marker\": \"tail1\"}'::jsonb, log_type => 'Tail', "
        "context => '{\"custom\": {\"who\": \"sql\"}}'::jsonb, qualifier => '$LATEST')"
    ).fetchone()
    assert row is not None
    payload, log_result = row
    assert payload["custom"] == {"who": "sql"}
    log = base64.b64decode(log_result).decode()
    assert "echo marker=tail1" in log and payload["request_id"] in log


def test_event_and_dry_run(db: psycopg.Connection[Any], echo_url: str) -> None:
    use_endpoint(db, echo_url)
    event = db.execute("SELECT status_code, payload FROM aws_lambda.invoke('s3vl-function', "
                       "'{}'::json, invocation_type => 'Event')").fetchone()
    dry = db.execute("SELECT status_code, payload FROM aws_lambda.invoke('s3vl-function', "
                     "'{}'::json, invocation_type => 'DryRun')").fetchone()
    assert event == (202, None)
    assert dry == (204, None)


def expect_error(conn: psycopg.Connection[Any], query: str,
                 params: dict[str, Any] | None = None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query, params)
    # The session stays usable after the error.
    assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    return info.value


def test_function_raising_gives_lambda_invocation_failed(db: psycopg.Connection[Any],
                                                         boom_url: str) -> None:
    use_endpoint(db, boom_url)
    err = expect_error(db, f"SELECT * FROM aws_lambda.invoke('{ARN}', "
                           "'{\"why\": \"bad disk\"}'::json)")
    assert err.diag.message_primary == "lambda invocation failed"
    detail = err.diag.message_detail or ""
    assert detail.startswith(f'"{ARN}" returned error "Unhandled", details: ')
    assert "boom: bad disk" in detail and "ValueError" in detail


def test_endpoint_down_gives_invoke_api_failed(db: psycopg.Connection[Any]) -> None:
    use_endpoint(db, f"http://127.0.0.1:{free_port()}")
    err = expect_error(db, "SELECT * FROM aws_lambda.invoke('s3vl-function', '{}'::json)")
    assert err.diag.message_primary == "invoke API failed"
    assert err.diag.message_detail == "AWS Lambda client returned 'Unable to connect to endpoint'."


def test_slower_than_request_timeout(db: psycopg.Connection[Any], echo_url: str) -> None:
    use_endpoint(db, echo_url)
    db.execute("SET aws_lambda.request_timeout_ms = 300")
    started = time.monotonic()
    err = expect_error(db, "SELECT * FROM aws_lambda.invoke('s3vl-function', "
                           "'{\"sleep_s\": 3}'::json)")
    # The call gave up at the timeout, well before the 3 s function finished.
    assert time.monotonic() - started < 2.5
    assert err.diag.message_primary == "invoke API failed"
    assert "Timeout was reached" in (err.diag.message_detail or "")
    db.execute("RESET aws_lambda.request_timeout_ms")
    ok = db.execute("SELECT status_code FROM aws_lambda.invoke('s3vl-function', "
                    "'{\"sleep_s\": 0.5}'::json)").fetchone()
    assert ok == (200,)  # 0.5 s fits the 3000 ms default


@pytest.mark.parametrize("value", ["0", "900001", "soon"])
def test_bad_timeout_settings_name_the_parameter(db: psycopg.Connection[Any], echo_url: str,
                                                 value: str) -> None:
    use_endpoint(db, echo_url)
    for guc in ("aws_lambda.connect_timeout_ms", "aws_lambda.request_timeout_ms"):
        db.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*guc.split(".")),
                                                 sql.Literal(value)))
        err = expect_error(db, "SELECT * FROM aws_lambda.invoke('s3vl-function', '{}'::json)")
        assert err.sqlstate == "22023"
        assert guc in (err.diag.message_primary or "")
        assert "between 1 and 900000" in (err.diag.message_hint or "")
        db.execute(sql.SQL("RESET {}").format(sql.Identifier(*guc.split("."))))


def test_unknown_function_and_region_conflict(db: psycopg.Connection[Any], echo_url: str) -> None:
    use_endpoint(db, echo_url)
    err = expect_error(db, "SELECT * FROM aws_lambda.invoke('no-such-function', '{}'::json)")
    assert err.diag.message_primary == "invoke API failed"
    assert "ResourceNotFoundException" in (err.diag.message_detail or "")
    err = expect_error(db, f"SELECT * FROM aws_lambda.invoke('{ARN}', '{{}}'::json, "
                           "region => 'eu-west-1')")
    assert "conflicts with the region" in (err.diag.message_detail or "")


def test_only_granted_roles_may_invoke(fresh_database: Any, local_stack: StackInfo) -> None:
    dsn = fresh_database()
    role = "s3vl_e2e_app_user"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    user_dsn = psycopg.conninfo.make_conninfo(dsn, user=role)
    call = ("SELECT status_code FROM aws_lambda.invoke(%s, "
            "'{\"operation\": \"availability_check\"}'::jsonb)")

    def grant(statement: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL(statement).format(sql.Identifier(role)))

    try:
        with psycopg.connect(user_dsn, autocommit=True) as user, pytest.raises(
                psycopg.errors.InsufficientPrivilege,
                match="permission denied for schema aws_lambda"):
            user.execute(call, (local_stack.lambda_arn,))
        grant("GRANT USAGE ON SCHEMA aws_lambda TO {}")
        with psycopg.connect(user_dsn, autocommit=True) as user, pytest.raises(
                psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            user.execute(call, (local_stack.lambda_arn,))
        grant("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO {}")
        with psycopg.connect(user_dsn, autocommit=True) as user:
            assert user.execute(call, (local_stack.lambda_arn,)).fetchone() == (200,)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_install_is_idempotent_and_refuses_a_foreign_schema(fresh_database: Any,
                                                           local_stack: StackInfo) -> None:
    dsn = fresh_database()
    standin.install(dsn, local_stack.lambda_endpoint)  # second install: no error
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'invoke' AND "
                            "pronamespace = 'aws_lambda'::regnamespace").fetchone() == (4,)
        conn.execute("DROP SCHEMA aws_lambda CASCADE")
        conn.execute("CREATE SCHEMA aws_lambda")
    with pytest.raises(psycopg.errors.DuplicateSchema, match="not created by the s3vl"):
        standin.install(dsn, local_stack.lambda_endpoint)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Refused before changing anything: the foreign schema is still empty.
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE "
                            "pronamespace = 'aws_lambda'::regnamespace").fetchone() == (0,)


def test_endpoint_guc_is_set_per_database(fresh_database: Any, local_stack: StackInfo) -> None:
    dsn = fresh_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('aws_lambda.endpoint_override')").fetchone()
        assert row == (local_stack.lambda_endpoint,)
        payload = conn.execute(
            "SELECT payload FROM aws_lambda.invoke(%s, "
            "'{\"operation\": \"availability_check\"}'::jsonb)",
            (local_stack.lambda_arn,)).fetchone()
    assert payload is not None and payload[0]["success"] is True


def test_a_session_cannot_redirect_the_endpoint(fresh_database: Any,
                                               local_stack: StackInfo) -> None:
    """Connection options, SET and set_config never move the endpoint: only the database-level
    (ALTER DATABASE) or server-level value counts, as Aurora's static parameter."""
    dsn = fresh_database()
    role = f"s3vl_e2e_{uuid.uuid4().hex[:8]}"
    call = ("SELECT payload FROM aws_lambda.invoke(%s, "
            "'{\"operation\": \"availability_check\"}'::jsonb)")
    with forging_server() as forger, psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            admin.execute(sql.SQL("GRANT USAGE ON SCHEMA aws_lambda TO {}; GRANT EXECUTE ON ALL "
                                  "FUNCTIONS IN SCHEMA aws_lambda TO {}").format(
                sql.Identifier(role), sql.Identifier(role)))
            user_dsn = psycopg.conninfo.make_conninfo(dsn, user=role)
            with psycopg.connect(user_dsn, autocommit=True,
                                 options=f"-c aws_lambda.endpoint_override={forger.url}") as user:
                answers = [user.execute(call, (local_stack.lambda_arn,)).fetchone()]
                user.execute(sql.SQL("SET aws_lambda.endpoint_override = {}").format(
                    sql.Literal(forger.url)))
                answers.append(user.execute(call, (local_stack.lambda_arn,)).fetchone())
                with user.transaction():
                    user.execute("SELECT set_config('aws_lambda.endpoint_override', %s, true)",
                                 (forger.url,))
                    answers.append(user.execute(call, (local_stack.lambda_arn,)).fetchone())
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert forger.requests == 0
    for row in answers:
        assert row is not None and row[0]["success"] is True
        assert row[0]["result"] != [FORGED_ROW]


def test_server_level_endpoint_counts_when_the_database_has_none(fresh_database: Any,
                                                                 local_stack: StackInfo) -> None:
    dsn = fresh_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RESET aws_lambda.endpoint_override").format(
            sql.Identifier(conn.info.dbname)))
        conn.execute(sql.SQL("SET aws_lambda.endpoint_override = {}").format(
            sql.Literal(local_stack.lambda_endpoint)))
        err = expect_error(conn, "SELECT * FROM aws_lambda.invoke('s3vl-function', '{}'::json)")
        assert "database or server level" in (err.diag.message_detail or "")
        conn.execute(sql.SQL("ALTER SYSTEM SET aws_lambda.endpoint_override = {}").format(
            sql.Literal(local_stack.lambda_endpoint)))
        try:
            row = conn.execute("SELECT status_code FROM aws_lambda.invoke('s3vl-function', "
                               "'{\"operation\": \"availability_check\"}'::json)").fetchone()
            assert row == (200,)
        finally:
            conn.execute("ALTER SYSTEM RESET aws_lambda.endpoint_override")
