"""Full-text and hybrid search from SQL (sql/30_api/57_search.sql) against the canned aws_lambda:
the requests each form builds, the rows it returns, every argument error with its SQLSTATE (raised
before any call), the service's refusals mapped, index administration, describe_index's new
columns, the result cache and the privileges."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import (
    CANNED_INDEX_ARN,
    call_count,
    expect_error,
    install,
    last_request,
    set_answer,
)

pytestmark = pytest.mark.stack

Q = [1.0, 0.0, 0.0]
TEXT_ROWS = [
    {"vector_id": "p-2", "distance": None, "similarity_score": None, "metadata": {"name": "B"},
     "text_score": 3.25, "bm25_scores": {"name": 2.0, "description": 1.25}, "fused_score": None},
    {"vector_id": "p-7", "distance": None, "similarity_score": None, "metadata": {"name": "G"},
     "text_score": 1.5, "bm25_scores": {"name": 1.5}, "fused_score": None},
]
HYBRID_ROWS = [
    {"vector_id": "p-2", "distance": 0.125, "similarity_score": 0.875, "metadata": {"n": 2},
     "text_score": 3.25, "bm25_scores": {"name": 3.25}, "fused_score": 0.0325},
    {"vector_id": "p-9", "distance": None, "similarity_score": None, "metadata": {"n": 9},
     "text_score": 2.0, "bm25_scores": {"name": 2.0}, "fused_score": 0.0161},
    {"vector_id": "p-4", "distance": 0.5, "similarity_score": 0.5, "metadata": {"n": 4},
     "text_score": None, "bm25_scores": {}, "fused_score": 0.0159},
]


def ok(result: Any) -> dict[str, Any]:
    return {"success": True, "result": result, "request_id": "r-1", "execution_time_ms": 1}


def failure(error_type: str, message: str, field: str | None = None,
            code: str = "ValidationException") -> dict[str, Any]:
    return {"success": False, "error": {"type": error_type, "message": message, "code": code,
                                        "retryable": False, "field": field},
            "request_id": "r-2", "execution_time_ms": 1}


def query_calls(conn: Any) -> int:
    row = conn.execute("SELECT count(*) FROM canned.calls WHERE request ->> 'operation' = "
                       "'query_vectors'").fetchone()
    return int(row[0])


# --- requests -------------------------------------------------------------------------------

REQUEST_CASES = [
    ("SELECT * FROM s3vl.search_text('trail shoes', 'name', 'demo')", None,
     {"query_texts": {"name": "trail shoes"}, "top_k": 10, "return_metadata": True}),
    ("SELECT * FROM s3vl.search_text(query_text => 'trail shoes', metadata_key => 'name', "
     "index_arn => %s, top_k => 3, return_metadata => false, "
     "metadata_filter => '{\"price\": {\"$lt\": 100}}')", [CANNED_INDEX_ARN],
     {"query_texts": {"name": "trail shoes"}, "top_k": 3, "return_metadata": False,
      "metadata_filter": {"price": {"$lt": 100}}}),
    ("SELECT * FROM s3vl.search_text('{\"name\": \"trail\", \"description\": \"waterproof\"}'"
     "::jsonb, 'demo', top_k => 5)", None,
     {"query_texts": {"name": "trail", "description": "waterproof"}, "top_k": 5,
      "return_metadata": True}),
    ("SELECT * FROM s3vl.search_text(query_texts => '{\"name\": \"trail\"}', "
     "index_name => 'demo')", None,
     {"query_texts": {"name": "trail"}, "top_k": 10, "return_metadata": True}),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], 'trail', 'name', 'demo')", None,
     {"query_vector": [1, 0, 0], "query_texts": {"name": "trail"}, "top_k": 10,
      "return_metadata": True}),
    ("SELECT * FROM s3vl.hybrid_search(query_vector => ARRAY[0.5, 0.25, 0]::float8[], "
     "query_text => 'trail', metadata_key => 'name', index_name => 'demo', top_k => 7, "
     "metadata_filter => '{\"stock\": {\"$gt\": 0}}')", None,
     {"query_vector": [0.5, 0.25, 0], "query_texts": {"name": "trail"}, "top_k": 7,
      "return_metadata": True, "metadata_filter": {"stock": {"$gt": 0}}}),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], "
     "'{\"name\": \"a\", \"description\": \"b\"}'::jsonb, 'demo')", None,
     {"query_vector": [1, 0, 0], "query_texts": {"name": "a", "description": "b"}, "top_k": 10,
      "return_metadata": True}),
    ("SELECT * FROM s3vl.hybrid_search(query_vector => ARRAY[1, 0, 0]::float8[], "
     "query_texts => '{\"name\": \"a\"}', index_arn => %s, return_metadata => false)",
     [CANNED_INDEX_ARN],
     {"query_vector": [1, 0, 0], "query_texts": {"name": "a"}, "top_k": 10,
      "return_metadata": False}),
]


def test_every_form_builds_its_request(canned: Any) -> None:
    """Positional and named calls of both overloads resolve (none is ambiguous) and send the
    protocol's query_vectors request with query_texts (and query_vector for hybrid)."""
    set_answer(canned, "query_vectors", ok([]))
    for statement, params, fields in REQUEST_CASES:
        canned.execute(statement, params).fetchall()
        assert last_request(canned) == {"operation": "query_vectors",
                                        "index_arn": CANNED_INDEX_ARN, **fields}, statement


@pytest.mark.parametrize("statement", [
    # every combination of named arguments of each overload, first argument named or not
    "SELECT * FROM s3vl.search_text(query_text => 'x', metadata_key => 'name', "
    "index_name => 'demo')",
    "SELECT * FROM s3vl.search_text(metadata_key => 'name', query_text => 'x', "
    "index_name => 'demo', top_k => 2, return_metadata => true, metadata_filter => NULL)",
    "SELECT * FROM s3vl.search_text('x', metadata_key => 'name', index_name => 'demo')",
    "SELECT * FROM s3vl.search_text('x', 'name', index_name => 'demo')",
    "SELECT * FROM s3vl.search_text(query_texts => '{\"name\": \"x\"}', index_name => 'demo')",
    "SELECT * FROM s3vl.search_text('{\"name\": \"x\"}', index_name => 'demo')",
    "SELECT * FROM s3vl.search_text(index_name => 'demo', query_texts => '{\"name\": \"x\"}', "
    "top_k => 2, return_metadata => true, metadata_filter => NULL, index_arn => NULL)",
    "SELECT * FROM s3vl.hybrid_search(query_vector => '{1,0,0}', query_text => 'x', "
    "metadata_key => 'name', index_name => 'demo')",
    "SELECT * FROM s3vl.hybrid_search('{1,0,0}', 'x', 'name', index_name => 'demo')",
    "SELECT * FROM s3vl.hybrid_search('{1,0,0}', query_text => 'x', metadata_key => 'name', "
    "index_name => 'demo', top_k => 2, return_metadata => true, metadata_filter => NULL)",
    "SELECT * FROM s3vl.hybrid_search(query_vector => '{1,0,0}', "
    "query_texts => '{\"name\": \"x\"}', index_name => 'demo')",
    "SELECT * FROM s3vl.hybrid_search('{1,0,0}', '{\"name\": \"x\"}', index_name => 'demo')",
    "SELECT * FROM s3vl.hybrid_search('{1,0,0}', '{\"name\": \"x\"}'::jsonb, 'demo')",
    "SELECT * FROM s3vl.hybrid_search(index_name => 'demo', query_texts => '{\"name\": \"x\"}', "
    "query_vector => '{1,0,0}', top_k => 2, return_metadata => true, metadata_filter => NULL, "
    "index_arn => NULL)",
])
def test_named_calls_are_never_ambiguous(canned: Any, statement: str) -> None:
    set_answer(canned, "query_vectors", ok([]))
    assert canned.execute(statement).fetchall() == []
    assert last_request(canned)["query_texts"] == {"name": "x"}


def test_positional_text_and_key_pick_the_single_key_form(canned: Any) -> None:
    """An untyped second argument is the metadata key (the text form), never an index name."""
    set_answer(canned, "query_vectors", ok([]))
    canned.execute("SELECT * FROM s3vl.search_text(%s, %s, %s)", ("x", "name", "demo"))
    assert last_request(canned)["query_texts"] == {"name": "x"}
    canned.execute("SELECT * FROM s3vl.hybrid_search(%s::float8[], %s, %s, %s)",
                   (Q, "x", "name", "demo"))
    assert last_request(canned)["query_texts"] == {"name": "x"}
    canned.execute("SELECT * FROM s3vl.search_text(%s, 'demo')", (Jsonb({"name": "x"}),))
    assert last_request(canned)["query_texts"] == {"name": "x"}


# --- rows -------------------------------------------------------------------------------------

def test_search_text_rows_in_service_order_with_summed_score(canned: Any) -> None:
    set_answer(canned, "query_vectors", ok(TEXT_ROWS))
    rows = canned.execute("SELECT vector_id, text_score, metadata FROM s3vl.search_text("
                          "'{\"name\": \"b\", \"description\": \"c\"}'::jsonb, 'demo')").fetchall()
    assert rows == [("p-2", 3.25, {"name": "B"}), ("p-7", 1.5, {"name": "G"})]
    cols = [c.name for c in canned.execute(
        "SELECT * FROM s3vl.search_text('b', 'name', 'demo')").description or []]
    assert cols == ["vector_id", "text_score", "metadata"]


def test_hybrid_rows_keep_nulls_of_the_ranking_that_missed(canned: Any) -> None:
    set_answer(canned, "query_vectors", ok(HYBRID_ROWS))
    cur = canned.execute("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], 'b', "
                         "'name', 'demo')")
    assert [c.name for c in cur.description or []] == [
        "vector_id", "fused_score", "distance", "text_score", "metadata"]
    assert cur.fetchall() == [("p-2", 0.0325, 0.125, 3.25, {"n": 2}),
                              ("p-9", 0.0161, None, 2.0, {"n": 9}),
                              ("p-4", 0.0159, 0.5, None, {"n": 4})]


def test_missing_metadata_is_an_empty_object(canned: Any) -> None:
    set_answer(canned, "query_vectors", ok([{"vector_id": "p-1", "text_score": 1.0}]))
    assert canned.execute("SELECT * FROM s3vl.search_text('b', 'name', 'demo', "
                          "return_metadata => false)").fetchall() == [("p-1", 1.0, {})]


@pytest.mark.parametrize("answer", [{"vectors": []}, [{"vector_id": "p", "text_score": "high"}]])
def test_malformed_answers_are_sv007(canned: Any, answer: Any) -> None:
    set_answer(canned, "query_vectors", ok(answer))
    expect_error(canned, "SELECT * FROM s3vl.search_text('b', 'name', 'demo')", None, "SV007",
                 "s3vl.search_text")


# --- argument errors, before any call ---------------------------------------------------------

ARGUMENT_ERRORS = [
    ("SELECT * FROM s3vl.search_text('', 'name', 'demo')", None, "22023",
     "s3vl.search_text: query_text must be a text of 1 to 1024 characters"),
    ("SELECT * FROM s3vl.search_text(' \t\n ', 'name', 'demo')", None, "22023",
     "query_text", "not blank (got only white space)"),
    ("SELECT * FROM s3vl.search_text(repeat('a', 1025), 'name', 'demo')", None, "22023",
     "query_text", "1 to 1024 characters", "got 1025 characters"),
    ("SELECT * FROM s3vl.search_text(NULL::text, 'name', 'demo')", None, "22023",
     "query_text", "got NULL"),
    ("SELECT * FROM s3vl.search_text('x', '', 'demo')", None, "22023",
     "s3vl.search_text: metadata_key must be a metadata key of 1 to 63 characters (got 0"),
    ("SELECT * FROM s3vl.search_text('x', repeat('k', 64), 'demo')", None, "22023",
     "metadata_key", "1 to 63 characters", "got 64"),
    ("SELECT * FROM s3vl.search_text('x', NULL, 'demo')", None, "22023", "metadata_key",
     "got NULL"),
    ("SELECT * FROM s3vl.search_text(%s::jsonb, 'demo')",
     [Jsonb({f"k{i}": "x" for i in range(11)})], "22023",
     "s3vl.search_text: query_texts must have 1 to 10 metadata keys (got 11)"),
    ("SELECT * FROM s3vl.search_text('{}'::jsonb, 'demo')", None, "22023",
     "query_texts must have 1 to 10 metadata keys (got 0)"),
    ("SELECT * FROM s3vl.search_text('[\"x\"]'::jsonb, 'demo')", None, "22023",
     "query_texts must be a JSON object", "got a JSON array"),
    ("SELECT * FROM s3vl.search_text(NULL::jsonb, 'demo')", None, "22023",
     "query_texts must be a JSON object", "got NULL"),
    ("SELECT * FROM s3vl.search_text('{\"name\": 5}'::jsonb, 'demo')", None, "22023",
     "query_texts value of key \"name\" must be a JSON string (got a JSON number)"),
    ("SELECT * FROM s3vl.search_text('{\"name\": \"\"}'::jsonb, 'demo')", None, "22023",
     "query_texts value of key \"name\" must be a text of 1 to 1024 characters"),
    ("SELECT * FROM s3vl.search_text(jsonb_build_object('name', repeat('a', 1025)), 'demo')",
     None, "22023", "query_texts value of key \"name\"", "got 1025 characters"),
    ("SELECT * FROM s3vl.search_text(jsonb_build_object(repeat('k', 64), 'a'), 'demo')", None,
     "22023", "query_texts key must be a metadata key of 1 to 63 characters (got 64"),
    ("SELECT * FROM s3vl.search_text('{\"\": \"a\"}'::jsonb, 'demo')", None, "22023",
     "query_texts key must be a metadata key of 1 to 63 characters (got 0"),
    ("SELECT * FROM s3vl.search_text('x', 'name', 'demo', top_k => 0)", None, "22023",
     "top_k must be between 1 and 10000 (got 0)"),
    ("SELECT * FROM s3vl.search_text('x', 'name', 'demo', top_k => 10001)", None, "22023",
     "top_k must be between 1 and 10000"),
    ("SELECT * FROM s3vl.search_text('x', 'name', 'demo', return_metadata => NULL)", None,
     "22023", "return_metadata must not be NULL"),
    ("SELECT * FROM s3vl.search_text('x', 'name', 'demo', metadata_filter => '[1]')", None,
     "22023", "metadata_filter must be a JSON object"),
    ("SELECT * FROM s3vl.search_text('x', 'name', 'no-such-index')", None, "42704",
     "s3vl.search_text"),
    ("SELECT * FROM s3vl.search_text('x', 'name')", None, "22023", "s3vl.search_text"),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0]::float8[], 'x', 'name', 'demo')", None,
     "22000", "s3vl.hybrid_search", "query_vector"),
    ("SELECT * FROM s3vl.hybrid_search(NULL::float8[], 'x', 'name', 'demo')", None, "22023",
     "s3vl.hybrid_search: query_vector must be a non-empty array"),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 'NaN', 0]::float8[], 'x', 'name', 'demo')",
     None, "22000", "query_vector"),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], '', 'name', 'demo')", None,
     "22023", "s3vl.hybrid_search: query_text must be a text of 1 to 1024 characters"),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], %s::jsonb, 'demo')",
     [Jsonb({f"k{i}": "x" for i in range(11)})], "22023",
     "s3vl.hybrid_search: query_texts must have 1 to 10 metadata keys (got 11)"),
    ("SELECT s3vl.set_index_mode('demo', 'FAST')", None, "22023",
     "s3vl.set_index_mode: index_mode must be CLASSIC or ENHANCED (got 'FAST')"),
    ("SELECT s3vl.set_index_mode('demo', NULL)", None, "22023", "index_mode", "got NULL"),
    ("SELECT s3vl.set_index_mode('nope', 'ENHANCED')", None, "42704", "s3vl.set_index_mode"),
    ("SELECT s3vl.add_text_search('demo', 'name', 'xx')", None, "22023",
     "s3vl.add_text_search: language must be one of en, fr, es, pt, it, de, nl, zh, ja, ko or "
     "NULL for the standard analyzer (got 'xx')"),
    ("SELECT s3vl.add_text_search('demo', '', 'en')", None, "22023",
     "s3vl.add_text_search: metadata_key must be a metadata key of 1 to 63 characters"),
    ("SELECT s3vl.drop_text_search('demo', repeat('k', 64))", None, "22023",
     "s3vl.drop_text_search: metadata_key", "1 to 63 characters"),
    ("SELECT s3vl.drop_text_search('demo', NULL)", None, "22023", "metadata_key", "got NULL"),
]


@pytest.mark.parametrize(("statement", "params", "sqlstate", "fragments"),
                         [(c[0], c[1], c[2], c[3:]) for c in ARGUMENT_ERRORS])
def test_bad_arguments_fail_before_any_call(canned: Any, statement: str, params: Any,
                                            sqlstate: str, fragments: tuple[str, ...]) -> None:
    set_answer(canned, "*", ok([]))
    before = call_count(canned)
    expect_error(canned, statement, params, sqlstate, *fragments)
    assert call_count(canned) == before


def test_limits_and_languages_match_the_service_model(canned: Any) -> None:
    import botocore.session

    shapes = botocore.session.get_session().get_service_model("s3vectors")
    rows = {r[0]: (r[1], r[2]) for r in canned.execute(
        "SELECT name, min_value, max_value FROM s3vl.limits()").fetchall()}
    for limit, shape in (("query_texts", "QueryTextList"), ("query_text_length", "QueryTextString"),
                         ("metadata_key_length", "MetadataKey")):
        meta = shapes.shape_for(shape).metadata
        assert rows[limit] == (meta["min"], meta["max"]), limit
    languages = canned.execute("SELECT s3vl._text_search_languages()").fetchone()[0]
    assert languages == shapes.shape_for("LanguageCode").enum


def test_limits_and_languages_match_the_function(canned: Any) -> None:
    from s3vl_lambda import limits as fn

    rows = {r[0]: (r[1], r[2]) for r in canned.execute(
        "SELECT name, min_value, max_value FROM s3vl.limits()").fetchall()}
    assert rows["query_texts"] == (fn.MIN_QUERY_TEXTS, fn.MAX_QUERY_TEXTS)
    assert rows["query_text_length"] == (fn.MIN_QUERY_TEXT_LENGTH, fn.MAX_QUERY_TEXT_LENGTH)
    assert rows["metadata_key_length"] == (fn.MIN_METADATA_KEY_LENGTH,
                                           fn.MAX_METADATA_KEY_LENGTH)
    languages = canned.execute("SELECT s3vl._text_search_languages()").fetchone()[0]
    assert tuple(languages) == fn.TEXT_SEARCH_LANGUAGES


# --- the service's refusals -------------------------------------------------------------------

@pytest.mark.parametrize(("statement", "argument"), [
    ("SELECT * FROM s3vl.search_text('x', 'color', 'demo')", 'metadata_key "color"'),
    ("SELECT * FROM s3vl.search_text('{\"color\": \"x\", \"name\": \"y\"}'::jsonb, 'demo')",
     'query_texts "color", "name"'),
    ("SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], 'x', 'color', 'demo')",
     'metadata_key "color"'),
])
@pytest.mark.parametrize("service_message", [
    "Metadata key color has no text search configuration",
    "Full-text and hybrid queries require an index in ENHANCED mode; this index is CLASSIC",
    "The text search configuration for metadata key color is BUILDING",
])
def test_service_refusals_name_the_argument(canned: Any, statement: str, argument: str,
                                            service_message: str) -> None:
    set_answer(canned, "query_vectors", failure("ValidationError", service_message,
                                                "query_texts"))
    caller = statement.split("FROM ")[1].split("(")[0]
    err = expect_error(canned, statement, None, "22023",
                       f"{caller}: {argument}: {service_message}", "field: query_texts",
                       "s3vl.describe_index", "s3vl.add_text_search")
    assert err.diag.message_hint is not None and "ENHANCED" in err.diag.message_hint


def test_other_service_errors_pass_through(canned: Any) -> None:
    set_answer(canned, "query_vectors", failure("ValidationError", "Invalid filter operator $xx",
                                                "metadata_filter"))
    err = expect_error(canned, "SELECT * FROM s3vl.search_text('x', 'name', 'demo')", None,
                       "22023", "s3vl.search_text: Invalid filter operator $xx")
    assert err.diag.message_hint is None
    set_answer(canned, "query_vectors", failure("Throttled", "Slow down", None,
                                                "TooManyRequestsException"))
    expect_error(canned, "SELECT * FROM s3vl.hybrid_search('{1,0,0}', 'x', 'name', 'demo')", None,
                 "SV001", "s3vl.hybrid_search: Slow down")


# --- index administration ---------------------------------------------------------------------

GET_INDEX = {"index_arn": CANNED_INDEX_ARN, "index_name": "demo-index",
             "vector_bucket_name": "demo-bucket", "dimension": 3, "distance_metric": "cosine",
             "data_type": "float32", "non_filterable_metadata_keys": ["body"],
             "creation_time": "2026-01-02T03:04:05+00:00", "index_mode": "ENHANCED",
             "text_search": [{"metadata_key": "name", "language": "en", "status": "ACTIVE"},
                             {"metadata_key": "body", "language": None, "status": "BUILDING"}]}


def test_administration_requests(canned: Any) -> None:
    for operation in ("update_index_mode", "add_text_search", "drop_text_search"):
        set_answer(canned, operation, ok(GET_INDEX))
    cases = [
        ("SELECT s3vl.set_index_mode('demo', 'enhanced')",
         {"operation": "update_index_mode", "index_mode": "ENHANCED"}),
        ("SELECT s3vl.set_index_mode(index_name => %s, index_mode => 'CLASSIC')",
         {"operation": "update_index_mode", "index_mode": "CLASSIC"}),
        ("SELECT s3vl.add_text_search('demo', 'name', 'EN')",
         {"operation": "add_text_search",
          "text_search": [{"metadata_key": "name", "language": "en"}]}),
        ("SELECT s3vl.add_text_search(index_name => 'demo', metadata_key => 'body')",
         {"operation": "add_text_search",
          "text_search": [{"metadata_key": "body", "language": None}]}),
        ("SELECT s3vl.drop_text_search(metadata_key => 'name', index_name => 'demo')",
         {"operation": "drop_text_search", "metadata_keys": ["name"]}),
    ]
    for statement, fields in cases:
        params = [CANNED_INDEX_ARN] if "%s" in statement else None
        assert canned.execute(statement, params).fetchone() == ("",)  # void
        assert last_request(canned) == {"index_arn": CANNED_INDEX_ARN, **fields}, statement


def test_administration_refused_by_the_function_explains(canned: Any) -> None:
    message = ("index administration is off: deploy with the CloudFormation parameter "
               "AllowIndexAdministration=true, or run aws s3vectors update-index-mode ...")
    set_answer(canned, "update_index_mode", failure("AccessDenied", message, None,
                                                    "AccessDenied"))
    err = expect_error(canned, "SELECT s3vl.set_index_mode('demo', 'ENHANCED')", None, "42501",
                       "s3vl.set_index_mode: " + message, "S3VL_ALLOW_INDEX_ADMIN=true")
    assert "AllowIndexAdministration" in (err.diag.message_hint or "")
    set_answer(canned, "add_text_search", failure("ValidationError",
                                                  "Index must be ENHANCED to add text search"))
    expect_error(canned, "SELECT s3vl.add_text_search('demo', 'name')", None, "22023",
                 "s3vl.add_text_search: Index must be ENHANCED")


def test_describe_index_reports_mode_and_text_search(canned: Any) -> None:
    set_answer(canned, "get_index", ok(GET_INDEX))
    row = canned.execute("SELECT dimension, index_mode, text_search FROM "
                         "s3vl.describe_index('demo')").fetchone()
    assert row == (3, "ENHANCED", GET_INDEX["text_search"])
    older = {k: v for k, v in GET_INDEX.items() if k not in ("index_mode", "text_search")}
    set_answer(canned, "get_index", ok(older))
    assert canned.execute("SELECT index_mode, text_search FROM s3vl.describe_index('demo')"
                          ).fetchone() == (None, [])


def test_reinstall_over_the_old_describe_index(canned: Any, local_stack: Any) -> None:
    """describe_index's result columns changed: install.sql replaces an older one in place."""
    canned.execute("DROP FUNCTION s3vl.describe_index(text, text)")
    canned.execute(
        "CREATE FUNCTION s3vl.describe_index(index_name_param text DEFAULT NULL, "
        "index_arn_param text DEFAULT NULL) RETURNS TABLE (index_name text, index_arn text, "
        "vector_bucket_name text, dimension integer, distance_metric text, data_type text, "
        "non_filterable_metadata_keys text[], creation_time timestamptz) LANGUAGE sql "
        "AS $$ SELECT NULL::text, NULL::text, NULL::text, 1, NULL::text, NULL::text, "
        "NULL::text[], NULL::timestamptz $$")
    install(local_stack.admin_dsn(canned.info.dbname))
    set_answer(canned, "get_index", ok(GET_INDEX))
    assert canned.execute("SELECT index_mode FROM s3vl.describe_index('demo')").fetchone() == (
        "ENHANCED",)


# --- cache ------------------------------------------------------------------------------------

def test_cache_covers_text_and_hybrid_queries(canned: Any) -> None:
    canned.execute("SELECT s3vl.set_cache('demo', '10 minutes')")
    set_answer(canned, "query_vectors", ok(TEXT_ROWS))
    text = "SELECT * FROM s3vl.search_text('b', 'name', 'demo')"
    first = canned.execute(text).fetchall()
    assert canned.execute(text).fetchall() == first
    assert query_calls(canned) == 1
    # The same text on another key, another text, and the jsonb form of another key set miss.
    canned.execute("SELECT * FROM s3vl.search_text('b', 'description', 'demo')").fetchall()
    canned.execute("SELECT * FROM s3vl.search_text('c', 'name', 'demo')").fetchall()
    assert query_calls(canned) == 3
    # The jsonb form of the same query is the same query.
    canned.execute("SELECT * FROM s3vl.search_text('{\"name\": \"b\"}'::jsonb, 'demo')").fetchall()
    assert query_calls(canned) == 3

    set_answer(canned, "query_vectors", ok(HYBRID_ROWS))
    hybrid = "SELECT * FROM s3vl.hybrid_search(ARRAY[1, 0, 0]::float8[], 'b', 'name', 'demo')"
    rows = canned.execute(hybrid).fetchall()
    assert canned.execute(hybrid).fetchall() == rows and len(rows) == 3
    assert query_calls(canned) == 4
    # A vector query with the same vector is not answered from the hybrid entry.
    set_answer(canned, "query_vectors", ok([{"vector_id": "v", "distance": 0.0,
                                              "similarity_score": 1.0, "metadata": {}}]))
    assert canned.execute("SELECT vector_id FROM s3vl.query_vectors(ARRAY[1, 0, 0]::float8[], "
                          "'demo')").fetchall() == [("v",)]
    assert query_calls(canned) == 5


def test_writes_and_administration_invalidate_text_entries(canned: Any) -> None:
    canned.execute("SELECT s3vl.set_cache('demo', '10 minutes')")
    set_answer(canned, "query_vectors", ok(TEXT_ROWS))
    set_answer(canned, "delete_vectors", ok({"deleted": 1, "calls": 1}))
    set_answer(canned, "add_text_search", ok(GET_INDEX))
    text = "SELECT * FROM s3vl.search_text('b', 'name', 'demo')"
    canned.execute(text).fetchall()
    canned.execute("SELECT s3vl.delete_vectors(index_name => 'demo', vector_ids => ARRAY['p-2'])")
    canned.execute(text).fetchall()
    assert query_calls(canned) == 2
    canned.execute("SELECT s3vl.add_text_search('demo', 'body')")
    canned.execute(text).fetchall()
    assert query_calls(canned) == 3
    canned.execute(text).fetchall()
    assert query_calls(canned) == 3


# --- privileges -------------------------------------------------------------------------------

def test_readers_search_and_only_admins_administer(canned: Any) -> None:
    set_answer(canned, "query_vectors", ok(TEXT_ROWS))
    set_answer(canned, "update_index_mode", ok(GET_INDEX))
    reader, admin = (f"s3vl_t_{uuid.uuid4().hex[:8]}" for _ in range(2))
    canned.execute(f"CREATE ROLE {reader} LOGIN IN ROLE s3vl_reader")
    canned.execute(f"CREATE ROLE {admin} LOGIN IN ROLE s3vl_admin")
    try:
        canned.execute(f"SET ROLE {reader}")
        assert len(canned.execute("SELECT * FROM s3vl.search_text('b', 'name', 'demo')"
                                  ).fetchall()) == 2
        assert len(canned.execute("SELECT * FROM s3vl.hybrid_search('{1,0,0}', "
                                  "'{\"name\": \"b\"}'::jsonb, 'demo')").fetchall()) == 2
        for statement in ("SELECT s3vl.set_index_mode('demo', 'ENHANCED')",
                          "SELECT s3vl.add_text_search('demo', 'name')",
                          "SELECT s3vl.drop_text_search('demo', 'name')",
                          "SELECT s3vl._search_answer('x', 'x', false, NULL, "
                          "'{\"a\": \"b\"}', 'demo', NULL, 1, true, NULL)"):
            expect_error(canned, statement, None, "42501")
        canned.execute("RESET ROLE")
        canned.execute(f"SET ROLE {admin}")
        canned.execute("SELECT s3vl.set_index_mode('demo', 'ENHANCED')")
        canned.execute("RESET ROLE")
        assert last_request(canned)["operation"] == "update_index_mode"
    finally:
        canned.execute("RESET ROLE")
        canned.execute(f"DROP ROLE {reader}")
        canned.execute(f"DROP ROLE {admin}")


def test_public_cannot_search(canned: Any) -> None:
    nobody = f"s3vl_t_{uuid.uuid4().hex[:8]}"
    canned.execute(f"CREATE ROLE {nobody} LOGIN")
    try:
        canned.execute(f"SET ROLE {nobody}")
        expect_error(canned, "SELECT * FROM s3vl.search_text('b', 'name', 'demo')", None,
                     "42501")
    finally:
        canned.execute("RESET ROLE")
        canned.execute(f"DROP ROLE {nobody}")

