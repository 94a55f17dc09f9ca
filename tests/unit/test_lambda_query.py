"""query_vectors and query_vectors_batch: the exact requests the function sends and the answers
the emulator never gives (odd pages, repeated tokens, errors), pinned with a Stubber. The same paths
against the in-process emulator are in test_lambda_query_emulator.py."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from s3vl_lambda import limits
from s3vl_lambda.operations.query import similarity

from .conftest import INDEX_ARN, Invoke, index_response


def _hits(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"key": k, "distance": d, "metadata": {"k": k}} for k, d in pairs]


def _page(
    *pairs: tuple[str, float], metric: str = "cosine", token: str | None = None
) -> dict[str, Any]:
    page: dict[str, Any] = {"vectors": _hits(*pairs), "distanceMetric": metric}
    if token:
        page["nextToken"] = token
    return page


def _nested(depth: int) -> dict[str, Any]:
    """A valid filter exactly `depth` levels deep (each {"$and": [...]} adds two)."""
    node: dict[str, Any] = {"a": 1} if depth % 2 else {"a": {"$eq": 1}}
    for _ in range((depth - 1) // 2):
        node = {"$and": [node]}
    return node


def _query(**extra: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "operation": "query_vectors",
        "index_arn": INDEX_ARN,
        "query_vector": [0.1, 0.2, 0.3, 0.4],
    }
    req.update(extra)
    return req


def test_cosine_results_in_ascending_distance(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(metric="cosine"), {"indexArn": INDEX_ARN})
    stubbed.add_response(
        "query_vectors",
        _page(("a", 0.05), ("b", 0.25)),
        {
            "indexArn": INDEX_ARN,
            "topK": 2,
            "queryVector": {"float32": [0.1, 0.2, 0.3, 0.4]},
            "returnMetadata": True,
            "returnDistance": True,
            "filter": {"genre": "doc"},
        },
    )
    env = invoke(_query(top_k=2, metadata_filter={"genre": "doc"}))
    assert env["success"] is True, env
    assert env["result"] == [
        {"vector_id": "a", "distance": 0.05, "similarity_score": 0.95, "metadata": {"k": "a"}},
        {"vector_id": "b", "distance": 0.25, "similarity_score": 0.75, "metadata": {"k": "b"}},
    ]
    stubbed.assert_no_pending_responses()


def test_euclidean_similarity_is_monotone_into_unit_interval(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_response("get_index", index_response(metric="euclidean"), {"indexArn": INDEX_ARN})
    stubbed.add_response(
        "query_vectors", _page(("a", 0.0), ("b", 3.0), metric="euclidean")
    )
    env = invoke(_query(top_k=2))
    scores = [r["similarity_score"] for r in env["result"]]
    assert scores == [1.0, 0.25]


@pytest.mark.parametrize("d", [0.0, 0.5, 1.0, 2.0, 100.0])
def test_similarity_formulas(d: float) -> None:
    assert similarity(d, "cosine") == pytest.approx(1.0 - d)
    assert 0.0 < similarity(d, "euclidean") <= 1.0
    assert similarity(d, "euclidean") >= similarity(d + 1.0, "euclidean")


def test_metric_is_looked_up_once_per_index(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(metric="euclidean"), {"indexArn": INDEX_ARN})
    for _ in range(3):
        stubbed.add_response("query_vectors", _page(("a", 1.0), metric="euclidean"))
    for _ in range(3):
        env = invoke(_query(top_k=1))
        assert env["result"][0]["similarity_score"] == 0.5
    stubbed.assert_no_pending_responses()  # one GetIndex for three queries


def test_pages_are_followed_until_top_k(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(), {"indexArn": INDEX_ARN})
    stubbed.add_response(
        "query_vectors", _page(("a", 0.1), ("b", 0.2), token="t1")
    )
    stubbed.add_response(
        "query_vectors",
        _page(("c", 0.3), ("d", 0.4), token="t2"),
        {
            "indexArn": INDEX_ARN,
            "topK": 3,
            "queryVector": ANY,
            "returnMetadata": True,
            "returnDistance": True,
            "nextToken": "t1",
        },
    )
    env = invoke(_query(top_k=3))
    assert [r["vector_id"] for r in env["result"]] == ["a", "b", "c"]
    stubbed.assert_no_pending_responses()


def test_pages_stop_at_the_end(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(), {"indexArn": INDEX_ARN})
    stubbed.add_response("query_vectors", _page(("a", 0.1), token="t1"))
    stubbed.add_response("query_vectors", _page(("b", 0.2)))
    env = invoke(_query(top_k=50))
    assert [r["vector_id"] for r in env["result"]] == ["a", "b"]


def test_return_metadata_false_gives_empty_objects(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(), {"indexArn": INDEX_ARN})
    page = {"vectors": [{"key": "a", "distance": 0.5}], "distanceMetric": "cosine"}
    stubbed.add_response("query_vectors", page)
    env = invoke(_query(return_metadata=False))
    assert env["result"] == [
        {"vector_id": "a", "distance": 0.5, "similarity_score": 0.5, "metadata": {}}
    ]


@pytest.mark.parametrize(
    ("extra", "field", "needle"),
    [
        ({"top_k": limits.MAX_TOP_K + 1}, "top_k", f"between 1 and {limits.MAX_TOP_K}"),
        ({"top_k": 0}, "top_k", "between 1 and"),
        ({"top_k": "5"}, "top_k", "integer"),
        ({"top_k": 2.5}, "top_k", "integer"),
        ({"return_metadata": "yes"}, "return_metadata", "boolean"),
        ({"metadata_filter": [1]}, "metadata_filter", "object"),
        ({"query_vector": []}, "query_vector", "between 1 and 4096"),
        ({"query_vector": [0.0] * 4097}, "query_vector", "between 1 and 4096"),
        ({"query_vector": [1.0, "x", 0.0, 0.0]}, "query_vector[1]", "number"),
        ({"query_vector": [1.0, True, 0.0, 0.0]}, "query_vector[1]", "number"),
        ({"query_vector": "1,2,3"}, "query_vector", "array"),
        ({"query_vector": None}, "query_vector",
         "required unless query_text or query_texts is given"),
        ({"query_texts": []}, "query_texts", "JSON object {metadata_key: text}"),
        ({"query_texts": {}}, "query_texts", "has 0 entries; between 1 and 10"),
        ({"query_texts": {f"k{i}": "x" for i in range(11)}}, "query_texts",
         "has 11 entries; between 1 and 10"),
        ({"query_texts": {"": "x"}}, "query_texts", 'key "" must be between 1 and 63'),
        ({"query_texts": {"k" * 64: "x"}}, "query_texts", "between 1 and 63 characters, got 64"),
        ({"query_texts": {"name": 5}}, "query_texts", 'key "name" must be a string, got number'),
        ({"query_texts": {"name": ""}}, "query_texts", "between 1 and 1024 characters, got 0"),
        ({"query_texts": {"name": "x" * 1025}}, "query_texts",
         "between 1 and 1024 characters, got 1025"),
        ({"query_texts": {"name": " \t\n"}}, "query_texts", 'key "name" must not be blank'),
        ({"page_token": ""}, "page_token", "between 1 and 4096 characters, got 0"),
        ({"page_token": "t" * 4097}, "page_token", "between 1 and 4096 characters, got 4097"),
        ({"page_token": 7}, "page_token", "string"),
        ({"max_pages": 0}, "max_pages", f"between 1 and {limits.MAX_QUERY_PAGES}, got 0"),
        ({"max_pages": limits.MAX_QUERY_PAGES + 1}, "max_pages", "between 1 and"),
        ({"max_pages": "1"}, "max_pages", "integer"),
        ({"metadata_filter": _nested(limits.MAX_FILTER_DEPTH + 1)}, "metadata_filter",
         f"nested more than {limits.MAX_FILTER_DEPTH} levels deep"),
    ],
)
def test_bad_query_input_is_refused_before_any_call(
    invoke: Invoke, stubbed: Stubber, extra: dict[str, Any], field: str, needle: str
) -> None:
    env = invoke(_query(**extra))
    assert env["success"] is False
    assert env["error"]["type"] == "ValidationError"
    assert env["error"]["field"] == field
    assert needle in env["error"]["message"]
    stubbed.assert_no_pending_responses()  # and nothing was called (a call would raise)


def test_dimension_mismatch_names_the_index_dimension(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(dimension=384), {"indexArn": INDEX_ARN})
    env = invoke(_query(query_vector=[1.0, 2.0, 3.0]))
    assert env["error"]["message"] == (
        "query_vector: dimension 3 does not match the index dimension 384"
    )


def test_top_k_as_integral_float_is_accepted(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(), {"indexArn": INDEX_ARN})
    stubbed.add_response("query_vectors", _page(("a", 0.1)))
    assert invoke(_query(top_k=5.0))["success"] is True


def test_batch_one_bad_query_fails_only_its_entry(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(), {"indexArn": INDEX_ARN})
    stubbed.add_response("query_vectors", _page(("a", 0.1)))
    env = invoke(
        {
            "operation": "query_vectors_batch",
            "index_arn": INDEX_ARN,
            "query_vectors": [[0.1, 0.2, 0.3, 0.4], [1.0, 2.0]],
            "query_ids": ["q-good", "q-bad"],
            "top_k": 1,
        }
    )
    assert env["success"] is True, env
    good, bad = env["result"]
    assert good["query_index"] == 0 and good["query_id"] == "q-good" and good["success"] is True
    assert good["results"][0]["vector_id"] == "a"
    assert bad["query_index"] == 1 and bad["query_id"] == "q-bad" and bad["success"] is False
    assert bad["error"]["type"] == "ValidationError"
    assert bad["error"]["field"] == "query_vectors[1]"


def test_batch_keeps_request_order(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(metric="euclidean"), {"indexArn": INDEX_ARN})
    for _ in range(5):
        stubbed.add_response("query_vectors", _page(("a", 1.0), metric="euclidean"))
    env = invoke(
        {
            "operation": "query_vectors_batch",
            "index_arn": INDEX_ARN,
            "query_vectors": [[float(i), 1.0, 1.0, 1.0] for i in range(5)],
        }
    )
    assert [e["query_index"] for e in env["result"]] == [0, 1, 2, 3, 4]
    assert all(e["success"] and e["query_id"] is None for e in env["result"])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"query_vectors": []}, "query_vectors"),
        ({"query_vectors": [[1.0]] * (limits.MAX_BATCH_QUERIES + 1)}, "query_vectors"),
        ({"query_vectors": [[1.0]], "query_ids": ["a", "b"]}, "query_ids"),
        ({"query_vectors": [[1.0]], "query_ids": [1]}, "query_ids"),
    ],
)
def test_batch_request_errors(
    invoke: Invoke, stubbed: Stubber, extra: dict[str, Any], field: str
) -> None:
    env = invoke({"operation": "query_vectors_batch", "index_arn": INDEX_ARN, **extra})
    assert env["success"] is False and env["error"]["field"] == field


def test_without_get_index_permission_the_query_still_runs(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_client_error("get_index", "AccessDeniedException", "no GetIndex", 403)
    stubbed.add_response("query_vectors", _page(("a", 3.0), metric="euclidean"))
    env = invoke(_query(top_k=1))
    assert env["success"] is True, env
    # The metric came from the QueryVectors answer.
    assert env["result"][0]["similarity_score"] == 0.25


def test_query_access_denied_is_reported(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_client_error("query_vectors", "AccessDeniedException", "needs GetVectors", 403)
    env = invoke(_query(metadata_filter={"a": 1}))
    assert env["error"]["type"] == "AccessDenied"
    assert "needs GetVectors" in env["error"]["message"]


def test_running_out_of_time_while_paging_is_a_timeout(
    invoke: Invoke, stubbed: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vl_lambda.deadline import Deadline

    # Two checks per call (before it, and to size the client): GetIndex, page 1, then no time.
    remaining = iter([30.0, 30.0, 30.0, 30.0, -1.0])
    monkeypatch.setattr(Deadline, "remaining", lambda self: next(remaining, -1.0))
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _page(("a", 0.1), token="t1"))
    env = invoke(_query(top_k=5))
    assert env["error"]["type"] == "Timeout" and env["error"]["retryable"] is True
    stubbed.assert_no_pending_responses()


def test_unknown_fields_are_ignored(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _page(("a", 0.1)))
    env = invoke(_query(future_option={"x": 1}, timeout_seconds=30))
    assert env["success"] is True


def test_a_repeated_token_is_an_error_not_a_truncated_answer(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _page(("a", 0.1), token="same"))
    stubbed.add_response("query_vectors", _page(("b", 0.2), token="same"))
    env = invoke(_query(top_k=10))
    assert env["error"]["type"] == "ServiceError"
    assert "2 of top_k 10" in env["error"]["message"]
