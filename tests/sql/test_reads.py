"""Reads on the real local stack: SQL -> aws_lambda stand-in -> Lambda endpoint -> emulator."""

from __future__ import annotations

from typing import Any

import pytest

from sql.conftest import PAGED_COUNT, TEST_VECTORS, SqlIndex

pytestmark = pytest.mark.stack

Q = [1.0, 0.0, 0.0]


def test_query_vectors_named_form_ranks_by_distance(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute(
        "SELECT vector_id, distance, similarity_score, metadata FROM s3vl.query_vectors("
        "query_vector => %s::float8[], index_name => %s, top_k => 3)", (Q, sql_index.name)
    ).fetchall()
    assert [r[0] for r in rows] == ["doc-1", "doc-2", "doc-3"]
    assert [round(r[1], 5) for r in rows] == [0.0, 0.2, 1.0]
    assert [round(r[2], 5) for r in rows] == [1.0, 0.8, 0.0]
    assert rows[1][3] == TEST_VECTORS["doc-2"][1]


def test_query_vectors_index_first_positional_form(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute("SELECT vector_id FROM s3vl.query_vectors(%s, %s::float8[], 2)",
                      (sql_index.name, [0.0, 1.0, 0.0])).fetchall()
    assert [r[0] for r in rows] == ["doc-3", "doc-2"]


def test_query_vectors_sample_positional_form_and_real_array(db: Any, sql_index: SqlIndex) -> None:
    sample = db.execute("SELECT vector_id FROM s3vl.query_vectors(ARRAY[1.0, 0.0, 0.0], %s, "
                        "NULL, 1)", (sql_index.name,)).fetchall()
    real = db.execute("SELECT vector_id FROM s3vl.query_vectors(ARRAY[1, 0, 0]::real[], "
                      "index_name => %s, top_k => 1)", (sql_index.name,)).fetchall()
    by_arn = db.execute("SELECT vector_id FROM s3vl.query_vectors(%s::float8[], "
                        "index_arn => %s, top_k => 1)", (Q, sql_index.arn)).fetchall()
    assert sample == real == by_arn == [("doc-1",)]


def test_query_vectors_filter_and_no_metadata(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute(
        "SELECT vector_id, metadata FROM s3vl.query_vectors(%s::float8[], index_name => %s, "
        "top_k => 10, return_metadata => false, metadata_filter => %s::jsonb)",
        (Q, sql_index.name, '{"genre": "sport"}')).fetchall()
    assert [r[0] for r in rows] == ["doc-3", "doc-4"]
    assert all(r[1] == {} for r in rows)


def test_query_vectors_top_k_bounds_rows(db: Any, sql_index: SqlIndex) -> None:
    count = db.execute("SELECT count(*) FROM s3vl.query_vectors(%s::float8[], %s, top_k => 2)",
                       (Q, sql_index.name)).fetchone()[0]
    assert count == 2


def test_get_vectors_one_row_per_id_in_request_order(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute(
        "SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors("
        "ARRAY['doc-2', 'missing', 'doc-1'], index_name => %s)", (sql_index.name,)).fetchall()
    assert [(r[0], r[3]) for r in rows] == [("doc-2", True), ("missing", False), ("doc-1", True)]
    assert rows[0][1] == pytest.approx(TEST_VECTORS["doc-2"][0], abs=1e-6)
    assert rows[0][2] == TEST_VECTORS["doc-2"][1]
    assert rows[1][1] is None and rows[1][2] == {}


def test_get_vectors_repeated_ids_get_a_row_each(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute("SELECT vector_id, found FROM s3vl.get_vectors(ARRAY['doc-1', 'nope', "
                      "'doc-1'], %s)", (sql_index.name,)).fetchall()
    assert rows == [("doc-1", True), ("nope", False), ("doc-1", True)]


def test_get_vectors_without_data_or_metadata(db: Any, sql_index: SqlIndex) -> None:
    row = db.execute("SELECT embedding, metadata, found FROM s3vl.get_vectors(ARRAY['doc-3'], "
                     "%s, NULL, false, false)", (sql_index.name,)).fetchone()
    assert row == (None, {}, True)


def test_list_vectors_pages_visit_every_vector_once(db: Any, sql_index: SqlIndex) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        rows = db.execute(
            "SELECT vector_id, embedding, metadata, response_next_token, total_count "
            "FROM s3vl.list_vectors(index_name => %s, max_results => 10, next_token => %s, "
            "return_data => true)", (sql_index.paged_name, token)).fetchall()
        pages += 1
        assert len(rows) <= 10
        seen += [r[0] for r in rows if r[0] is not None]
        assert all(r[4] == len([x for x in rows if x[0] is not None]) for r in rows)
        for r in rows:
            if r[0] is not None:
                assert r[1] is not None and len(r[1]) == 3
                assert r[2] == {"i": int(r[0][2:])}
        tokens = {r[3] for r in rows}
        assert len(tokens) == 1
        token = tokens.pop()
        if token is None:
            break
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == [f"p-{i:03d}" for i in range(PAGED_COUNT)]
    assert len(seen) == len(set(seen))


def test_list_vectors_defaults_omit_data(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute("SELECT vector_id, embedding, "
                      "metadata FROM s3vl.list_vectors(index_arn => %s)",
                      (sql_index.arn,)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(TEST_VECTORS)
    assert all(r[1] is None and isinstance(r[2], dict) for r in rows)


def test_list_vectors_segments_partition_the_index(db: Any, sql_index: SqlIndex) -> None:
    seen: list[str] = []
    for segment in range(3):
        token = None
        while True:
            rows = db.execute(
                "SELECT vector_id, response_next_token FROM s3vl.list_vectors(index_name => %s, "
                "max_results => 5, next_token => %s, segment_count => 3, segment_index => %s)",
                (sql_index.paged_name, token, segment)).fetchall()
            seen += [r[0] for r in rows if r[0] is not None]
            token = rows[0][1] if rows else None
            if token is None:
                break
    assert sorted(seen) == [f"p-{i:03d}" for i in range(PAGED_COUNT)]


def test_scan_vectors_returns_every_vector(db: Any, sql_index: SqlIndex) -> None:
    rows = db.execute("SELECT vector_id, embedding FROM s3vl.scan_vectors(%s, "
                      "return_data => true, page_size => 4)", (sql_index.paged_name,)).fetchall()
    assert sorted(r[0] for r in rows) == [f"p-{i:03d}" for i in range(PAGED_COUNT)]
    assert all(len(r[1]) == 3 for r in rows)


def test_describe_index_is_the_live_get_index(db: Any, sql_index: SqlIndex) -> None:
    row = db.execute("SELECT index_name, index_arn, vector_bucket_name, dimension, "
                     "distance_metric, data_type FROM s3vl.describe_index(%s)",
                     (sql_index.name,)).fetchone()
    assert row == (sql_index.name, sql_index.arn, "s3vl-demo", 3, "cosine", "float32")
    by_arn = db.execute("SELECT index_name FROM s3vl.describe_index(index_arn => %s)",
                        (sql_index.arn,)).fetchone()
    assert by_arn == (sql_index.name,)


def test_registry_records_dimension_and_metric(db: Any, sql_index: SqlIndex) -> None:
    row = db.execute("SELECT index_arn, bucket_name, region, account_id, dimension, "
                     "distance_metric, is_active, description FROM s3vl.get_index_info(%s)",
                     (sql_index.name,)).fetchone()
    assert row == (sql_index.arn, "s3vl-demo", "us-east-1", "123456789012", 3, "cosine", True,
                   "sql tests")
    names = [r[0] for r in db.execute("SELECT index_name FROM s3vl.list_indexes()").fetchall()]
    assert sql_index.name in names
    assert db.execute("SELECT s3vl.resolve_index_arn(%s)", (sql_index.name,)).fetchone() == (
        sql_index.arn,)
    # An ARN passes through resolve_index_arn unchanged, as in the reference sample.
    assert db.execute("SELECT s3vl.resolve_index_arn(%s)", (sql_index.arn,)).fetchone() == (
        sql_index.arn,)


def test_deactivate_activate_unregister(db: Any, local_stack: Any, sql_index: SqlIndex) -> None:
    name = sql_index.name + "-alias"
    db.execute("SELECT s3vl.register_index(%s, %s)", (name, sql_index.arn))
    try:
        assert db.execute("SELECT s3vl.deactivate_index(%s)", (name,)).fetchone() == (True,)
        with pytest.raises(Exception) as caught:
            db.execute("SELECT * FROM s3vl.query_vectors(%s::float8[], %s)", (Q, name))
        assert getattr(caught.value, "sqlstate", None) == "42704"
        assert "activate_index" in str(caught.value.diag.message_hint)  # type: ignore[attr-defined]
        assert db.execute("SELECT s3vl.activate_index(%s)", (name,)).fetchone() == (True,)
        assert db.execute("SELECT count(*) FROM s3vl.query_vectors(%s::float8[], %s)",
                          (Q, name)).fetchone() == (4,)
    finally:
        assert db.execute("SELECT s3vl.unregister_index(%s)", (name,)).fetchone() == (True,)
    assert db.execute("SELECT count(*) FROM s3vl.index_registry WHERE index_name = %s",
                      (name,)).fetchone() == (0,)


def test_validate_and_get_config_on_the_stack(db: Any, local_stack: Any) -> None:
    row = db.execute("SELECT is_valid, lambda_arn, aws_region, error_message, response_time_ms "
                     "FROM s3vl.validate_config()").fetchone()
    assert row[:4] == (True, local_stack.lambda_arn, "us-east-1", None)
    assert row[4] >= 0
    cfg = db.execute("SELECT lambda_arn, aws_region, timeout_seconds, last_validation_status "
                     "FROM s3vl.get_config()").fetchone()
    assert cfg == (local_stack.lambda_arn, "us-east-1", 30, "HEALTHY")


def test_reads_work_in_a_read_only_transaction(db: Any, local_stack: Any,
                                               sql_index: SqlIndex) -> None:
    """As on an Aurora reader instance: nothing on the read path writes."""
    import psycopg

    with psycopg.connect(local_stack.dsn) as conn:
        conn.execute("SET TRANSACTION READ ONLY")
        assert conn.execute("SELECT count(*) FROM s3vl.query_vectors(%s::float8[], %s)",
                            (Q, sql_index.name)).fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM s3vl.scan_vectors(%s)",
                            (sql_index.paged_name,)).fetchone() == (PAGED_COUNT,)
        assert conn.execute("SELECT is_valid FROM s3vl.validate_config()").fetchone() == (True,)
        conn.rollback()
