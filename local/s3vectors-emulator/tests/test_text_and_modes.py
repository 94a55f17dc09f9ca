"""Index modes, text search configurations, full-text (BM25) and hybrid (RRF) QueryVectors."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator_helpers import make_client, unique
from s3vectors_emulator import ServerHandle, start_server
from s3vectors_emulator.search.text import TextField, rrf

DOCS = {
    "a": ([1.0, 0.0, 0.0], {"title": "red trail running shoes", "brand": "acme", "n": 1}),
    "b": ([0.9, 0.1, 0.0], {"title": "blue road shoes", "brand": "zeta", "n": 2}),
    "c": ([0.0, 1.0, 0.0], {"title": "waterproof trail jacket", "brand": "acme", "n": 3}),
    "d": ([0.0, 0.0, 1.0], {"title": "wool socks", "brand": "kappa", "n": 4}),
    "e": ([0.5, 0.5, 0.0], {"title": "trail shoes trail shoes", "brand": "zeta", "n": 5}),
}


def _vectors() -> list[dict[str, Any]]:
    return [{"key": k, "data": {"float32": v}, "metadata": m} for k, (v, m) in DOCS.items()]


@pytest.fixture
def text_index(client: Any) -> dict[str, str]:
    bucket = unique("txt")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "docs"}
    client.create_index(
        **ref,
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
        metadataConfiguration={
            "textSearchConfigurations": [
                {"metadataKey": "title", "language": "en"},
                {"metadataKey": "brand"},
            ]
        },
    )
    client.put_vectors(**ref, vectors=_vectors())
    return ref


@pytest.fixture
def classic_server() -> Iterator[ServerHandle]:
    with start_server(classic_buckets=True, text_build_seconds=2.0) as handle:
        yield handle


def _reference_bm25(query: str, key: str, language: str | None) -> list[tuple[str, float]]:
    """An independent ranking: the engine's field over the same documents, built here."""
    field = TextField(language)
    for doc, (_, meta) in DOCS.items():
        field.put(doc, meta[key])
    return field.search(query)


def test_new_buckets_and_indexes_are_enhanced(client: Any, text_index: dict[str, str]) -> None:
    bucket = client.get_vector_bucket(vectorBucketName=text_index["vectorBucketName"])
    assert bucket["vectorBucket"]["defaultIndexMode"] == "ENHANCED"
    index = client.get_index(**text_index)["index"]
    assert index["indexMode"] == "ENHANCED"
    configs = index["metadataConfiguration"]["textSearchConfigurations"]
    assert configs == [
        {"metadataKey": "title", "language": "en", "status": "ACTIVE"},
        {"metadataKey": "brand", "status": "ACTIVE"},
    ]
    with pytest.raises(client.exceptions.ValidationException, match="before 2026-09-30"):
        client.update_index_mode(**text_index, indexMode="CLASSIC")
    with pytest.raises(client.exceptions.ValidationException, match="defaultIndexMode"):
        client.put_vector_bucket_default_index_mode(
            vectorBucketName=text_index["vectorBucketName"], defaultIndexMode="CLASSIC"
        )


def test_text_only_query_ranks_by_bm25(client: Any, text_index: dict[str, str]) -> None:
    found = client.query_vectors(
        **text_index,
        topK=10,
        queryTexts=[{"metadataKey": "title", "text": "trail shoes"}],
        returnScores=True,
        returnDistance=True,
    )["vectors"]
    expected = _reference_bm25("trail shoes", "title", "en")
    assert [v["key"] for v in found] == [k for k, _ in expected]
    for row, (_, score) in zip(found, expected, strict=True):
        assert row["scores"] == {"bm25Scores": [{"metadataKey": "title", "score": score}]}
        assert "distance" not in row  # no vector search ran
    assert {"a", "b", "c", "e"} == {v["key"] for v in found}  # socks match nothing


def test_two_text_queries_sum_their_bm25_scores(client: Any, text_index: dict[str, str]) -> None:
    found = client.query_vectors(
        **text_index,
        topK=3,
        queryTexts=[
            {"metadataKey": "title", "text": "shoes"},
            {"metadataKey": "brand", "text": "acme"},
        ],
        returnScores=True,
    )["vectors"]
    title = dict(_reference_bm25("shoes", "title", "en"))
    brand = dict(_reference_bm25("acme", "brand", None))
    totals = {k: title.get(k, 0.0) + brand.get(k, 0.0) for k in set(title) | set(brand)}
    best = sorted(totals, key=lambda k: (-totals[k], k))[:3]
    assert [v["key"] for v in found] == best
    first = found[0]["scores"]["bm25Scores"]
    assert math.isclose(sum(s["score"] for s in first), totals[best[0]])


def test_hybrid_query_fuses_with_rrf(client: Any, text_index: dict[str, str]) -> None:
    found = client.query_vectors(
        **text_index,
        topK=4,
        queryVector={"float32": [0.0, 0.0, 1.0]},
        queryTexts=[{"metadataKey": "title", "text": "trail"}],
        returnScores=True,
        returnDistance=True,
    )["vectors"]
    vector_order = client.query_vectors(
        **text_index, topK=4, queryVector={"float32": [0.0, 0.0, 1.0]}, returnDistance=True
    )["vectors"]
    text_order = [k for k, _ in _reference_bm25("trail", "title", "en")][:4]
    expected = rrf([[v["key"] for v in vector_order], text_order], k=60)[:4]
    assert [(v["key"], v["scores"]["fused"]) for v in found] == expected
    distances = {v["key"]: v["distance"] for v in vector_order}
    for row in found:
        if row["key"] in distances:
            assert row["scores"]["vectorDistance"] == pytest.approx(distances[row["key"]])
            assert row["distance"] == pytest.approx(distances[row["key"]])
        else:
            assert "vectorDistance" not in row["scores"] and "distance" not in row
        assert ("bm25Scores" in row["scores"]) == (row["key"] in text_order)


def test_filter_applies_to_text_and_vector_rankings(
    client: Any, text_index: dict[str, str]
) -> None:
    text_only = client.query_vectors(
        **text_index,
        topK=10,
        queryTexts=[{"metadataKey": "title", "text": "trail shoes"}],
        filter={"brand": "zeta"},
    )["vectors"]
    assert {v["key"] for v in text_only} == {"b", "e"}
    hybrid = client.query_vectors(
        **text_index,
        topK=10,
        queryVector={"float32": [1.0, 0.0, 0.0]},
        queryTexts=[{"metadataKey": "title", "text": "trail"}],
        filter={"n": {"$gte": 3}},
    )["vectors"]
    assert {v["key"] for v in hybrid} == {"c", "d", "e"}


def test_text_query_pages_with_next_token(client: Any, server: ServerHandle) -> None:
    bucket = unique("txtpg")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "many"}
    client.create_index(
        **ref,
        dataType="float32",
        dimension=2,
        distanceMetric="euclidean",
        metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "t"}]},
    )
    for start in range(0, 250, 125):
        client.put_vectors(
            **ref,
            vectors=[
                {
                    "key": f"k{i:03d}",
                    "data": {"float32": [i, 1]},
                    "metadata": {"t": "word " * (1 + i % 7)},
                }
                for i in range(start, start + 125)
            ],
        )
    query = {"topK": 230, "queryTexts": [{"metadataKey": "t", "text": "word"}]}
    first = client.query_vectors(**ref, **query)
    assert len(first["vectors"]) == 100 and "nextToken" in first
    keys = [v["key"] for v in first["vectors"]]
    token = first["nextToken"]
    while token:
        page = client.query_vectors(**ref, **query, nextToken=token)
        keys += [v["key"] for v in page["vectors"]]
        token = page.get("nextToken")
    assert len(keys) == 230 == len(set(keys))
    paginated = [
        v["key"]
        for page in client.get_paginator("query_vectors").paginate(**ref, **query)
        for v in page["vectors"]
    ]
    assert paginated == keys


def test_writes_keep_text_indexes_current(client: Any, text_index: dict[str, str]) -> None:
    def search(text: str) -> list[str]:
        found = client.query_vectors(
            **text_index, topK=10, queryTexts=[{"metadataKey": "title", "text": text}]
        )
        return [v["key"] for v in found["vectors"]]

    assert search("socks") == ["d"]
    client.put_vectors(
        **text_index,
        vectors=[{"key": "d", "data": {"float32": [0, 0, 1]}, "metadata": {"title": "gloves"}}],
    )
    assert search("socks") == [] and search("gloves") == ["d"]
    client.put_vectors(
        **text_index, vectors=[{"key": "d", "data": {"float32": [0, 0, 1]}, "metadata": {"n": 1}}]
    )
    assert search("gloves") == []
    client.delete_vectors(**text_index, keys=["a"])
    assert "a" not in search("red trail")


def test_update_metadata_configuration_builds_then_serves(classic_server: ServerHandle) -> None:
    client = make_client(classic_server.url)
    bucket = unique("upd")
    client.create_vector_bucket(vectorBucketName=bucket)
    # A bucket "created before 2026-09-30": CLASSIC by default, ENHANCED on request.
    assert (
        client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]["defaultIndexMode"]
        == "CLASSIC"
    )
    client.put_vector_bucket_default_index_mode(
        vectorBucketName=bucket, defaultIndexMode="ENHANCED"
    )
    ref = {"vectorBucketName": bucket, "indexName": "docs"}
    client.create_index(**ref, dataType="float32", dimension=3, distanceMetric="cosine")
    client.put_vectors(**ref, vectors=_vectors())
    answer = client.update_metadata_configuration(
        **ref, add={"textSearchConfigurations": [{"metadataKey": "title", "language": "en"}]}
    )
    assert answer["indexArn"].endswith("/index/docs")
    status = client.get_index(**ref)["index"]["metadataConfiguration"]["textSearchConfigurations"]
    assert status == [{"metadataKey": "title", "language": "en", "status": "BUILDING"}]
    query = {"topK": 3, "queryTexts": [{"metadataKey": "title", "text": "socks"}]}
    with pytest.raises(client.exceptions.ValidationException, match="BUILDING") as caught:
        client.query_vectors(**ref, **query)
    assert caught.value.response["fieldList"][0]["path"] == "queryTexts"
    time.sleep(2.1)
    status = client.get_index(**ref)["index"]["metadataConfiguration"]["textSearchConfigurations"]
    assert status[0]["status"] == "ACTIVE"
    assert [v["key"] for v in client.query_vectors(**ref, **query)["vectors"]] == ["d"]
    with pytest.raises(client.exceptions.ConflictException):
        client.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "title"}]}
        )
    with pytest.raises(client.exceptions.ValidationException, match="not both"):
        client.update_metadata_configuration(
            **ref,
            add={"textSearchConfigurations": [{"metadataKey": "brand"}]},
            delete={"textSearchConfigurations": [{"metadataKey": "title"}]},
        )
    client.update_metadata_configuration(
        **ref, delete={"textSearchConfigurations": [{"metadataKey": "title"}]}
    )
    assert (
        "textSearchConfigurations" not in client.get_index(**ref)["index"]["metadataConfiguration"]
    )
    with pytest.raises(client.exceptions.ValidationException, match="no text search"):
        client.query_vectors(**ref, **query)


def test_at_most_ten_configurations_one_per_key(client: Any, bucket: str) -> None:
    ref = {"vectorBucketName": bucket, "indexName": "ten"}
    client.create_index(**ref, dataType="float32", dimension=3, distanceMetric="cosine")
    client.update_metadata_configuration(
        **ref, add={"textSearchConfigurations": [{"metadataKey": f"k{i}"} for i in range(9)]}
    )
    with pytest.raises(client.exceptions.ValidationException, match="at most 10"):
        client.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "x"}, {"metadataKey": "y"}]}
        )
    with pytest.raises(client.exceptions.ValidationException, match="more than once"):
        client.create_index(
            vectorBucketName=bucket,
            indexName="dup",
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
            metadataConfiguration={
                "textSearchConfigurations": [{"metadataKey": "t"}, {"metadataKey": "t"}]
            },
        )
    unchecked = make_client(client.meta.endpoint_url, validate=False)
    with pytest.raises(client.exceptions.ValidationException, match="language"):
        unchecked.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "z", "language": "xx"}]}
        )


def test_query_texts_must_be_distinct_searchable_keys(
    client: Any, text_index: dict[str, str]
) -> None:
    with pytest.raises(client.exceptions.ValidationException, match="more than once"):
        client.query_vectors(
            **text_index,
            topK=3,
            queryTexts=[
                {"metadataKey": "title", "text": "a"},
                {"metadataKey": "title", "text": "b"},
            ],
        )
    with pytest.raises(client.exceptions.ValidationException, match="no text search"):
        client.query_vectors(**text_index, topK=3, queryTexts=[{"metadataKey": "n", "text": "1"}])
    unchecked = make_client(client.meta.endpoint_url, validate=False)
    with pytest.raises(client.exceptions.ValidationException) as caught:
        unchecked.query_vectors(
            **text_index, topK=3, queryTexts=[{"metadataKey": "title", "text": "x" * 1025}]
        )
    assert caught.value.response["fieldList"][0]["path"] == "queryTexts[0].text"
    with pytest.raises(client.exceptions.ValidationException, match="queryVector, queryTexts"):
        client.query_vectors(**text_index, topK=3)


def test_classic_index_filters_during_the_search(classic_server: ServerHandle) -> None:
    client = make_client(classic_server.url)
    bucket = unique("cls")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "old"}
    client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
    assert client.get_index(**ref)["index"]["indexMode"] == "CLASSIC"
    # 20 near vectors without the tag, 5 far ones with it.
    vectors = [
        {"key": f"near{i}", "data": {"float32": [i * 0.01, 0]}, "metadata": {"tag": "no"}}
        for i in range(20)
    ] + [
        {"key": f"far{i}", "data": {"float32": [100 + i, 0]}, "metadata": {"tag": "yes"}}
        for i in range(5)
    ]
    client.put_vectors(**ref, vectors=vectors)
    query = {"topK": 5, "queryVector": {"float32": [0, 0]}, "filter": {"tag": "yes"}}
    assert client.query_vectors(**ref, **query)["vectors"] == []  # fewer than topK
    enhanced = client.query_vectors(**ref, **query, queryMode="ENHANCED")["vectors"]
    assert [v["key"] for v in enhanced] == [f"far{i}" for i in range(5)]
    near = client.query_vectors(**ref, **{**query, "filter": {"tag": "no"}})["vectors"]
    assert len(near) == 5
    with pytest.raises(client.exceptions.ValidationException, match="startsWith"):
        client.query_vectors(**ref, **{**query, "filter": {"tag": {"$startsWith": "y"}}})
    with pytest.raises(client.exceptions.ValidationException, match="ENHANCED"):
        client.query_vectors(**ref, topK=1, queryTexts=[{"metadataKey": "tag", "text": "yes"}])
    with pytest.raises(client.exceptions.ValidationException, match="ENHANCED"):
        client.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "tag"}]}
        )
    client.update_index_mode(**ref, indexMode="ENHANCED")
    assert client.get_index(**ref)["index"]["indexMode"] == "ENHANCED"
    with pytest.raises(client.exceptions.ValidationException, match="queryMode"):
        client.query_vectors(**ref, **query, queryMode="CLASSIC")
    assert len(client.query_vectors(**ref, **query)["vectors"]) == 5
    client.update_index_mode(**ref, indexMode="CLASSIC")  # allowed: bucket predates the cutoff


def test_modes_and_text_survive_a_restart(tmp_path: Path) -> None:
    with start_server(data_dir=tmp_path, classic_buckets=True) as handle:
        client = make_client(handle.url)
        client.create_vector_bucket(vectorBucketName="keep")
        client.put_vector_bucket_default_index_mode(
            vectorBucketName="keep", defaultIndexMode="ENHANCED"
        )
        ref = {"vectorBucketName": "keep", "indexName": "docs"}
        client.create_index(
            **ref,
            dataType="float32",
            dimension=3,
            distanceMetric="cosine",
            metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "title"}]},
        )
        client.put_vectors(**ref, vectors=_vectors())
    with start_server(data_dir=tmp_path) as handle:
        client = make_client(handle.url)
        bucket = client.get_vector_bucket(vectorBucketName="keep")["vectorBucket"]
        assert bucket["defaultIndexMode"] == "ENHANCED"
        index = client.get_index(**ref)["index"]
        assert index["indexMode"] == "ENHANCED"
        assert index["metadataConfiguration"]["textSearchConfigurations"][0]["status"] == "ACTIVE"
        found = client.query_vectors(
            **ref, topK=5, queryTexts=[{"metadataKey": "title", "text": "socks"}]
        )
        assert [v["key"] for v in found["vectors"]] == ["d"]


def test_in_process_mock_serves_text_search() -> None:
    import boto3

    from s3vectors_emulator import mock_s3vectors

    with mock_s3vectors(text_build_seconds=0):
        client = boto3.client("s3vectors", region_name="us-east-1")
        client.create_vector_bucket(vectorBucketName="mem")
        ref = {"vectorBucketName": "mem", "indexName": "docs"}
        client.create_index(**ref, dataType="float32", dimension=3, distanceMetric="cosine")
        client.put_vectors(**ref, vectors=_vectors())
        client.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "title"}]}
        )
        found = client.query_vectors(
            **ref, topK=2, queryTexts=[{"metadataKey": "title", "text": "wool"}]
        )
        assert [v["key"] for v in found["vectors"]] == ["d"]


def test_backfill_in_slices_sees_writes_made_meanwhile() -> None:
    """Slices of a backfill interleaved with puts and deletes index exactly the final state."""
    from s3vectors_emulator.backend.models import VectorIndex

    index = VectorIndex("us-east-1", "b", "i", 2, "euclidean")
    keys = [f"k{i}" for i in range(30)]
    block = np.ones((30, 2), dtype=np.float32)
    index.put(keys, block, [{"t": f"old{i} common"} for i in range(30)])
    (config,) = index.add_text([("t", None)], ready_at=0.0, backfill=True)
    snapshot = list(index.keys)
    assert config.status() == "BUILDING"
    index.backfill_text([config], snapshot[:10])
    # Between slices: overwrite a key not yet visited, delete one, add a new one.
    index.put(["k20", "new"], np.ones((2, 2), dtype=np.float32), [{"t": "fresh"}, {"t": "fresh"}])
    index.delete(["k25"])
    index.backfill_text([config], snapshot[10:20])
    index.backfill_text([config], snapshot[20:30])
    config.built = True
    assert config.status() == "ACTIVE"
    fresh = TextField(None)
    for key, meta in zip(index.keys, index.metadata, strict=True):
        fresh.put(key, meta["t"])
    for query in ("common", "fresh", "old20", "old25", "old3"):
        assert config.field.search(query) == fresh.search(query), query


def test_large_backfill_runs_in_the_background(
    client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vectors_emulator import constants

    monkeypatch.setattr(constants, "TEXT_BACKFILL_SLICE", 10)
    ref = {"vectorBucketName": bucket, "indexName": "bg-fill"}
    client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
    client.put_vectors(
        **ref,
        vectors=[
            {"key": f"k{i}", "data": {"float32": [i, 1]}, "metadata": {"t": f"doc word{i % 3}"}}
            for i in range(95)
        ],
    )
    client.update_metadata_configuration(
        **ref, add={"textSearchConfigurations": [{"metadataKey": "t"}]}
    )
    deadline = time.monotonic() + 30
    while True:
        index = client.get_index(**ref)["index"]
        if index["metadataConfiguration"]["textSearchConfigurations"][0]["status"] == "ACTIVE":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    found = client.query_vectors(**ref, topK=100, queryTexts=[{"metadataKey": "t", "text": "doc"}])
    assert len(found["vectors"]) == 95


def test_dropping_one_configuration_keeps_the_others(
    client: Any, text_index: dict[str, str]
) -> None:
    query = {"topK": 10, "queryTexts": [{"metadataKey": "title", "text": "trail shoes"}]}
    before = client.query_vectors(**text_index, **query, returnScores=True)["vectors"]
    client.update_metadata_configuration(
        **text_index, delete={"textSearchConfigurations": [{"metadataKey": "brand"}]}
    )
    assert client.query_vectors(**text_index, **query, returnScores=True)["vectors"] == before
    with pytest.raises(client.exceptions.ValidationException, match="no text search"):
        client.query_vectors(
            **text_index, topK=3, queryTexts=[{"metadataKey": "brand", "text": "acme"}]
        )
    client.put_vectors(
        **text_index,
        vectors=[{"key": "z", "data": {"float32": [1, 1, 1]}, "metadata": {"title": "trail"}}],
    )
    assert "z" in {v["key"] for v in client.query_vectors(**text_index, **query)["vectors"]}


def test_a_text_without_tokens_matches_nothing(client: Any, text_index: dict[str, str]) -> None:
    found = client.query_vectors(
        **text_index, topK=5, queryTexts=[{"metadataKey": "title", "text": "  !!! "}]
    )
    assert found["vectors"] == []
