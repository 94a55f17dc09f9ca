"""get_index, get_vectors, list_vectors, put_vectors, delete_vectors against the project's
in-process S3 Vectors emulator."""

from __future__ import annotations

from typing import Any

import pytest

from s3vl_lambda import limits

from .conftest import BUCKET, INDEX, INDEX_ARN, Invoke


def _vec(i: int) -> list[float]:
    return [float(i + 1), 0.5, -0.25, 1.0]


def _put(invoke: Invoke, n: int, **extra: Any) -> dict[str, Any]:
    vectors = [{"key": f"k{i}", "data": _vec(i), "metadata": {"n": i}} for i in range(n)]
    return invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": vectors, **extra})


def test_get_index_describes_the_index(invoke: Invoke, served_index: dict[str, Any]) -> None:
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert env["success"] is True, env
    result = env["result"]
    assert result["dimension"] == 4
    assert result["distance_metric"] == "cosine"
    assert result["data_type"] == "float32"
    assert result["index_name"] == INDEX and result["vector_bucket_name"] == BUCKET
    assert result["non_filterable_metadata_keys"] == []


def test_bucket_and_index_name_work_instead_of_arn(
    invoke: Invoke, served_index: dict[str, Any]
) -> None:
    assert _put(invoke, 2)["success"]
    env = invoke(
        {
            "operation": "get_vectors",
            "vector_bucket_name": BUCKET,
            "index_name": INDEX,
            "vector_ids": ["k1"],
        }
    )
    assert env["result"][0]["found"] is True
    assert env["result"][0]["embedding"] == _vec(1)


def test_missing_index_is_not_found(invoke: Invoke, served_index: dict[str, Any]) -> None:
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN.replace(INDEX, "no-such")})
    assert env["success"] is False
    assert env["error"]["type"] == "NotFound"
    assert env["error"]["code"] == "NotFoundException"
    assert env["error"]["retryable"] is False


def test_put_1200_vectors_takes_three_calls(
    invoke: Invoke, served_index: dict[str, Any], api_calls: list[str]
) -> None:
    env = _put(invoke, 1200)
    assert env["result"] == {"written": 1200, "calls": 3}
    assert api_calls.count("PutVectors") == 3
    pages = served_index["client"].get_paginator("list_vectors").paginate(indexArn=INDEX_ARN)
    assert sum(len(page["vectors"]) for page in pages) == 1200


def test_get_250_ids_takes_three_calls_and_keeps_request_order(
    invoke: Invoke, served_index: dict[str, Any], api_calls: list[str]
) -> None:
    _put(invoke, 300)
    api_calls.clear()
    ids = [f"k{i}" for i in reversed(range(250))]
    ids[10] = "missing-key"
    env = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "vector_ids": ids})
    assert api_calls.count("GetVectors") == 3
    result = env["result"]
    assert [r["vector_id"] for r in result] == ids
    assert result[10] == {"vector_id": "missing-key", "embedding": None, "metadata": {},
                          "found": False}
    assert result[0] == {"vector_id": "k249", "embedding": _vec(249), "metadata": {"n": 249},
                         "found": True}
    assert sum(r["found"] for r in result) == 249


def test_get_vectors_options_and_duplicates(invoke: Invoke, served_index: dict[str, Any]) -> None:
    _put(invoke, 3)
    env = invoke(
        {
            "operation": "get_vectors",
            "index_arn": INDEX_ARN,
            "vector_ids": ["k2", "k0", "k2"],
            "include_vector_data": False,
            "include_metadata": False,
        }
    )
    assert env["result"] == [
        {"vector_id": "k2", "embedding": None, "metadata": {}, "found": True},
        {"vector_id": "k0", "embedding": None, "metadata": {}, "found": True},
    ]


def test_list_vectors_page_shape(invoke: Invoke, served_index: dict[str, Any]) -> None:
    _put(invoke, 5)
    env = invoke(
        {"operation": "list_vectors", "index_arn": INDEX_ARN, "return_data": True,
         "max_results": 1000}
    )
    result = env["result"]
    assert result["total_count"] == 5 == len(result["vectors"])
    assert result["next_token"] is None
    by_id = {v["vector_id"]: v for v in result["vectors"]}
    assert by_id["k3"] == {"vector_id": "k3", "vector_data": _vec(3), "metadata": {"n": 3}}


def test_list_vectors_defaults_omit_data(invoke: Invoke, served_index: dict[str, Any]) -> None:
    _put(invoke, 2)
    env = invoke({"operation": "list_vectors", "index_arn": INDEX_ARN})
    assert all(v["vector_data"] is None for v in env["result"]["vectors"])
    assert all("n" in v["metadata"] for v in env["result"]["vectors"])


def test_list_vectors_sends_segments_and_token(
    invoke: Invoke,
    served_index: dict[str, Any],
    api_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from s3vl_lambda.operations import read

    sent: list[dict[str, Any]] = []
    real_call = read.call

    def spy(ref: Any, deadline: Any, api: str, **params: Any) -> dict[str, Any]:
        sent.append(params)
        return real_call(ref, deadline, api, **params)

    _put(invoke, 100)
    # A real token of segment 3 of 4 (the emulator refuses made-up ones, as the service does).
    token = served_index["client"].list_vectors(
        indexArn=INDEX_ARN, segmentCount=4, segmentIndex=3, maxResults=2)["nextToken"]
    monkeypatch.setattr(read, "call", spy)
    env = invoke(
        {"operation": "list_vectors", "index_arn": INDEX_ARN, "segment_count": 4,
         "segment_index": 3, "next_token": token, "max_results": 7}
    )
    assert env["success"] is True, env
    assert sent[0]["segmentCount"] == 4 and sent[0]["segmentIndex"] == 3
    assert sent[0]["nextToken"] == token and sent[0]["maxResults"] == 7
    assert len(env["result"]["vectors"]) == 7


@pytest.mark.parametrize(
    ("extra", "field", "needle"),
    [
        ({"max_results": 0}, "max_results", "between 1 and 1000"),
        ({"max_results": 1001}, "max_results", "between 1 and 1000"),
        ({"segment_count": 17, "segment_index": 0}, "segment_count", "between 1 and 16"),
        ({"segment_count": 4}, "segment_index", "required"),
        ({"segment_index": 1}, "segment_count", "required"),
        ({"segment_count": 2, "segment_index": 2}, "segment_index", "less than segment_count"),
        ({"next_token": 5}, "next_token", "string"),
        ({"return_data": 1}, "return_data", "boolean"),
    ],
)
def test_list_vectors_validation(
    invoke: Invoke, served_index: dict[str, Any], api_calls: list[str],
    extra: dict[str, Any], field: str, needle: str,
) -> None:
    env = invoke({"operation": "list_vectors", "index_arn": INDEX_ARN, **extra})
    assert env["success"] is False
    assert env["error"]["field"] == field and needle in env["error"]["message"]
    assert api_calls == []


@pytest.mark.parametrize(
    ("vectors", "field", "needle"),
    [
        ([{"key": "a", "data": [1.0, 2.0]}], "vectors[1].data", "index dimension 4"),
        ([{"key": "a", "data": [0.0, 0.0, 0.0, 0.0]}], "vectors[1].data", "all-zero"),
        ([{"key": "", "data": _vec(0)}], "vectors[1].key", "between 1 and 1024"),
        ([{"key": "x" * 1025, "data": _vec(0)}], "vectors[1].key", "between 1 and 1024"),
        ([{"key": "k0", "data": _vec(0)}], "vectors[1].key", "duplicates vectors[0].key"),
        ([{"key": "a", "data": [1.0, float("inf"), 0.0, 0.0]}], "vectors[1].data[1]", "finite"),
        ([{"key": "a", "data": _vec(0), "metadata": [1]}], "vectors[1].metadata", "object"),
        ([{"key": "a", "data": _vec(0), "metadata": {"t": "x" * 3000}}],
         "vectors[1].metadata", "filterable metadata is"),
        ([{"key": "a", "data": _vec(0), "metadata": {f"m{i}": i for i in range(51)}}],
         "vectors[1].metadata", "at most 50"),
        (["not an object"], "vectors[1]", "object"),
    ],
)
def test_bad_put_changes_nothing(
    invoke: Invoke, served_index: dict[str, Any], api_calls: list[str],
    vectors: list[Any], field: str, needle: str,
) -> None:
    good = {"key": "k0", "data": _vec(0)}
    env = invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": [good, *vectors]})
    assert env["success"] is False
    assert env["error"]["type"] == "ValidationError"
    assert env["error"]["field"] == field, env["error"]
    assert needle in env["error"]["message"]
    assert "PutVectors" not in api_calls
    assert served_index["client"].list_vectors(indexArn=INDEX_ARN)["vectors"] == []


def test_put_accepts_float32_object_form(invoke: Invoke, served_index: dict[str, Any]) -> None:
    env = invoke({"operation": "put_vectors", "index_arn": INDEX_ARN,
                  "vectors": [{"key": "f", "data": {"float32": _vec(7)}}]})
    assert env["result"] == {"written": 1, "calls": 1}
    got = served_index["client"].get_vectors(indexArn=INDEX_ARN, keys=["f"], returnData=True)
    assert got["vectors"][0]["data"]["float32"] == _vec(7)


def test_delete_vectors_in_chunks_of_500(
    invoke: Invoke, served_index: dict[str, Any], api_calls: list[str]
) -> None:
    _put(invoke, 1001)
    api_calls.clear()
    keys = [f"k{i}" for i in range(1001)]
    env = invoke({"operation": "delete_vectors", "index_arn": INDEX_ARN, "keys": keys})
    assert env["result"] == {"deleted": 1001, "calls": 3}
    assert api_calls.count("DeleteVectors") == 3
    assert served_index["client"].list_vectors(indexArn=INDEX_ARN)["vectors"] == []


def test_delete_validation(invoke: Invoke, served_index: dict[str, Any]) -> None:
    env = invoke({"operation": "delete_vectors", "index_arn": INDEX_ARN, "keys": ["ok", 3]})
    assert env["error"]["field"] == "keys[1]"
    env = invoke({"operation": "delete_vectors", "index_arn": INDEX_ARN, "keys": []})
    assert env["error"]["field"] == "keys" and "empty" in env["error"]["message"]


def test_large_vectors_split_by_request_size(
    invoke: Invoke, api_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vl_lambda.operations import write

    chunks = list(
        write.chunks([({"key": str(i)}, 9 * 1024 * 1024) for i in range(5)],
                      limits.MAX_PUT_VECTORS_PER_CALL,
                      limits.MAX_REQUEST_BYTES - limits.REQUEST_BYTES_HEADROOM)
    )
    assert [len(c) for c in chunks] == [2, 2, 1]


def test_failed_chunk_reports_what_the_other_calls_wrote(
    invoke: Invoke, served_index: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks are sent concurrently: one failing call must not hide what the others wrote.
    from s3vl_lambda.errors import S3vlError
    from s3vl_lambda.operations import write

    real_call = write.call

    def failing_call(ref: Any, deadline: Any, api: str, **params: Any) -> Any:
        if any(v["key"] == "k700" for v in params.get("vectors", [])):
            raise S3vlError("Throttled", "slow down", code="TooManyRequestsException",
                            retryable=True)
        return real_call(ref, deadline, api, **params)

    monkeypatch.setattr(write, "call", failing_call)
    env = _put(invoke, 1200)
    assert env["success"] is False
    assert env["error"]["type"] == "Throttled" and env["error"]["retryable"] is True
    assert "(700 of 1200 were written by other calls of this request)" in env["error"]["message"]
    listed = invoke({"operation": "list_vectors", "index_arn": INDEX_ARN, "max_results": 1000})
    assert listed["result"]["total_count"] == 700
