"""query_vectors with query_texts (full-text, hybrid) and page by page, against botocore's Stubber
answering with QueryVectorsOutput shapes (QueryScores, Bm25Score) from botocore's model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from s3vl_lambda import limits

from .conftest import INDEX_ARN, Invoke, index_response


def _text_hit(key: str, bm25: dict[str, float] | None = None, fused: float | None = None,
              distance: float | None = None) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    if bm25:
        scores["bm25Scores"] = [{"metadataKey": k, "score": s} for k, s in bm25.items()]
    if fused is not None:
        scores["fused"] = fused
    if distance is not None:
        scores["vectorDistance"] = distance
    return {"key": key, "metadata": {"id": key}, "scores": scores}


def _answer(*hits: dict[str, Any], metric: str = "cosine", token: str | None = None
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"vectors": list(hits), "distanceMetric": metric}
    if token:
        out["nextToken"] = token
    return out


def _text_params(top_k: int, texts: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "indexArn": INDEX_ARN, "topK": top_k, "returnMetadata": True, "returnScores": True,
        "queryTexts": [{"metadataKey": k, "text": t} for k, t in texts],
    }
    params.update(extra)
    return params


def _request(**fields: Any) -> dict[str, Any]:
    return {"operation": "query_vectors", "index_arn": INDEX_ARN, **fields}


def test_text_only_sends_texts_and_scores_and_makes_no_get_index(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_response(
        "query_vectors",
        _answer(_text_hit("b", {"name": 3.0, "body": 1.25}), _text_hit("a", {"body": 2.0})),
        _text_params(5, [("name", "trail shoes"), ("body", "waterproof")]),
    )
    env = invoke(_request(query_texts={"name": "trail shoes", "body": "waterproof"}, top_k=5))
    assert env["success"] is True, env
    assert env["result"] == [
        {"vector_id": "b", "distance": None, "similarity_score": None, "metadata": {"id": "b"},
         "text_score": 4.25, "bm25_scores": {"name": 3.0, "body": 1.25}, "fused_score": None},
        {"vector_id": "a", "distance": None, "similarity_score": None, "metadata": {"id": "a"},
         "text_score": 2.0, "bm25_scores": {"body": 2.0}, "fused_score": None},
    ]
    stubbed.assert_no_pending_responses()


def test_text_rows_keep_the_service_ranking(invoke: Invoke, stubbed: Stubber) -> None:
    """BM25 order is the service's; the function must not re-sort (e.g. by a summed score)."""
    stubbed.add_response("query_vectors", _answer(
        _text_hit("first", {"name": 1.0}), _text_hit("second", {"name": 5.0})))
    env = invoke(_request(query_texts={"name": "x"}, return_metadata=False))
    assert [r["vector_id"] for r in env["result"]] == ["first", "second"]
    assert all(r["metadata"] == {} for r in env["result"])


def test_hybrid_maps_fused_bm25_and_vector_distance(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response(metric="euclidean"), {"indexArn": INDEX_ARN})
    stubbed.add_response(
        "query_vectors",
        _answer(
            _text_hit("both", {"name": 1.5}, fused=0.0325, distance=3.0),
            _text_hit("text-only", {"name": 2.0}, fused=0.0164),
            _text_hit("vector-only", fused=0.0161, distance=0.0),
            metric="euclidean",
        ),
        _text_params(3, [("name", "trail")], queryVector={"float32": [1.0, 0.0, 0.0, 0.0]}),
    )
    env = invoke(_request(query_vector=[1.0, 0.0, 0.0, 0.0], query_texts={"name": "trail"},
                          top_k=3))
    assert env["success"] is True, env
    rows = {r["vector_id"]: r for r in env["result"]}
    assert [r["vector_id"] for r in env["result"]] == ["both", "text-only", "vector-only"]
    assert rows["both"]["distance"] == 3.0
    assert rows["both"]["similarity_score"] == 0.25  # euclidean: 1 / (1 + d)
    assert rows["both"]["fused_score"] == 0.0325 and rows["both"]["text_score"] == 1.5
    assert rows["text-only"]["distance"] is None
    assert rows["text-only"]["similarity_score"] is None
    assert rows["vector-only"]["text_score"] is None
    assert rows["vector-only"]["bm25_scores"] == {}
    assert rows["vector-only"]["similarity_score"] == 1.0
    stubbed.assert_no_pending_responses()


def test_hybrid_checks_the_vector_dimension_before_querying(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_response("get_index", index_response(dimension=4))
    env = invoke(_request(query_vector=[1.0, 0.0], query_texts={"name": "x"}))
    assert env["error"]["field"] == "query_vector"
    assert "does not match the index dimension 4" in env["error"]["message"]
    stubbed.assert_no_pending_responses()  # and no QueryVectors (a call would raise)


def test_text_query_follows_pages_until_top_k(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("query_vectors", _answer(
        _text_hit("a", {"name": 3.0}), _text_hit("b", {"name": 2.0}), token="t1"),
        _text_params(3, [("name", "x")]))
    stubbed.add_response("query_vectors", _answer(
        _text_hit("c", {"name": 1.0}), _text_hit("d", {"name": 0.5})),
        _text_params(3, [("name", "x")], nextToken="t1"))
    env = invoke(_request(query_texts={"name": "x"}, top_k=3))
    assert [r["vector_id"] for r in env["result"]] == ["a", "b", "c"]


def test_service_validation_error_is_a_validation_error(invoke: Invoke, stubbed: Stubber) -> None:
    message = "Text search is not supported for an index in CLASSIC mode"
    stubbed.add_client_error("query_vectors", "ValidationException", message, 400)
    env = invoke(_request(query_texts={"name": "x"}))
    assert env["error"]["type"] == "ValidationError"
    assert env["error"]["code"] == "ValidationException"
    assert env["error"]["message"] == f"query_vectors: {message}"
    assert env["error"]["retryable"] is False


def test_query_texts_from_json_text_keep_key_order(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("query_vectors", _answer(),
                         _text_params(10, [("zeta", "1"), ("alpha", "2")]))
    env = invoke(json.dumps(_request(query_texts={"zeta": "1", "alpha": "2"})))
    assert env["success"] is True and env["result"] == []


@pytest.mark.parametrize("text", ["x" * limits.MAX_QUERY_TEXT_LENGTH, " a ", "日本語"])
def test_query_text_limits_are_inclusive(invoke: Invoke, stubbed: Stubber, text: str) -> None:
    keys = [f"k{i}" for i in range(limits.MAX_QUERY_TEXTS - 1)] + ["k" * 63]
    stubbed.add_response("query_vectors", _answer(),
                         _text_params(10, [(k, text) for k in keys]))
    env = invoke(_request(query_texts={k: text for k in keys}))
    assert env["success"] is True, env


# Page by page ------------------------------------------------------------------------------

def _vector_page(*pairs: tuple[str, float], token: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"vectors": [{"key": k, "distance": d} for k, d in pairs],
                           "distanceMetric": "cosine"}
    if token:
        out["nextToken"] = token
    return out


def _vector_params(top_k: int, **extra: Any) -> dict[str, Any]:
    return {"indexArn": INDEX_ARN, "topK": top_k, "queryVector": {"float32": [1.0, 0.0, 0.0, 0.0]},
            "returnMetadata": False, "returnDistance": True, **extra}


def _paged(**fields: Any) -> dict[str, Any]:
    return _request(query_vector=[1.0, 0.0, 0.0, 0.0], return_metadata=False, **fields)


def test_max_pages_stops_and_hands_back_the_token(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _vector_page(("a", 0.1), ("b", 0.2), token="t1"),
                         _vector_params(6))
    env = invoke(_paged(top_k=6, max_pages=1))
    assert env["result"] == {
        "vectors": [{"vector_id": "a", "distance": 0.1, "similarity_score": 0.9, "metadata": {}},
                    {"vector_id": "b", "distance": 0.2, "similarity_score": 0.8, "metadata": {}}],
        "next_token": "t1"}
    stubbed.assert_no_pending_responses()


def test_pages_continue_from_the_token_without_repeats(invoke: Invoke, stubbed: Stubber) -> None:
    """Following next_token page by page gives the rows of the whole query, each once."""
    pages = [_vector_page(("a", 0.1), ("b", 0.2), token="t1"),
             _vector_page(("c", 0.3), ("d", 0.4), token="t2"),
             _vector_page(("e", 0.5))]
    stubbed.add_response("get_index", index_response())
    for i, page in enumerate(pages):
        extra = {"nextToken": f"t{i}"} if i else {}
        stubbed.add_response("query_vectors", page, _vector_params(5, **extra))
    seen: list[str] = []
    token: str | None = None
    calls = 0
    while True:
        env = invoke(_paged(top_k=5, page_token=token, max_pages=1))
        assert env["success"] is True, env
        seen += [r["vector_id"] for r in env["result"]["vectors"]]
        token = env["result"]["next_token"]
        calls += 1
        if token is None:
            break
    assert seen == ["a", "b", "c", "d", "e"] and calls == 3
    stubbed.assert_no_pending_responses()


def test_page_token_alone_follows_pages_until_top_k(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _vector_page(("c", 0.3), token="t2"),
                         _vector_params(2, nextToken="t1"))
    stubbed.add_response("query_vectors", _vector_page(("d", 0.4), ("e", 0.5), token="t3"),
                         _vector_params(2, nextToken="t2"))
    env = invoke(_paged(top_k=2, page_token="t1"))
    # Page mode drops nothing: all rows of the pages fetched, and the token to continue.
    assert [r["vector_id"] for r in env["result"]["vectors"]] == ["c", "d", "e"]
    assert env["result"]["next_token"] == "t3"


def test_null_paging_fields_still_ask_for_the_page_object(
    invoke: Invoke, stubbed: Stubber
) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _vector_page(("a", 0.1)), _vector_params(3))
    env = invoke(_paged(top_k=3, page_token=None))
    assert env["result"] == {"vectors": [{"vector_id": "a", "distance": 0.1,
                                          "similarity_score": 0.9, "metadata": {}}],
                             "next_token": None}


def test_text_query_pages_too(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("query_vectors", _answer(_text_hit("a", {"name": 1.0}), token="n1"),
                         _text_params(200, [("name", "x")], nextToken="n0"))
    env = invoke(_request(query_texts={"name": "x"}, top_k=200, page_token="n0", max_pages=1))
    assert env["result"]["next_token"] == "n1"
    assert env["result"]["vectors"][0]["bm25_scores"] == {"name": 1.0}


def test_a_service_that_repeats_the_token_is_an_error(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _vector_page(("a", 0.1), token="t1"),
                         _vector_params(9, nextToken="t1"))
    env = invoke(_paged(top_k=9, page_token="t1", max_pages=3))
    assert env["error"]["code"] == "PagingError"


# Batches stay vector-only; filter depth ------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("query_texts", {"name": "x"}),
                                              ("page_token", "t"), ("max_pages", 1)])
def test_batch_refuses_text_and_paging(
    invoke: Invoke, stubbed: Stubber, field: str, value: Any
) -> None:
    env = invoke({"operation": "query_vectors_batch", "index_arn": INDEX_ARN,
                  "query_vectors": [[1.0, 0.0, 0.0, 0.0]], field: value})
    assert env["error"]["type"] == "ValidationError" and env["error"]["field"] == field
    assert "query_vectors" in env["error"]["message"]
    stubbed.assert_no_pending_responses()


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"a": 1} if levels % 2 else {"a": {"$eq": 1}}
    for _ in range((levels - 1) // 2):
        node = {"$and": [node]}
    return node


def test_filter_at_the_depth_limit_is_sent(invoke: Invoke, stubbed: Stubber) -> None:
    deep = _deep(limits.MAX_FILTER_DEPTH)
    stubbed.add_response("get_index", index_response())
    stubbed.add_response("query_vectors", _vector_page(),
                         _vector_params(10, filter=deep))
    env = invoke(_paged(metadata_filter=deep))
    assert env["success"] is True, env


@pytest.mark.parametrize("levels", [limits.MAX_FILTER_DEPTH + 1, 100_000])
def test_deeper_filters_are_refused_before_any_call(
    invoke: Invoke, stubbed: Stubber, levels: int
) -> None:
    """Even far past Python's recursion limit (an event Lambda already decoded), a clear
    ValidationError, not a RecursionError or an InternalError."""
    env = invoke(_paged(metadata_filter=_deep(levels)))
    assert env["error"]["type"] == "ValidationError"
    assert env["error"]["field"] == "metadata_filter"
    assert f"at most {limits.MAX_FILTER_DEPTH}" in env["error"]["message"]
    stubbed.assert_no_pending_responses()


def test_batch_filter_depth_is_checked(invoke: Invoke, stubbed: Stubber) -> None:
    env = invoke({"operation": "query_vectors_batch", "index_arn": INDEX_ARN,
                  "query_vectors": [[1.0, 0.0, 0.0, 0.0]],
                  "metadata_filter": _deep(limits.MAX_FILTER_DEPTH + 1)})
    assert env["error"]["field"] == "metadata_filter"


def test_paged_query_out_of_time_hands_back_the_unfetched_page(
    invoke: Invoke, stubbed: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Time runs out before the second page: the first page's rows and the token of the second
    page come back (no Timeout error, nothing lost); a non-paged query still fails."""
    from s3vl_lambda.operations import query

    real_call = query.call
    calls: list[str] = []

    def call_then_time_out(ref: Any, deadline: Any, api: str, **params: Any) -> Any:
        calls.append(api)
        if len(calls) > 1:
            raise deadline.expired_error(api)
        return real_call(ref, deadline, api, **params)

    monkeypatch.setattr(query, "call", call_then_time_out)
    stubbed.add_response("query_vectors", _answer(_text_hit("a", {"n": 1.0}), token="p2"),
                         _text_params(500, [("n", "x")]))
    env = invoke(_request(query_texts={"n": "x"}, top_k=500, page_token=None))
    assert env["success"] is True, env
    assert env["result"]["next_token"] == "p2"
    assert [r["vector_id"] for r in env["result"]["vectors"]] == ["a"]

    calls.clear()
    stubbed.add_response("query_vectors", _answer(_text_hit("a", {"n": 1.0}), token="p2"))
    env = invoke(_request(query_texts={"n": "x"}, top_k=500))
    assert env["error"]["type"] == "Timeout"
