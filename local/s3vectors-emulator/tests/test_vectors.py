"""Put/Get/Delete vectors: float32 storage, overwrite, every per-vector and per-call limit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from emulator_helpers import IndexFactory, post


def vec(key: str, data: list[float], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "data": {"float32": data}}
    if metadata is not None:
        item["metadata"] = metadata
    return item


def count_vectors(client: Any, ref: dict[str, str]) -> int:
    return len(client.list_vectors(**ref, maxResults=1000)["vectors"])


def test_put_get_roundtrip_stores_float32(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("a", [0.1, 0.2, 1 / 3], {"genre": "x", "n": 1})])
    got = client.get_vectors(**ref, keys=["a"], returnData=True, returnMetadata=True)["vectors"]
    assert got[0]["key"] == "a"
    assert got[0]["metadata"] == {"genre": "x", "n": 1}
    expected = np.array([0.1, 0.2, 1 / 3], dtype=np.float32).astype(np.float64).tolist()
    assert got[0]["data"]["float32"] == expected
    assert got[0]["data"]["float32"][0] != 0.1  # rounded to float32, not kept as sent


def test_get_vectors_without_flags_returns_keys_only(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("a", [1, 2, 3], {"m": 1})])
    got = client.get_vectors(**ref, keys=["a", "missing"])["vectors"]
    assert got == [{"key": "a"}]


def test_put_overwrites_vector_and_metadata(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("a", [1, 0, 0], {"v": 1})])
    client.put_vectors(**ref, vectors=[vec("a", [0, 1, 0])])
    got = client.get_vectors(**ref, keys=["a"], returnData=True, returnMetadata=True)["vectors"][0]
    assert got["data"]["float32"] == [0.0, 1.0, 0.0]
    assert got["metadata"] == {}
    assert count_vectors(client, ref) == 1


def test_delete_vectors_removes_and_ignores_missing(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec(k, [1, i, 0]) for i, k in enumerate("abc")])
    client.delete_vectors(**ref, keys=["a", "zz"])
    remaining = client.get_vectors(**ref, keys=["a", "b", "c"], returnData=True)["vectors"]
    assert [v["key"] for v in remaining] == ["b", "c"]
    assert remaining[1]["data"]["float32"] == [1.0, 2.0, 0.0]  # row moved by the delete intact


def test_batch_limits_at_boundary(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=2)
    client.put_vectors(**ref, vectors=[vec(f"k{i}", [1, i]) for i in range(500)])
    assert len(client.get_vectors(**ref, keys=[f"k{i}" for i in range(100)])["vectors"]) == 100
    client.delete_vectors(**ref, keys=[f"k{i}" for i in range(500)])
    assert count_vectors(client, ref) == 0


@pytest.mark.parametrize(
    ("operation", "build"),
    [
        ("put_vectors", lambda: {"vectors": [vec(f"k{i}", [1, i]) for i in range(501)]}),
        ("get_vectors", lambda: {"keys": [f"k{i}" for i in range(101)]}),
        ("delete_vectors", lambda: {"keys": [f"k{i}" for i in range(501)]}),
    ],
)
def test_batch_limits_past_boundary(
    client: Any, make_index: IndexFactory, operation: str, build: Any
) -> None:
    ref = make_index(dimension=2)
    client.put_vectors(**ref, vectors=[vec("k0", [1, 0])])
    field = "vectors" if operation == "put_vectors" else "keys"
    with pytest.raises(client.exceptions.ValidationException, match=rf"{field}.*(500|100)"):
        getattr(client, operation)(**ref, **build())
    assert count_vectors(client, ref) == 1


def test_key_length_limit(client: Any, unchecked: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("k" * 1024, [1, 0, 0])])
    with pytest.raises(client.exceptions.ValidationException, match=r"key.*1024"):
        client.put_vectors(**ref, vectors=[vec("k" * 1025, [1, 0, 0])])
    with pytest.raises(unchecked.exceptions.ValidationException, match="key"):
        unchecked.put_vectors(**ref, vectors=[vec("", [1, 0, 0])])
    assert count_vectors(client, ref) == 1


def test_wrong_dimension_is_rejected_and_batch_is_atomic(
    client: Any, make_index: IndexFactory
) -> None:
    ref = make_index()
    with pytest.raises(
        client.exceptions.ValidationException,
        match=r": Invalid record for key 'bad': vector must have length 3, but has length 2$",
    ):
        client.put_vectors(**ref, vectors=[vec("good", [1, 0, 0]), vec("bad", [1, 0])])
    assert count_vectors(client, ref) == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e39])
def test_non_finite_values_are_rejected(client: Any, make_index: IndexFactory, bad: float) -> None:
    ref = make_index(metric="euclidean")
    with pytest.raises(client.exceptions.ValidationException, match="NaN or infinity"):
        client.put_vectors(**ref, vectors=[vec("a", [1.0, bad, 0.0])])
    assert count_vectors(client, ref) == 0


def test_zero_vector_rejected_on_cosine_only(client: Any, make_index: IndexFactory) -> None:
    cosine = make_index(metric="cosine")
    with pytest.raises(client.exceptions.ValidationException, match="all zeros"):
        client.put_vectors(**cosine, vectors=[vec("z", [0, 0, 0])])
    euclidean = make_index(metric="euclidean")
    client.put_vectors(**euclidean, vectors=[vec("z", [0, 0, 0])])
    assert count_vectors(client, euclidean) == 1


@pytest.mark.parametrize("bad", ["x", "1.5", True, None, [1]])
def test_non_numeric_data_is_rejected(
    server: Any, client: Any, make_index: IndexFactory, bad: object
) -> None:
    ref = make_index()
    status, headers, body = post(
        server.url,
        "PutVectors",
        {**ref, "vectors": [vec("a", [bad, 1, 2])]},  # type: ignore[list-item]
    )
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "only numbers" in body["message"] or "dimension" in body["message"]
    assert count_vectors(client, ref) == 0


def test_metadata_key_count_limit(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("a", [1, 0, 0], {f"k{i}": i for i in range(50)})])
    with pytest.raises(
        client.exceptions.ValidationException,
        match=r"Invalid record for key .*at most 50 keys, but has 51",
    ):
        client.put_vectors(**ref, vectors=[vec("b", [1, 0, 0], {f"k{i}": i for i in range(51)})])
    assert count_vectors(client, ref) == 1


def _sized(target: int, key: str = "s") -> dict[str, str]:
    """Metadata whose compact JSON encoding is exactly `target` bytes."""
    overhead = len(f'{{"{key}":""}}')
    return {key: "x" * (target - overhead)}


def test_filterable_metadata_limit(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    client.put_vectors(**ref, vectors=[vec("a", [1, 0, 0], _sized(2048))])
    with pytest.raises(
        client.exceptions.ValidationException,
        match=r"Invalid record for key .*Filterable metadata .*2048 bytes, but has 2049.*nonFilter",
    ):
        client.put_vectors(**ref, vectors=[vec("b", [1, 0, 0], _sized(2049))])
    assert count_vectors(client, ref) == 1


def test_total_metadata_limit_with_non_filterable_keys(
    client: Any, make_index: IndexFactory
) -> None:
    ref = make_index(non_filterable=["body"])
    client.put_vectors(**ref, vectors=[vec("a", [1, 0, 0], _sized(40960, "body"))])
    with pytest.raises(
        client.exceptions.ValidationException,
        match=r"Invalid record for key .*40960 bytes, but has 40961",
    ):
        client.put_vectors(**ref, vectors=[vec("b", [1, 0, 0], _sized(40961, "body"))])
    assert count_vectors(client, ref) == 1


def test_metadata_value_types(client: Any, make_index: IndexFactory) -> None:
    ref = make_index()
    ok = {"s": "x", "n": 1.5, "i": 2, "b": True, "l": ["a", "b"]}
    client.put_vectors(**ref, vectors=[vec("a", [1, 0, 0], ok)])
    got = client.get_vectors(**ref, keys=["a"], returnMetadata=True)["vectors"][0]["metadata"]
    assert got == ok
    with pytest.raises(client.exceptions.ValidationException, match="metadata value of 'o'"):
        client.put_vectors(**ref, vectors=[vec("b", [1, 0, 0], {"o": {"nested": 1}})])


def test_missing_index_is_not_found(client: Any, bucket: str) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.put_vectors(
            vectorBucketName=bucket, indexName="missing", vectors=[vec("a", [1, 0, 0])]
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.query_vectors(
            vectorBucketName=bucket, indexName="missing", topK=1, queryVector={"float32": [1, 0, 0]}
        )
