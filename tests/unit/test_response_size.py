"""Answers that would not fit in a Lambda response become a clear error, not a runtime failure."""

from __future__ import annotations

from typing import Any

import pytest

from s3vl_lambda import limits
from s3vl_lambda.response_size import check_response_size, might_be_large

from .conftest import INDEX_ARN, Invoke


def test_small_query_answers_skip_the_size_check() -> None:
    hits = [{"vector_id": str(i), "distance": 0.1, "metadata": {}} for i in range(100)]
    assert might_be_large(hits) is False
    assert might_be_large([*hits, hits[0]]) is True
    assert might_be_large([{"vector_id": "a", "embedding": [1.0]}]) is True
    assert might_be_large({"vectors": [{"vector_id": "a", "vector_data": None}]}) is False


def test_oversized_answer_names_the_limit(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from s3vl_lambda.operations import OPERATIONS

    def huge(req: Any, deadline: Any) -> list[dict[str, Any]]:
        return [{"vector_id": f"k{i}", "embedding": [0.123456789] * 4096} for i in range(200)]

    monkeypatch.setitem(OPERATIONS, "get_vectors", huge)
    env = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "vector_ids": ["k"]})
    assert env["success"] is False
    assert env["error"]["type"] == "ValidationError"
    limit = limits.MAX_RESPONSE_BYTES - limits.RESPONSE_BYTES_HEADROOM
    assert str(limit) in env["error"]["message"]


def test_answer_just_under_the_limit_passes() -> None:
    check_response_size([{"vector_id": "k", "embedding": [0.5] * 1000}] * 200)
