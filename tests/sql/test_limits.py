"""The SQL limits (s3vl.limits()) agree with the function's limits module and the service facts,
and the SQLSTATE table is the one the docs show."""

from __future__ import annotations

from typing import Any

import pytest

from s3vl_lambda import limits as fn
from sql.sql_helpers import REPO_ROOT

pytestmark = pytest.mark.stack


def test_sql_limits_match_the_function(db: Any) -> None:
    rows = {r[0]: (r[1], r[2]) for r in db.execute("SELECT name, min_value, max_value FROM "
                                                    "s3vl.limits()").fetchall()}
    assert rows["dimension"] == (fn.MIN_DIMENSION, fn.MAX_DIMENSION)
    assert rows["top_k"] == (fn.MIN_TOP_K, fn.MAX_TOP_K)
    assert rows["max_results"] == (fn.MIN_LIST_MAX_RESULTS, fn.MAX_LIST_MAX_RESULTS)
    assert rows["segment_count"] == (fn.MIN_SEGMENT_COUNT, fn.MAX_SEGMENT_COUNT)
    assert rows["segment_index"] == (0, fn.MAX_SEGMENT_COUNT - 1)
    assert rows["vector_id_length"] == (fn.MIN_KEY_LENGTH, fn.MAX_KEY_LENGTH)
    assert rows["timeout_seconds"] == (1, 900)  # aws_lambda.request_timeout_ms 1..900000
    # docs/protocol.md: a project choice (AWS documents no depth limit), the same in the function.
    assert rows["max_filter_depth"] == (1, 32)
    assert rows["max_attempts"] == (1, 20)


def test_sqlstate_table_is_documented(db: Any) -> None:
    doc = (REPO_ROOT / "docs" / "sql-reference.md").read_text()
    codes = db.execute("SELECT sqlstate, retryable FROM s3vl.error_codes()").fetchall()
    assert len(codes) == 12
    for sqlstate, _retryable in codes:
        assert f"`{sqlstate}`" in doc, sqlstate
