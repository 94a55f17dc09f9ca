"""Structured logs and EMF metrics go to stdout, carry the request id, never vector contents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from .conftest import INDEX_ARN, Invoke, index_response


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_success_emits_a_log_line_and_latency_metrics(
    invoke: Invoke, stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response(
        "query_vectors",
        {"vectors": [{"key": "a", "distance": 0.1}], "distanceMetric": "cosine"},
    )
    secret = [0.123456789, 0.987654321, 0.555555555, 0.444444444]
    env = invoke({"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": secret})
    out = capsys.readouterr().out
    assert "0.123456789" not in out and "0.987654321" not in out
    lines = _lines(out)
    log = next(x for x in lines if x.get("message") == "request done")
    assert log["request_id"] == env["request_id"]
    assert log["operation"] == "query_vectors" and log["result_count"] == 1
    assert log["dimension"] == 4
    emf = next(x for x in lines if "_aws" in x and "Latency" in x)
    assert emf["operation"] == "query_vectors"
    assert emf["ResultCount"] == [1.0]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "s3vl"


def test_failure_counts_errors_by_type(
    invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    env = invoke({"operation": "query_vectors", "index_arn": "bad"})
    lines = _lines(capsys.readouterr().out)
    by_type = next(x for x in lines if "ErrorsByType" in x)
    assert by_type["error_type"] == "ValidationError"
    assert by_type["operation"] == "query_vectors"
    log = next(x for x in lines if x.get("message") == "request failed")
    assert log["request_id"] == env["request_id"]
    assert log["level"] == "WARNING" and log["error_type"] == "ValidationError"


def test_query_texts_and_page_tokens_are_never_logged(
    invoke: Invoke, stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.add_response(
        "query_vectors",
        {"vectors": [{"key": "a", "scores": {"bm25Scores": [{"metadataKey": "n", "score": 1.0}]}},
                     {"key": "b"}],
         "distanceMetric": "cosine", "nextToken": "secret-next-token"},
    )
    invoke({"operation": "query_vectors", "index_arn": INDEX_ARN, "top_k": 300, "max_pages": 1,
            "page_token": "secret-page-token", "query_texts": {"n": "private words"}})
    out = capsys.readouterr().out
    for secret in ("private words", "secret-page-token", "secret-next-token"):
        assert secret not in out
    log = next(x for x in _lines(out) if x.get("message") == "request done")
    assert log["query_texts_count"] == 1 and log["continued"] is True
    assert log["max_pages"] == 1 and log["result_count"] == 2
