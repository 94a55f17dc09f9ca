"""Every error path with its SQLSTATE: argument checks before any call, envelope failures,
aws_lambda failures, and the timeout each call applies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sql.conftest import SqlIndex
from sql.sql_helpers import CANNED_INDEX_ARN, call_count, expect_error, set_answer

pytestmark = pytest.mark.stack

V3 = [0.1, 0.2, 0.3]


# ---- argument checks on the real stack (no call is made; nothing changes) ----------------
@pytest.mark.parametrize(("query", "params", "sqlstate", "fragments"), [
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, top_k => 0)", [V3], "22023",
     ["s3vl.query_vectors", "top_k", "between 1 and 10000", "got 0"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, top_k => 10001)", [V3], "22023",
     ["top_k", "10000"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, top_k => NULL)", [V3], "22023",
     ["top_k", "NULL"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2]::float8[], {idx})", [], "22000",
     ["s3vl.query_vectors", "query_vector", "dimension 2", "dimension 3"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 'NaN', 0.3]::float8[], {idx})", [], "22000",
     ["query_vector", "NaN"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, '-Infinity', 0.3]::float8[], {idx})", [],
     "22000", ["query_vector", "Infinity"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 1e39, 0.3]::float8[], {idx})", [], "22000",
     ["query_vector", "float32"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[0.1, NULL, 0.3]::float8[], {idx})", [], "22023",
     ["query_vector", "NULL", "element 2"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[]::float8[], {idx})", [], "22023",
     ["query_vector", "non-empty"]),
    ("SELECT * FROM s3vl.query_vectors(array_fill(0.5::float8, ARRAY[4097]), {idx})", [],
     "22023", ["dimension", "between 1 and 4096", "4097"]),
    ("SELECT * FROM s3vl.query_vectors(ARRAY[[1,2],[3,4]]::float8[], {idx})", [], "22023",
     ["one-dimensional"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, metadata_filter => '[1]')", [V3],
     "22023", ["metadata_filter", "JSON object"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, return_metadata => NULL)", [V3],
     "22023", ["return_metadata", "NULL"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[])", [V3], "22023",
     ["either index_name or index_arn"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], {idx}, index_arn => 'arn:x')", [V3],
     "22023", ["not both"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], 'no-such-index')", [V3], "42704",
     ["s3vl.query_vectors", "no-such-index", "not registered"]),
    ("SELECT * FROM s3vl.query_vectors(%s::float8[], index_arn => 'arn:aws:s3:::bucket')", [V3],
     "22023", ["index_arn", "not an S3 Vectors index ARN"]),
    ("SELECT * FROM s3vl.get_vectors(ARRAY[]::text[], {idx})", [], "22023",
     ["s3vl.get_vectors", "vector_ids", "non-empty"]),
    ("SELECT * FROM s3vl.get_vectors(ARRAY['a', NULL], {idx})", [], "22023",
     ["vector_ids element 2", "1 to 1024"]),
    ("SELECT * FROM s3vl.get_vectors(ARRAY[repeat('k', 1025)], {idx})", [], "22023",
     ["vector_ids element 1", "1025 characters"]),
    ("SELECT * FROM s3vl.list_vectors(index_name => {idx}, max_results => 1001)", [], "22023",
     ["s3vl.list_vectors", "max_results", "between 1 and 1000"]),
    ("SELECT * FROM s3vl.list_vectors(index_name => {idx}, segment_count => 2)", [], "22023",
     ["segment_count and segment_index"]),
    ("SELECT * FROM s3vl.list_vectors(index_name => {idx}, segment_count => 17, "
     "segment_index => 0)", [], "22023", ["segment_count", "between 1 and 16"]),
    ("SELECT * FROM s3vl.list_vectors(index_name => {idx}, segment_count => 2, "
     "segment_index => 2)", [], "22023", ["segment_index must be below segment_count"]),
    ("SELECT * FROM s3vl.scan_vectors({idx}, page_size => 0)", [], "22023",
     ["s3vl.scan_vectors", "page_size", "between 1 and 1000"]),
    ("SELECT s3vl.get_index_info('nope')", [], "42704", ["s3vl.get_index_info", "nope"]),
    ("SELECT s3vl.activate_index('nope')", [], "42704", ["s3vl.activate_index", "nope"]),
    ("SELECT s3vl.deactivate_index('nope')", [], "42704", ["s3vl.deactivate_index"]),
    ("SELECT s3vl.unregister_index('nope')", [], "42704", ["s3vl.unregister_index"]),
    ("SELECT s3vl.resolve_index_arn(NULL)", [], "22023", ["s3vl.resolve_index_arn",
                                                          "index_name"]),
    ("SELECT s3vl.register_index('9bad', {arn})", [], "22023",
     ["s3vl.register_index", "index_name", "start with a letter"]),
    ("SELECT s3vl.register_index('good', 'arn:aws:s3vectors:us-east-1:12:bucket/b/index/i')", [],
     "22023", ["index_arn", "12-digit account"]),
])
def test_argument_errors(db: Any, sql_index: SqlIndex, query: str, params: list[Any],
                         sqlstate: str, fragments: list[str]) -> None:
    before = db.execute("SELECT count(*), max(updated_at) FROM s3vl.index_registry").fetchone()
    sql = query.replace("{idx}", "'" + sql_index.name + "'").replace(
        "{arn}", "'" + sql_index.arn + "'")
    expect_error(db, sql, params, sqlstate, *fragments)
    after = db.execute("SELECT count(*), max(updated_at) FROM s3vl.index_registry").fetchone()
    assert before == after


def test_register_unknown_index_is_42704_and_registers_nothing(db: Any, sql_index: SqlIndex
                                                               ) -> None:
    arn = sql_index.arn.rsplit("/", 1)[0] + "/no-such-index"
    expect_error(db, "SELECT s3vl.register_index('ghost', %s)", [arn], "42704",
                 "s3vl.register_index", "request id")
    assert db.execute("SELECT count(*) FROM s3vl.index_registry WHERE index_name = 'ghost'"
                      ).fetchone() == (0,)


def test_every_partition_is_accepted(db: Any) -> None:
    for partition, region in (("aws", "us-east-1"), ("aws-cn", "cn-north-1"),
                              ("aws-us-gov", "us-gov-west-1")):
        arn = f"arn:{partition}:s3vectors:{region}:123456789012:bucket/b-1/index/idx-1"
        row = db.execute("SELECT * FROM s3vl._parse_index_arn(%s)", (arn,)).fetchone()
        assert row == (partition, region, "123456789012", "b-1", "idx-1")
        # Valid ARN: the call reaches the function, which answers NotFound (not 22023).
        expect_error(db, "SELECT * FROM s3vl.get_vectors(ARRAY['k'], index_arn => %s)", [arn],
                     "42704", "s3vl.get_vectors")
    assert db.execute("SELECT (s3vl._parse_index_arn('arn:aws-xx:s3vectors:r:123456789012:"
                      "bucket/bbb/index/iii')).index_name").fetchone() == (None,)


def test_function_dimension_error_maps_to_22000(db: Any, sql_index: SqlIndex) -> None:
    # By ARN of an unregistered alias the SQL side cannot know the dimension: the function says.
    db.execute("UPDATE s3vl.index_registry SET dimension = NULL WHERE index_name = %s",
               (sql_index.name,))
    try:
        expect_error(db, "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2]::float8[], %s)",
                     [sql_index.name], "22000", "s3vl.query_vectors", "dimension",
                     "error type: ValidationError")
    finally:
        db.execute("UPDATE s3vl.index_registry SET dimension = 3 WHERE index_name = %s",
                   (sql_index.name,))


def test_unknown_function_is_sv006(fresh_database: Any, local_stack: Any) -> None:
    import psycopg

    from sql.sql_helpers import install

    dsn = fresh_database()
    install(dsn)
    conn: Any
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure('arn:aws:lambda:us-east-1:123456789012:function:nope')")
        valid = conn.execute("SELECT is_valid, error_message FROM s3vl.validate_config()"
                             ).fetchone()
        assert valid[0] is False and "SV006" in valid[1]
        expect_error(conn, "SELECT * FROM s3vl.describe_index(index_arn => %s)",
                     [local_stack.index_arn], "SV006", "s3vl.describe_index",
                     "calling the Lambda function failed")


# ---- configuration ------------------------------------------------------------------------
def test_not_configured_is_55000(canned: Any) -> None:
    canned.execute("DELETE FROM s3vl.config")
    expect_error(canned, "SELECT * FROM s3vl.query_vectors(%s::float8[], 'demo')", [V3], "55000",
                 "s3vl.query_vectors", "not configured", "s3vl.configure")
    row = canned.execute("SELECT is_valid, error_message FROM s3vl.validate_config()").fetchone()
    assert row[0] is False and "not configured" in row[1]
    assert canned.execute("SELECT count(*) FROM s3vl.get_config()").fetchone() == (0,)


@pytest.mark.parametrize(("args", "fragments"), [
    ("NULL", ["lambda_arn", "NULL"]),
    ("'not an arn!'", ["lambda_arn", "neither"]),
    ("'my-function'", ["aws_region is required"]),
    ("'arn:aws:lambda:us-east-1:123456789012:function:f', 'eu-west-1'", ["conflicts"]),
    ("'my-function', 'nowhere'", ["aws_region", "region code"]),
    ("'arn:aws:lambda:us-east-1:123456789012:function:f', timeout_seconds => 0",
     ["timeout_seconds", "between 1 and 900"]),
    ("'arn:aws:lambda:us-east-1:123456789012:function:f', timeout_seconds => 901",
     ["timeout_seconds", "900"]),
])
def test_configure_errors_change_nothing(canned: Any, args: str, fragments: list[str]) -> None:
    before = canned.execute("SELECT * FROM s3vl.config").fetchall()
    expect_error(canned, f"SELECT s3vl.configure({args})", None, "22023", "s3vl.configure",
                 *fragments)
    assert canned.execute("SELECT * FROM s3vl.config").fetchall() == before


def test_configure_region_from_arn_and_partitions(canned: Any) -> None:
    for arn, region in (("arn:aws-cn:lambda:cn-north-1:123456789012:function:f", "cn-north-1"),
                        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:live",
                         "us-gov-west-1")):
        assert canned.execute("SELECT s3vl.configure(%s)", (arn,)).fetchone() == (True,)
        assert canned.execute("SELECT lambda_arn, aws_region FROM s3vl.get_config()"
                              ).fetchone() == (arn, region)
        assert canned.execute("SELECT count(*) FROM s3vl.config").fetchone() == (1,)
    canned.execute("SELECT s3vl.configure('fn-name', 'eu-west-1', 60)")
    assert canned.execute("SELECT lambda_arn, aws_region, timeout_seconds FROM s3vl.get_config()"
                          ).fetchone() == ("fn-name", "eu-west-1", 60)
    request = canned.execute("SELECT function_name, region FROM canned.calls ORDER BY id DESC "
                             "LIMIT 1").fetchone()
    assert request == ("fn-name", "eu-west-1")


# ---- the timeout each call applies ----------------------------------------------------------
def test_configured_timeout_bounds_each_call_only(canned: Any) -> None:
    set_answer(canned, "query_vectors", {"success": True, "result": []})
    canned.execute("SET aws_lambda.request_timeout_ms = '100'")
    canned.execute("SELECT * FROM s3vl.query_vectors(%s::float8[], 'demo')", (V3,))
    row = canned.execute("SELECT request_timeout_ms FROM canned.calls ORDER BY id DESC LIMIT 1"
                         ).fetchone()
    assert row == ("7000",)  # configure(..., timeout_seconds => 7) in make_canned_db
    assert canned.execute("SHOW aws_lambda.request_timeout_ms").fetchone() == ("100",)


def test_stored_timeout_stops_a_slow_function(fresh_database: Any) -> None:
    """Real stand-in, real HTTP: a Lambda endpoint that answers after 3 s; timeout_seconds 1."""
    import http.server
    import threading

    import psycopg
    from psycopg import sql

    from sql.sql_helpers import LAMBDA_ARN, install

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            threading.Event().wait(3)
            body = b'{"success": true, "result": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Slow)
    server.timeout = 10
    served = threading.Thread(target=server.handle_request, daemon=True)  # one request only
    served.start()
    dsn = fresh_database()
    install(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds) "
                         "VALUES (%s, 'us-east-1', 1)", (LAMBDA_ARN,))
            conn.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}"
                                 ).format(sql.Identifier(conn.info.dbname),
                                          sql.Literal(f"http://127.0.0.1:{server.server_port}")))
            conn.execute("SET aws_lambda.request_timeout_ms = '600000'")
            expect_error(conn, "SELECT * FROM s3vl.get_vectors(ARRAY['a'], index_arn => %s)",
                         [CANNED_INDEX_ARN], "SV003", "s3vl.get_vectors",
                         "calling the Lambda function failed", "timeout 1 s")
    finally:
        served.join(timeout=10)
        server.server_close()


# ---- envelope failures (canned function) ----------------------------------------------------
@pytest.mark.parametrize(("answer", "sqlstate", "fragments"), [
    (None, "SV007", ["null payload"]),
    ({"result": []}, "SV007", ["boolean \"success\""]),
    ({"success": "yes", "result": []}, "SV007", ["boolean \"success\""]),
    ([1, 2], "SV007", ["success"]),
    ({"success": True}, "SV007", ["without a \"result\""]),
    ({"success": True, "result": {"not": "an array"}}, "SV007", ["not a JSON array"]),
    ({"success": False, "error": "plain text failure"}, "SV004", ["plain text failure"]),
    ({"success": False}, "SV004", ["without a message"]),
])
def test_malformed_envelopes_raise(canned: Any, answer: Any, sqlstate: str,
                                   fragments: list[str]) -> None:
    set_answer(canned, "query_vectors", answer)
    if answer is None:
        canned.execute("UPDATE canned.answers SET response = 'null'::json "
                       "WHERE operation = 'query_vectors'")
    expect_error(canned, "SELECT * FROM s3vl.query_vectors(%s::float8[], 'demo')", [V3],
                 sqlstate, "s3vl.query_vectors", *fragments)


def test_sql_null_payload_raises(canned: Any) -> None:
    set_answer(canned, "get_vectors", None)
    expect_error(canned, "SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'demo')", None, "SV007",
                 "s3vl.get_vectors", "null payload")


@pytest.mark.parametrize(("error_type", "code", "retryable", "message", "sqlstate", "hint"), [
    ("ValidationError", "ValidationException", False, "top_k: must be between 1 and 10000",
     "22023", None),
    ("ValidationError", "ValidationError", False,
     "query_vector: dimension 2 does not match the index dimension 3", "22000", None),
    ("NotFound", "NotFoundException", False, "index not found", "42704", "list_indexes"),
    ("AccessDenied", "AccessDeniedException", False, "not allowed", "42501", "IAM"),
    ("Throttled", "TooManyRequestsException", True, "slow down", "SV001", "backoff"),
    ("ServiceError", "InternalServerException", True, "boom", "SV002", "transient"),
    ("ServiceError", "ServiceQuotaExceededException", False, "quota", "SV002", "will not help"),
    ("Timeout", "ReadTimeoutError", True, "read timed out", "SV003", "timeout_seconds"),
    ("InternalError", "InternalError", False, "bug", "SV004", "CloudWatch"),
    ("Conflict", "ConflictException", False, "conflict", "SV005", None),
    ("SomethingNew", "X", False, "future type", "SV004", None),
])
def test_error_types_map_to_sqlstates(canned: Any, error_type: str, code: str, retryable: bool,
                                      message: str, sqlstate: str, hint: str | None) -> None:
    set_answer(canned, "*", {"success": False, "request_id": "req-42", "error": {
        "type": error_type, "message": message, "code": code, "retryable": retryable,
        "field": "top_k"}})
    err = expect_error(canned, "SELECT * FROM s3vl.list_vectors(index_name => 'demo')", None,
                       sqlstate, "s3vl.list_vectors: " + message, f"error type: {error_type}",
                       f"code: {code}", f"retryable: {str(retryable).lower()}", "field: top_k",
                       "request id: req-42")
    if hint:
        assert hint in (err.diag.message_hint or "")
    documented = canned.execute("SELECT retryable FROM s3vl.error_codes() WHERE sqlstate = %s",
                                (sqlstate,)).fetchall()
    assert len(documented) >= 1


# ---- aws_lambda failures (canned function raising Aurora's errors) --------------------------
@pytest.mark.parametrize(("raise_sqlstate", "message", "detail", "sqlstate"), [
    ("XX000", "lambda invocation failed",
     '"arn:aws:lambda:us-east-1:123456789012:function:f" returned error "Unhandled"', "SV006"),
    ("XX000", "invoke API failed", "AWS Lambda client returned 'curlCode: 28, Timeout was "
     "reached'.", "SV003"),
    ("XX000", "invoke API failed", "AWS Lambda client returned 'Unable to connect to endpoint'.",
     "SV006"),
    ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "SV007"),
    ("42501", "permission denied for function invoke", None, "42501"),
])
def test_aws_lambda_errors_map_to_sqlstates(canned: Any, raise_sqlstate: str, message: str,
                                            detail: str | None, sqlstate: str) -> None:
    set_answer(canned, "*", raise_sqlstate=raise_sqlstate, raise_message=message,
               raise_detail=detail)
    expect_error(canned, "SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'demo')", None, sqlstate,
                 "s3vl.get_vectors: calling the Lambda function failed: " + message)


def test_validation_happens_before_any_call(canned: Any) -> None:
    calls = call_count(canned)
    expect_error(canned, "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2]::float8[], 'demo')", None,
                 "22000", "dimension 2")
    expect_error(canned, "SELECT * FROM s3vl.query_vectors(%s::float8[], 'demo', top_k => 0)",
                 [V3], "22023")
    assert call_count(canned) == calls


def test_list_vectors_repeated_token_is_an_error(canned: Any) -> None:
    set_answer(canned, "list_vectors", {"success": True, "result": {
        "vectors": [], "next_token": "same", "total_count": 0}})
    set_answer(canned, "list_vectors", {"success": True, "result": {
        "vectors": [{"vector_id": "a"}], "next_token": "same", "total_count": 1}})
    expect_error(canned, "SELECT * FROM s3vl.scan_vectors('demo')", None, "SV007",
                 "s3vl.scan_vectors", "paging would not end")


def test_empty_page_with_token_keeps_the_token(canned: Any) -> None:
    set_answer(canned, "list_vectors", {"success": True, "result": {
        "vectors": [], "next_token": "t2", "total_count": 0}})
    rows = canned.execute("SELECT * FROM s3vl.list_vectors(index_name => 'demo')").fetchall()
    assert rows == [(None, None, None, "t2", 0)]
    set_answer(canned, "list_vectors", {"success": True, "result": {
        "vectors": [], "next_token": None, "total_count": 0}})
    assert canned.execute("SELECT * FROM s3vl.list_vectors(index_arn => %s)", (CANNED_INDEX_ARN,)
                          ).fetchall() == []


# ---- metadata_filter nesting (max_filter_depth, docs/protocol.md) ----------------------------
def filter_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((filter_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((filter_depth(v) for v in value), default=0)
    return 0


def test_filter_depth_examples(canned: Any) -> None:
    for value, depth in (({"a": 1}, 1), ({"$and": [{"a": {"$eq": 1}}]}, 4), ({}, 1),
                         ({"a": [[[]]]}, 4)):
        assert filter_depth(value) == depth
        assert canned.execute("SELECT s3vl._filter_deeper_than(%s::jsonb, %s),"
                              " s3vl._filter_deeper_than(%s::jsonb, %s)",
                              (json.dumps(value), depth - 1, json.dumps(value), depth)
                              ).fetchone() == (True, False)


@pytest.mark.parametrize("call", [
    "SELECT * FROM s3vl.query_vectors(%s::float8[], 'demo', metadata_filter => %s::jsonb)",
    "SELECT * FROM s3vl.query_vectors_batch(index_name => 'demo', "
    "query_vectors => ARRAY[%s]::float8[], "
    "metadata_filter => %s::jsonb)",
])
def test_filter_deeper_than_the_limit_is_refused_before_any_call(canned: Any, call: str) -> None:
    set_answer(canned, "query_vectors", {"success": True, "result": []})
    set_answer(canned, "query_vectors_batch", {"success": True, "result": [
        {"success": True, "results": []}]})
    ok: Any = {"genre": {"$eq": "news"}}  # a valid filter of depth 2, then 2 levels per $and
    while filter_depth(ok) < 32:
        ok = {"$and": [ok]}
    deep = {"y": ok}
    assert filter_depth(deep) == 33
    calls = call_count(canned)
    expect_error(canned, call, [V3, json.dumps(deep)], "22023", "metadata_filter",
                 "max_filter_depth", "32")
    assert call_count(canned) == calls
    assert filter_depth(ok) == 32
    canned.execute(call, [V3, json.dumps(ok)]).fetchall()
    assert call_count(canned) == calls + 1
    # Far deeper (a few thousand levels) is refused the same way, without recursion trouble.
    very = "[" * 3000 + "]" * 3000
    expect_error(canned, call, [V3, '{"a": ' + very + "}"], "22023", "max_filter_depth")
