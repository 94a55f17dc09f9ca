"""The metadata filter language over HTTP: every operator on scalars, lists and missing keys.

Expected key sets are written out by hand from the documented semantics and from the rules this
emulator chose where AWS is silent (docs/emulator.md, "Filter semantics"):
`$ne` = not `$eq` and `$nin` = not `$in` (so both match vectors missing the key, and a list matches
`$ne` only if no element is equal), and no type coercion.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator_helpers import IndexFactory

DOCS: dict[str, dict[str, Any]] = {
    "a": {"genre": "drama", "year": 2000, "tags": ["x", "y"], "flag": True, "body": "long"},
    "b": {"genre": "comedy", "year": 2010, "tags": ["y"], "flag": False},
    "c": {"genre": "drama", "year": 2020, "tags": ["z"], "score": [1, 5]},
    "d": {"year": "2015"},
    "e": {},
}

CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"genre": "drama"}, {"a", "c"}),
    ({"genre": {"$eq": "drama"}}, {"a", "c"}),
    ({"tags": "y"}, {"a", "b"}),
    ({"tags": {"$eq": "x"}}, {"a"}),
    ({"genre": {"$ne": "drama"}}, {"b", "d", "e"}),
    ({"tags": {"$ne": "y"}}, {"c", "d", "e"}),
    ({"year": {"$gt": 2000}}, {"b", "c"}),
    ({"year": {"$gte": 2000}}, {"a", "b", "c"}),
    ({"year": {"$lt": 2010}}, {"a"}),
    ({"year": {"$lte": 2010}}, {"a", "b"}),
    ({"year": {"$gte": 2005, "$lte": 2015}}, {"b"}),
    ({"score": {"$gt": 4}}, {"c"}),
    ({"score": {"$lt": 0}}, set()),
    ({"genre": {"$in": ["comedy", "horror"]}}, {"b"}),
    ({"tags": {"$in": ["z", "x"]}}, {"a", "c"}),
    ({"genre": {"$nin": ["comedy"]}}, {"a", "c", "d", "e"}),
    ({"tags": {"$nin": ["y"]}}, {"c", "d", "e"}),
    ({"genre": {"$exists": True}}, {"a", "b", "c"}),
    ({"genre": {"$exists": False}}, {"d", "e"}),
    ({"flag": True}, {"a"}),
    ({"flag": {"$eq": 1}}, set()),
    ({"year": "2015"}, {"d"}),
    ({"year": 2015}, set()),
    ({"year": {"$eq": 2000.0}}, {"a"}),
    ({"genre": {"$startsWith": "dra"}}, {"a", "c"}),
    ({"tags": {"$startsWith": "z"}}, {"c"}),
    ({"year": {"$startsWith": "20"}}, {"d"}),
    ({"missing": {"$eq": 1}}, set()),
    ({"missing": {"$in": [1, "x"]}}, set()),
    ({"missing": {"$lt": 10}}, set()),
    ({"missing": {"$ne": 1}}, {"a", "b", "c", "d", "e"}),
    ({"missing": {"$nin": ["x"]}}, {"a", "b", "c", "d", "e"}),
    ({"$and": [{"genre": "drama"}, {"year": {"$gt": 2010}}]}, {"c"}),
    ({"$or": [{"genre": "comedy"}, {"tags": "x"}]}, {"a", "b"}),
    ({"genre": "drama", "year": 2000}, {"a"}),
    (
        {"$or": [{"$and": [{"genre": "drama"}, {"flag": True}]}, {"year": {"$exists": False}}]},
        {"a", "e"},
    ),
]

MALFORMED: list[tuple[Any, str]] = [
    ({"genre": {"$regex": "dr"}}, "unknown operator"),
    ({"$not": {"genre": "drama"}}, "unknown operator"),
    ({"year": {"$gt": "2000"}}, "needs a number"),
    ({"flag": {"$gt": True}}, "needs a number"),
    ({"genre": {"$in": []}}, "non-empty array"),
    ({"genre": {"$in": "drama"}}, "non-empty array"),
    ({"genre": {"$nin": [["x"]]}}, "non-empty array"),
    ({"$and": []}, "non-empty array"),
    ({"$or": {"genre": "drama"}}, "non-empty array"),
    ({"genre": ["drama", "comedy"]}, "implicit"),
    ({"genre": {}}, "must not be empty"),
    ({}, "must not be empty"),
    ({"genre": {"$exists": "yes"}}, "boolean"),
    ({"genre": {"$eq": {"x": 1}}}, "string, number or boolean"),
    ({"genre": None}, "implicit"),
    ({"body": "long"}, "non-filterable"),
    ({"$and": [{"body": {"$exists": True}}]}, "non-filterable"),
]


@pytest.fixture(scope="module")
def filter_index(server: Any) -> tuple[Any, dict[str, str]]:
    from emulator_helpers import make_client, unique

    client = make_client(server.url)
    bucket = unique("flt")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "docs"}
    client.create_index(
        **ref,
        dataType="float32",
        dimension=2,
        distanceMetric="euclidean",
        metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
    )
    client.put_vectors(
        **ref,
        vectors=[
            {"key": key, "data": {"float32": [float(i), 1.0]}, "metadata": meta}
            for i, (key, meta) in enumerate(DOCS.items())
        ],
    )
    return client, ref


def matching(client: Any, ref: dict[str, str], flt: Any) -> set[str]:
    result = client.query_vectors(**ref, topK=10, queryVector={"float32": [0.0, 0.0]}, filter=flt)
    return {v["key"] for v in result["vectors"]}


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_filter_semantics(
    filter_index: tuple[Any, dict[str, str]], flt: Any, expected: set[str]
) -> None:
    client, ref = filter_index
    assert matching(client, ref, flt) == expected


@pytest.mark.parametrize(("flt", "message"), MALFORMED, ids=[str(c[0]) for c in MALFORMED])
def test_malformed_filter_is_validation_error(
    filter_index: tuple[Any, dict[str, str]], flt: Any, message: str
) -> None:
    client, ref = filter_index
    with pytest.raises(client.exceptions.ValidationException, match=message) as caught:
        matching(client, ref, flt)
    assert "filter" in str(caught.value)


def test_filter_keeps_top_k_among_matches_only(client: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=1, metric="euclidean")
    client.put_vectors(
        **ref,
        vectors=[
            {"key": f"k{i}", "data": {"float32": [float(i)]}, "metadata": {"even": i % 2 == 0}}
            for i in range(20)
        ],
    )
    result = client.query_vectors(
        **ref, topK=3, queryVector={"float32": [0.0]}, filter={"even": False}
    )
    assert [v["key"] for v in result["vectors"]] == ["k1", "k3", "k5"]


def test_filter_constraint_limit(filter_index: tuple[Any, dict[str, str]]) -> None:
    client, ref = filter_index
    at_limit = {"genre": {"$in": [f"g{i}" for i in range(99)] + ["drama"]}}
    assert matching(client, ref, at_limit) == {"a", "c"}
    past = {"$and": [at_limit, {"year": {"$exists": True}}]}
    with pytest.raises(client.exceptions.ValidationException, match="100 constraints"):
        matching(client, ref, past)


def test_filter_sees_writes_made_after_a_filtered_query(
    client: Any, make_index: IndexFactory
) -> None:
    ref = make_index(dimension=1, metric="euclidean")
    client.put_vectors(
        **ref,
        vectors=[
            {"key": "k", "data": {"float32": [1.0]}, "metadata": {"state": "old"}},
        ],
    )
    query = {"topK": 5, "queryVector": {"float32": [0.0]}, "filter": {"state": "new"}}
    assert client.query_vectors(**ref, **query)["vectors"] == []
    client.put_vectors(
        **ref,
        vectors=[
            {"key": "k", "data": {"float32": [1.0]}, "metadata": {"state": "new"}},
            {"key": "k2", "data": {"float32": [2.0]}, "metadata": {"state": "new"}},
        ],
    )
    assert [v["key"] for v in client.query_vectors(**ref, **query)["vectors"]] == ["k", "k2"]
    client.delete_vectors(**ref, keys=["k"])
    assert [v["key"] for v in client.query_vectors(**ref, **query)["vectors"]] == ["k2"]
