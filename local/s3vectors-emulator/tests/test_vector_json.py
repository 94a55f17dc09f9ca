"""The fast body parser for PutVectors/QueryVectors: same answers as the ordinary JSON path.

`vector_json.loads_with_arrays` turns vector data into numpy rows without a Python float per
number. It must take ordinary bodies, give back exactly what orjson would (numbers as float64 rows),
and step aside (None) for every body whose vector data is not a flat array of numbers, so that the
ordinary path reports the error. Over HTTP, each such body must still be a ValidationException.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator_helpers import IndexFactory, post
from s3vectors_emulator import ServerHandle
from s3vectors_emulator.api import vector_json


def _as_lists(value: Any) -> Any:
    """The fast path's result with numpy rows turned back into lists, to compare with orjson."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_lists(v) for v in value]
    return value


def put_body(rows: list[list[float]], metadata: list[dict[str, Any]] | None = None) -> bytes:
    vectors = [
        {"key": f"k{i}", "data": {"float32": row}, "metadata": (metadata or [{}] * len(rows))[i]}
        for i, row in enumerate(rows)
    ]
    return orjson.dumps({"vectorBucketName": "b", "indexName": "i", "vectors": vectors})


def test_put_body_takes_the_fast_path_and_matches_orjson() -> None:
    rows = np.random.default_rng(3).standard_normal((50, 16)).tolist()
    metadata = [{"n": i, "tags": ["a", "[b]"], "note": "x[y"} for i in range(50)]
    body = put_body(rows, metadata)
    fast = vector_json.loads_with_arrays(body)
    assert fast is not None
    parsed, row_count = fast
    assert row_count == 50
    assert isinstance(parsed["vectors"][0]["data"]["float32"], np.ndarray)
    assert _as_lists(parsed) == orjson.loads(body)


def test_query_body_takes_the_fast_path() -> None:
    body = orjson.dumps(
        {"indexArn": "arn", "topK": 3, "queryVector": {"float32": [1, 2.5, -3e-7]}}
    )
    fast = vector_json.loads_with_arrays(body)
    assert fast is not None
    parsed, row_count = fast
    assert row_count == 1
    assert parsed["queryVector"]["float32"].tolist() == [1.0, 2.5, -3e-7]
    assert parsed["topK"] == 3


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ('{"float32": [1, "NaN", 2]}', "botocore's NaN string"),
        ('{"float32": [1, true, 2]}', "a boolean"),
        ('{"float32": [1, null, 2]}', "a null"),
        ('{"float32": [[1], [2], [3]]}', "nested arrays with as many leaves as elements"),
        ('{"float32": [[1, 2], [], 3]}', "nested arrays balancing out"),
        ('{"float32": [1e400, 2, 3]}', "a number beyond double range"),
        ('{"float32": [-9223372036854775809, 2, 3]}', "an integer beyond 64 bits"),
    ],
)
def test_vector_data_that_is_not_flat_numbers_steps_aside(data: str, why: str) -> None:
    body = ('{"vectorBucketName": "b", "indexName": "i", "vectors": [{"key": "a", "data": '
            + data + "}]}").encode()
    assert vector_json.loads_with_arrays(body) is None, why


@pytest.mark.parametrize(
    "body",
    [
        b'{"vectors": [{"key": "\\u005b", "data": {"float32": [[1], [2]]}}]}',  # escape spells [
        b"[1, 2, 3]",
        b'{"vectors": [',
        b"",
    ],
)
def test_escapes_non_objects_and_broken_json_step_aside(body: bytes) -> None:
    assert vector_json.loads_with_arrays(body) is None


def test_other_shapes_of_data_stay_plain_for_the_validator() -> None:
    body = b'{"vectors": [{"key": "a", "data": {"float16": [1, 2]}}, {"key": "b", "data": 5}]}'
    fast = vector_json.loads_with_arrays(body)
    assert fast is not None
    parsed, row_count = fast
    assert row_count == 0
    assert parsed == orjson.loads(body)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
scalar = st.one_of(st.integers(-(2**40), 2**40), finite, st.text(max_size=5), st.booleans())


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(st.one_of(finite, st.integers(-(2**53), 2**53)), min_size=1,
                           max_size=6), min_size=1, max_size=6),
    meta=st.dictionaries(st.text(min_size=1, max_size=4),
                         st.one_of(scalar, st.lists(scalar, max_size=3)), max_size=3),
)
def test_any_flat_body_parses_as_orjson_does(rows: list[list[float]], meta: dict[str, Any]) -> None:
    body = json.dumps(
        {"vectors": [{"key": f"k{i}", "data": {"float32": r}, "metadata": meta}
                     for i, r in enumerate(rows)]},
        ensure_ascii=False,
    ).encode()
    fast = vector_json.loads_with_arrays(body)
    if b"\\" in body:  # escaped text is left to the ordinary parser
        assert fast is None
        return
    assert fast is not None
    parsed, row_count = fast
    assert row_count == len(rows)
    expected = orjson.loads(body)
    for vector in expected["vectors"]:
        vector["data"]["float32"] = [float(x) for x in vector["data"]["float32"]]
    assert _as_lists(parsed) == expected


def test_nested_single_element_arrays_are_rejected_over_http(
    server: ServerHandle, make_index: IndexFactory
) -> None:
    index = make_index(dimension=3)
    vectors = [{"key": "a", "data": {"float32": [[1.0], [2.0], [3.0]]}}]
    status, headers, body = post(server.url, "PutVectors", {**index, "vectors": vectors})
    assert status == 400, body
    assert headers["x-amzn-ErrorType"].startswith("ValidationException")
    status, _, body = post(server.url, "GetVectors", {**index, "keys": ["a"]})
    assert status == 200 and body["vectors"] == []


def test_fast_path_put_and_query_round_trip_over_http(
    server: ServerHandle, make_index: IndexFactory
) -> None:
    index = make_index(dimension=4, metric="euclidean")
    rows = [[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]]
    vectors = [{"key": f"k{i}", "data": {"float32": r}, "metadata": {"i": i}}
               for i, r in enumerate(rows)]
    status, _, body = post(server.url, "PutVectors", {**index, "vectors": vectors})
    assert status == 200, body
    status, _, body = post(
        server.url,
        "QueryVectors",
        {**index, "topK": 2, "queryVector": {"float32": [0, 2, 0, 0]}, "returnDistance": True,
         "returnMetadata": True},
    )
    assert status == 200, body
    assert [v["key"] for v in body["vectors"]] == ["k1", "k2"]
    assert body["vectors"][0]["distance"] == 0.0
    assert body["vectors"][0]["metadata"] == {"i": 1}
    status, _, body = post(server.url, "GetVectors", {**index, "keys": ["k2"], "returnData": True})
    stored = body["vectors"][0]["data"]["float32"]
    assert stored == [float(np.float32(x)) for x in rows[2]]


def test_plain_json_switch_turns_the_fast_path_off_with_the_same_answers() -> None:
    from s3vectors_emulator import start_server

    rows = np.random.default_rng(5).standard_normal((20, 8)).tolist()
    answers = []
    for fast in (True, False):
        with start_server(fast_json=fast) as plain:
            assert plain.emulator.dispatcher.fast_json is fast
            post(plain.url, "CreateVectorBucket", {"vectorBucketName": "bkt"})
            index = {"vectorBucketName": "bkt", "indexName": "idx"}
            create = {**index, "dataType": "float32", "dimension": 8, "distanceMetric": "cosine"}
            post(plain.url, "CreateIndex", create)
            vectors = [{"key": f"k{i}", "data": {"float32": r}} for i, r in enumerate(rows)]
            assert post(plain.url, "PutVectors", {**index, "vectors": vectors})[0] == 200
            query = {**index, "topK": 5, "queryVector": {"float32": rows[3]}}
            query["returnDistance"] = True
            answers.append(post(plain.url, "QueryVectors", query)[2]["vectors"])
    assert answers[0] == answers[1]
    assert answers[0][0]["key"] == "k3"
