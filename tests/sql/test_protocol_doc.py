"""The SQL side against the machine-checked examples of docs/protocol.md: the _*_request builders
produce the example requests, and the example responses come out as the documented rows or
SQLSTATEs (through the canned aws_lambda, so exactly the example bytes are read)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import REPO_ROOT, expect_error, set_answer, sql_message

pytestmark = pytest.mark.stack

EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\s*```json\n(.*?)\n```", re.S)
PLACEHOLDERS = {"<string>": "s", "<integer>": 1, "<number>": 0.5, "<any>": None}


def examples() -> dict[str, dict[str, Any]]:
    text = (REPO_ROOT / "docs" / "protocol.md").read_text()
    return {name: json.loads(body) for name, body in EXAMPLE.findall(text)}


def concrete(value: Any) -> Any:
    """The example with its placeholders replaced by concrete values."""
    if isinstance(value, dict):
        return {k: concrete(v) for k, v in value.items()}
    if isinstance(value, list):
        return [concrete(v) for v in value]
    if isinstance(value, str) and value in PLACEHOLDERS:
        return PLACEHOLDERS[value]
    return value


def without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


BUILDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "get_index": ("SELECT s3vl._get_index_request(%(index_arn)s)", {}),
    "query_vectors": ("SELECT s3vl._query_request(%(index_arn)s, %(query_vector)s::float8[], "
                      "%(top_k)s, %(return_metadata)s, %(metadata_filter)s)",
                      {"top_k": 10, "return_metadata": True, "metadata_filter": None}),
    "get_vectors": ("SELECT s3vl._get_request(%(index_arn)s, %(vector_ids)s::text[], "
                    "%(include_vector_data)s, %(include_metadata)s)",
                    {"include_vector_data": True, "include_metadata": True}),
    "list_vectors": ("SELECT s3vl._list_request(%(index_arn)s, %(max_results)s, %(next_token)s, "
                     "%(return_data)s, %(return_metadata)s, %(segment_count)s, "
                     "%(segment_index)s)",
                     {"max_results": 100, "next_token": None, "return_data": False,
                      "return_metadata": True, "segment_count": None, "segment_index": None}),
    # The prefilter plan of query_vectors_where (sql/30_api/58_where.sql).
    "rank_vectors": ("SELECT s3vl._rank_request(%(index_arn)s, %(query_vector)s::float8[], "
                     "%(vector_ids)s::text[], %(top_k)s, %(return_metadata)s, "
                     "%(metadata_filter)s)",
                     {"top_k": 10, "return_metadata": True, "metadata_filter": None}),
    # Index administration (sql/30_api/57_search.sql); the SQL functions send one key per request.
    "update_index_mode": ("SELECT s3vl._index_mode_request(%(index_arn)s, %(index_mode)s)", {}),
    "add_text_search": ("SELECT s3vl._add_text_search_request(%(index_arn)s, "
                        "%(keys)s::text[], %(languages)s::text[])", {}),
    "drop_text_search": ("SELECT s3vl._drop_text_search_request(%(index_arn)s, "
                         "%(metadata_keys)s::text[])", {}),
    # Management by filter and metadata patches (sql/70_manage.sql).
    "filter_vectors": ("SELECT s3vl._filter_request(%(index_arn)s, %(action)s, "
                       "%(metadata_filter)s, %(return_metadata)s, %(segment_count)s, "
                       "%(page_size)s, %(time_budget_ms)s, %(resume_token)s)",
                       {"return_metadata": True, "segment_count": None, "page_size": None,
                        "time_budget_ms": None, "resume_token": None}),
    "update_metadata": ("SELECT s3vl._update_metadata_request(%(index_arn)s, "
                        "%(vector_ids)s::text[], %(patch)s)", {}),
    # Embeddings (sql/30_api/72_embeddings.sql).
    "embed": ("SELECT s3vl._embed_request(%(index_arn)s, %(model_id)s, %(dimensions)s, "
              "%(texts)s::text[])", {}),
}
# query_vectors with query_texts (text-only or hybrid) has its own builder.
TEXT_QUERY_BUILDER = ("SELECT s3vl._text_query_request(%(index_arn)s, "
                      "%(query_vector)s::float8[], %(query_texts)s, %(top_k)s, "
                      "%(return_metadata)s, %(metadata_filter)s)",
                      {"query_vector": None, "top_k": 10, "return_metadata": True,
                       "metadata_filter": None})


# Examples of an operation in BUILDERS that SQL does not build (yet), each with the reason. Listed
# by name, so that any other example of a built operation fails this test until SQL builds it (or
# it is added here with a reason): nothing is skipped silently.
NOT_BUILT_BY_SQL: dict[str, str] = {
    "query_vectors_one_page": "built by s3vl._query_page_request (query_vectors_where); "
                              "tests/sql/test_query_where.py::"
                              "test_page_requests_and_answers_match_the_protocol_examples",
    "query_vectors_next_page": "built by s3vl._query_page_request (query_vectors_where); "
                               "tests/sql/test_query_where.py::"
                               "test_page_requests_and_answers_match_the_protocol_examples",
    "filter_vectors_list_resumed": "max_vectors is a protocol option SQL leaves at its default "
                                   "(list_vectors_where takes every answer); the rest of the "
                                   "request is checked by filter_vectors_count/_delete",
}


# Operations whose requests this test does not build, each with the reason. Every successful
# example's operation must be in BUILDERS or here, so a new operation in docs/protocol.md fails
# this test until someone decides how SQL covers it.
OPERATIONS_NOT_BUILT_HERE: dict[str, str] = {
    "availability_check": "a constant request (s3vl.validate_config); tests/sql/test_reads.py",
    "query_vectors_batch": "built by s3vl.query_vectors_batch; tests/sql/test_batch.py",
    "put_vectors": "built by the write path; tests/sql/test_writes*.py",
    "delete_vectors": "built by the write path; tests/sql/test_writes*.py",
}


def test_not_built_list_is_current() -> None:
    ex = examples()
    for name in NOT_BUILT_BY_SQL:
        assert name in ex, f"{name}: no such example in docs/protocol.md"
        assert ex[name]["request"].get("operation") in BUILDERS, f"{name}: not a built operation"
    assert not set(BUILDERS) & set(OPERATIONS_NOT_BUILT_HERE)
    for name, example in ex.items():
        if example["response"].get("success"):
            operation = example["request"].get("operation")
            assert operation in BUILDERS or operation in OPERATIONS_NOT_BUILT_HERE, (
                f"{name}: operation {operation!r} is neither built nor listed as not built here")


def test_request_builders_match_the_examples(db: Any) -> None:
    checked = []
    for name, example in examples().items():
        request = example["request"]
        operation = request.get("operation")
        if operation not in BUILDERS or "index_arn" not in request:
            continue  # SQL always names the index by ARN; writes are built elsewhere
        if not example["response"].get("success"):
            continue  # requests SQL refuses before sending (e.g. top_k 10001)
        if name in NOT_BUILT_BY_SQL:
            continue
        query, defaults = (TEXT_QUERY_BUILDER if "query_texts" in request
                           else BUILDERS[operation])
        params = {**defaults, **request}
        if params.get("metadata_filter") is not None:
            params["metadata_filter"] = Jsonb(params["metadata_filter"])
        if "patch" in params:
            params["patch"] = Jsonb(params["patch"])
        if "query_texts" in params:
            params["query_texts"] = Jsonb(params["query_texts"])
        if "text_search" in params:
            params["keys"] = [e["metadata_key"] for e in params["text_search"]]
            params["languages"] = [e.get("language") for e in params["text_search"]]
        built = db.execute(query, params).fetchone()[0]
        assert without_nulls(built) == without_nulls({**defaults, **request}), name
        checked.append(name)
    assert {"get_index", "query_vectors", "get_vectors", "list_vectors", "query_texts",
            "rank_vectors",
            "query_hybrid", "update_index_mode", "add_text_search", "drop_text_search", "embed"
            } <= set(checked)


def test_example_responses_become_rows(canned: Any) -> None:
    ex = examples()
    arn = ex["query_vectors"]["request"]["index_arn"]

    set_answer(canned, "query_vectors", concrete(ex["query_vectors"]["response"]))
    rows = canned.execute("SELECT vector_id, distance, similarity_score, metadata FROM "
                          "s3vl.query_vectors(ARRAY[1, 0, 0]::float8[], index_arn => %s)",
                          (arn,)).fetchall()
    expected = ex["query_vectors"]["response"]["result"]
    assert rows == [(e["vector_id"], e["distance"], e["similarity_score"], e["metadata"])
                    for e in expected]

    set_answer(canned, "get_vectors", concrete(ex["get_vectors"]["response"]))
    rows = canned.execute("SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors("
                          "%s::text[], index_arn => %s)",
                          (ex["get_vectors"]["request"]["vector_ids"], arn)).fetchall()
    assert rows == [(e["vector_id"], e["embedding"], e["metadata"], e["found"])
                    for e in ex["get_vectors"]["response"]["result"]]

    set_answer(canned, "list_vectors", concrete(ex["list_vectors"]["response"]))
    rows = canned.execute("SELECT vector_id, embedding, metadata, response_next_token, "
                          "total_count FROM s3vl.list_vectors(index_arn => %s, max_results => 2, "
                          "return_data => false, return_metadata => false)", (arn,)).fetchall()
    assert rows == [("s", None, None, "s", 2), ("s", None, None, "s", 2)]

    answer = concrete(ex["get_index"]["response"])
    answer["result"]["creation_time"] = "2026-07-15T10:20:30+00:00"  # "<string>" in the doc
    set_answer(canned, "get_index", answer)
    row = canned.execute("SELECT index_name, vector_bucket_name, dimension, distance_metric, "
                         "data_type, non_filterable_metadata_keys, creation_time::text FROM "
                         "s3vl.describe_index(index_arn => %s)", (arn,)).fetchone()
    assert row == ("demo-index", "demo-bucket", 3, "cosine", "float32", ["body"],
                   "2026-07-15 10:20:30+00")


@pytest.mark.parametrize(("name", "sqlstate"), [
    ("error_top_k_too_large", "22023"),
    ("error_dimension_mismatch", "22000"),
    ("error_not_finite", "22000"),
    ("error_index_not_found", "42704"),
    ("error_unknown_operation", "22023"),
    ("error_index_admin_off", "42501"),
    ("error_text_query_refused_by_service", "22023"),
    ("error_query_text_blank", "22023"),
    ("error_no_query", "22023"),
    ("error_filter_too_deep", "22023"),
    ("error_batch_query_texts", "22023"),
    ("error_embedding_model_not_allowed", "42501"),
    ("error_embed_text_blank", "22023"),
    ("error_query_text_dimension", "22000"),
])
def test_example_errors_map_to_sqlstates(canned: Any, name: str, sqlstate: str) -> None:
    response = concrete(examples()[name]["response"])
    set_answer(canned, "*", response)
    expect_error(canned, "SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'demo')", None, sqlstate,
                 "s3vl.get_vectors: " + sql_message(response["error"]),
                 "error type: " + response["error"]["type"])


def test_text_and_hybrid_example_responses_become_rows(canned: Any) -> None:
    ex = examples()
    arn = ex["query_texts"]["request"]["index_arn"]
    set_answer(canned, "query_vectors", concrete(ex["query_texts"]["response"]))
    rows = canned.execute("SELECT vector_id, text_score, metadata FROM s3vl.search_text("
                          "'trail shoes', 'name', index_arn => %s)", (arn,)).fetchall()
    assert rows == [(e["vector_id"], e["text_score"], e["metadata"])
                    for e in ex["query_texts"]["response"]["result"]]

    hybrid = ex["query_hybrid"]
    set_answer(canned, "query_vectors", concrete(hybrid["response"]))
    rows = canned.execute(
        "SELECT vector_id, fused_score, distance, text_score, metadata FROM s3vl.hybrid_search("
        "%s::float8[], %s::jsonb, index_arn => %s, top_k => %s, return_metadata => false, "
        "metadata_filter => %s)",
        (hybrid["request"]["query_vector"], Jsonb(hybrid["request"]["query_texts"]), arn,
         hybrid["request"]["top_k"], Jsonb(hybrid["request"]["metadata_filter"]))).fetchall()
    assert rows == [(e["vector_id"], e["fused_score"], e["distance"], e["text_score"],
                     e["metadata"]) for e in hybrid["response"]["result"]]
    assert any(r[2] is None for r in rows) and any(r[3] is None for r in rows)

    answer = concrete(ex["get_index_text_search"]["response"])
    answer["result"]["creation_time"] = "2026-11-02T10:20:30+00:00"  # may be "<string>"
    set_answer(canned, "get_index", answer)
    row = canned.execute("SELECT index_mode, text_search FROM s3vl.describe_index("
                         "index_arn => %s)", (arn,)).fetchone()
    result = ex["get_index_text_search"]["response"]["result"]
    assert row == (result["index_mode"], result["text_search"])

    for operation in ("update_index_mode", "add_text_search", "drop_text_search"):
        set_answer(canned, operation, concrete(ex[operation]["response"]))
    canned.execute("SELECT s3vl.set_index_mode(%s, 'ENHANCED')", (arn,))
    canned.execute("SELECT s3vl.add_text_search(%s, 'name', 'en')", (arn,))
    canned.execute("SELECT s3vl.drop_text_search(%s, 'body')", (arn,))


@pytest.mark.parametrize(("name", "statement", "sqlstate", "fragment"), [
    ("error_text_query_refused_by_service",
     "SELECT * FROM s3vl.search_text('news', 'genre', 'demo', top_k => 5)", "22023",
     's3vl.search_text: metadata_key "genre": '),
    ("error_index_admin_off", "SELECT s3vl.add_text_search('demo', 'name', 'en')", "42501",
     "s3vl.add_text_search: "),
])
def test_text_search_example_errors_map_to_sqlstates(canned: Any, name: str, statement: str,
                                                     sqlstate: str, fragment: str) -> None:
    response = concrete(examples()[name]["response"])
    set_answer(canned, "*", response)
    expect_error(canned, statement, None, sqlstate, fragment + sql_message(response["error"]),
                 "error type: " + response["error"]["type"])
