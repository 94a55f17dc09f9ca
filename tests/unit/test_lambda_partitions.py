"""Partitioned requests and rank_vectors through the handler against the in-process emulator: the
answers equal those of one index holding the same vectors; writes, key lookups and pinned
queries reach only the partitions they must (counted per index ARN)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest

from s3vectors_emulator import mock_s3vectors
from s3vl_lambda import clients
from s3vl_lambda.partitions import key_slot

from .conftest import ACCOUNT, BUCKET, REGION, Invoke

DIMENSION = 6
COUNT = 450
TENANTS = ("a", "b", "c")


def arn(name: str) -> str:
    return f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{name}"


def _data() -> np.ndarray:
    return np.random.default_rng(11).normal(size=(COUNT, DIMENSION)).astype(np.float32)


def _vectors() -> list[dict[str, Any]]:
    rows = _data()
    return [{"key": f"k{i:03d}", "data": rows[i].tolist(),
             "metadata": {"tenant": TENANTS[i % 3], "n": i, "name": f"word{i % 7} item"}}
            for i in range(COUNT)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(API name, index name) of every S3 Vectors call the function makes."""
    seen: list[tuple[str, str]] = []
    real_create = clients._create

    def counting_create(region: str, tier: clients.TimeoutTier, retries: bool = True) -> Any:
        client = real_create(region, tier, retries)

        def note(model: Any, params: dict[str, Any], **_: Any) -> None:
            index = str(params.get("indexArn") or params.get("indexName") or "").rsplit("/", 1)[-1]
            seen.append((model.name, index))

        client.meta.events.register("provide-client-params.s3vectors.*", note)
        return client

    monkeypatch.setattr(clients, "_create", counting_create)
    clients.clear_cache()  # clients made before this fixture would not count
    return seen


@pytest.fixture
def emulator() -> Iterator[Any]:
    with mock_s3vectors(region=REGION, text_build_seconds=0.05):
        admin = boto3.client("s3vectors", region_name=REGION)
        admin.create_vector_bucket(vectorBucketName=BUCKET)
        for name in ("single", "hp0", "hp1", "hp2", "vpa", "vpb", "vdef"):
            admin.create_index(vectorBucketName=BUCKET, indexName=name, dataType="float32",
                               dimension=DIMENSION, distanceMetric="cosine")
        yield admin


HASH = {"partitions": [{"index_arn": arn(f"hp{i}"), "ordinal": i, "value": None}
                       for i in range(3)], "partition_key": None}
VALUE = {"partitions": [{"index_arn": arn("vpa"), "ordinal": 0, "value": "a"},
                        {"index_arn": arn("vpb"), "ordinal": 1, "value": "b"},
                        {"index_arn": arn("vdef"), "ordinal": 2, "value": None}],
         "partition_key": "tenant"}


def _ok(env: dict[str, Any]) -> Any:
    assert env["success"] is True, env
    return env["result"]


@pytest.fixture
def loaded(emulator: Any, invoke: Invoke) -> None:
    vectors = _vectors()
    _ok(invoke({"operation": "put_vectors", "index_arn": arn("single"), "vectors": vectors}))
    assert _ok(invoke({"operation": "put_vectors", **HASH, "vectors": vectors})) == {
        "written": COUNT, "calls": 3}
    assert _ok(invoke({"operation": "put_vectors", **VALUE, "vectors": vectors}))["written"] \
        == COUNT


def _keys_in(invoke: Invoke, name: str) -> set[str]:
    keys: set[str] = set()
    token = None
    while True:
        page = _ok(invoke({"operation": "list_vectors", "index_arn": arn(name),
                           "max_results": 1000, "next_token": token}))
        keys |= {v["vector_id"] for v in page["vectors"]}
        token = page["next_token"]
        if token is None:
            return keys


def test_writes_route_by_key_hash_and_by_value(loaded: None, invoke: Invoke) -> None:
    keys = [f"k{i:03d}" for i in range(COUNT)]
    for i in range(3):
        assert _keys_in(invoke, f"hp{i}") == {k for k in keys if key_slot(k, 3) == i}
    assert _keys_in(invoke, "vpa") == {f"k{i:03d}" for i in range(0, COUNT, 3)}
    assert _keys_in(invoke, "vpb") == {f"k{i:03d}" for i in range(1, COUNT, 3)}
    assert _keys_in(invoke, "vdef") == {f"k{i:03d}" for i in range(2, COUNT, 3)}  # "c": default


def test_a_vector_without_a_partition_is_refused_and_nothing_written(
        loaded: None, invoke: Invoke, calls: list[tuple[str, str]]) -> None:
    no_default = {**VALUE, "partitions": VALUE["partitions"][:2]}
    env = invoke({"operation": "put_vectors", **no_default, "vectors": [
        {"key": "new-a", "data": [1.0] * DIMENSION, "metadata": {"tenant": "a"}},
        {"key": "new-x", "data": [1.0] * DIMENSION, "metadata": {"tenant": "x"}}]})
    assert env["success"] is False
    assert env["error"]["type"] == "ValidationError"
    assert env["error"]["field"] == "vectors[1].metadata.tenant"
    assert not [c for c in calls if c[0] == "PutVectors"]
    missing = invoke({"operation": "put_vectors", **no_default, "vectors": [
        {"key": "new-y", "data": [1.0] * DIMENSION, "metadata": {"other": 1}}]})
    assert missing["error"]["field"] == "vectors[0].metadata.tenant"


@pytest.mark.parametrize("layout", [HASH, VALUE], ids=["hash", "value"])
def test_merged_top_k_equals_one_index(loaded: None, invoke: Invoke,
                                       layout: dict[str, Any]) -> None:
    query = np.linspace(-1, 1, DIMENSION).tolist()
    want = _ok(invoke({"operation": "query_vectors", "index_arn": arn("single"),
                       "query_vector": query, "top_k": 30}))
    got = _ok(invoke({"operation": "query_vectors", **layout, "query_vector": query,
                      "top_k": 30}))
    assert [r["vector_id"] for r in got] == [r["vector_id"] for r in want]
    assert [r["distance"] for r in got] == pytest.approx([r["distance"] for r in want])
    batch = _ok(invoke({"operation": "query_vectors_batch", **layout,
                        "query_vectors": [query, [1.0] * DIMENSION], "top_k": 5}))
    assert [r["vector_id"] for r in batch[0]["results"]] == [r["vector_id"] for r in want[:5]]


def test_ties_merge_by_key(emulator: Any, invoke: Invoke) -> None:
    # The same vector under keys spread over the partitions: equal distances, ordered by key.
    vectors = [{"key": f"t{i}", "data": [1.0] * DIMENSION} for i in range(9)]
    _ok(invoke({"operation": "put_vectors", **HASH, "vectors": vectors}))
    got = _ok(invoke({"operation": "query_vectors", **HASH, "query_vector": [1.0] * DIMENSION,
                      "top_k": 9}))
    assert [r["vector_id"] for r in got] == sorted(v["key"] for v in vectors)


@pytest.mark.parametrize("layout", [HASH, VALUE], ids=["hash", "value"])
def test_paging_across_partitions_yields_the_global_order(loaded: None, invoke: Invoke,
                                                          layout: dict[str, Any]) -> None:
    query = np.linspace(1, -1, DIMENSION).tolist()
    whole = _ok(invoke({"operation": "query_vectors", **layout, "query_vector": query,
                        "top_k": 400}))
    rows: list[dict[str, Any]] = []
    token = None
    answers = 0
    while True:
        page = _ok(invoke({"operation": "query_vectors", **layout, "query_vector": query,
                           "top_k": 400, "page_token": token, "max_pages": 1}))
        rows += page["vectors"]
        answers += 1
        token = page["next_token"]
        if token is None:
            break
    assert answers > 1
    assert [r["vector_id"] for r in rows] == [r["vector_id"] for r in whole]


def test_pinned_query_reads_one_partition(loaded: None, invoke: Invoke,
                                          calls: list[tuple[str, str]]) -> None:
    query = [0.5] * DIMENSION
    got = _ok(invoke({"operation": "query_vectors", **VALUE, "query_vector": query, "top_k": 5,
                      "metadata_filter": {"tenant": "b"}}))
    assert {r["metadata"]["tenant"] for r in got} == {"b"}
    assert [c for c in calls if c[0] == "QueryVectors"] == [("QueryVectors", "vpb")]
    calls.clear()
    _ok(invoke({"operation": "query_vectors", **VALUE, "query_vector": query, "top_k": 5,
                "metadata_filter": {"$and": [{"tenant": {"$in": ["c", "zz"]}},
                                             {"n": {"$gte": 0}}]}}))
    assert [c for c in calls if c[0] == "QueryVectors"] == [("QueryVectors", "vdef")]
    calls.clear()
    _ok(invoke({"operation": "query_vectors", **VALUE, "query_vector": query, "top_k": 5,
                "metadata_filter": {"$or": [{"tenant": "a"}, {"n": 3}]}}))
    assert sorted(c[1] for c in calls if c[0] == "QueryVectors") == ["vdef", "vpa", "vpb"]


def test_key_lookups_on_hash_partitions_read_one_partition(
        loaded: None, invoke: Invoke, calls: list[tuple[str, str]]) -> None:
    got = _ok(invoke({"operation": "get_vectors", **HASH, "vector_ids": ["k007", "nope"]}))
    assert [(r["vector_id"], r["found"]) for r in got] == [("k007", True), ("nope", False)]
    assert got[0]["metadata"]["n"] == 7
    read = sorted(c[1] for c in calls if c[0] == "GetVectors")
    assert read == sorted({f"hp{key_slot('k007', 3)}", f"hp{key_slot('nope', 3)}"})
    calls.clear()
    deleted = _ok(invoke({"operation": "delete_vectors", **HASH, "keys": ["k007"]}))
    assert deleted == {"deleted": 1, "calls": 1}
    assert calls == [("DeleteVectors", f"hp{key_slot('k007', 3)}")]
    again = _ok(invoke({"operation": "get_vectors", **HASH, "vector_ids": ["k007"]}))
    assert again[0]["found"] is False


def test_value_partitions_delete_everywhere_and_list_every_key_once(
        loaded: None, invoke: Invoke) -> None:
    _ok(invoke({"operation": "delete_vectors", **VALUE, "keys": ["k000", "k001"]}))
    seen: list[str] = []
    token = None
    while True:
        page = _ok(invoke({"operation": "list_vectors", **VALUE, "max_results": 70,
                           "next_token": token}))
        seen += [v["vector_id"] for v in page["vectors"]]
        token = page["next_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(f"k{i:03d}" for i in range(2, COUNT))


def test_a_failing_partition_is_named_not_its_arn(emulator: Any, invoke: Invoke) -> None:
    layout = {"partitions": [*HASH["partitions"][:2],
                             {"index_arn": arn("gone"), "ordinal": 2, "value": None}],
              "partition_key": None}
    env = invoke({"operation": "query_vectors", **layout, "query_vector": [1.0] * DIMENSION})
    assert env["success"] is False
    assert env["error"]["type"] == "NotFound"
    assert env["error"]["message"].startswith("partition 2: ")
    assert arn("gone") not in env["error"]["message"]


def test_malformed_partitions_are_refused(invoke: Invoke) -> None:
    cases = [
        {"partitions": "x"},
        {"partitions": [{"index_arn": arn("hp0"), "ordinal": 1, "value": None}]},  # hash gap
        {"partitions": [{"index_arn": arn("hp0"), "ordinal": 0, "value": "a"}]},  # hash value
        {"partitions": [{"index_arn": arn("hp0"), "ordinal": 0, "value": None},
                        {"index_arn": arn("hp1"), "ordinal": 1, "value": None}],
         "partition_key": "tenant"},  # two defaults
        {"partitions": [], "index_arn": arn("hp0")},
    ]
    for case in cases:
        env = invoke({"operation": "query_vectors", "query_vector": [1.0] * DIMENSION, **case})
        assert env["error"]["type"] == "ValidationError", case
        assert env["error"]["field"] == "partitions", case
    admin = invoke({"operation": "update_index_mode", **HASH, "index_mode": "ENHANCED"})
    assert admin["error"]["field"] == "partitions"


def test_get_index_describes_every_partition(emulator: Any, invoke: Invoke) -> None:
    got = _ok(invoke({"operation": "get_index", **VALUE}))
    assert got["index_arn"] is None and got["dimension"] == DIMENSION
    assert [(p["ordinal"], p["value"], p["index_name"]) for p in got["partitions"]] == [
        (0, "a", "vpa"), (1, "b", "vpb"), (2, None, "vdef")]


def _exact(query: np.ndarray, keep: Any) -> list[str]:
    rows = _data().astype(np.float64)
    q = query.astype(np.float32).astype(np.float64)
    d = 1.0 - rows @ q / (np.linalg.norm(rows, axis=1) * np.linalg.norm(q))
    order = sorted((i for i in range(COUNT) if keep(i)), key=lambda i: (d[i], f"k{i:03d}"))
    return [f"k{i:03d}" for i in order]


@pytest.mark.parametrize("layout", [{"index_arn": arn("single")}, HASH, VALUE],
                         ids=["single", "hash", "value"])
def test_rank_vectors_is_exact_and_applies_the_filter(loaded: None, invoke: Invoke,
                                                      layout: dict[str, Any],
                                                      calls: list[tuple[str, str]]) -> None:
    query = np.linspace(-0.3, 0.9, DIMENSION)
    ids = [f"k{i:03d}" for i in range(0, COUNT, 2)] + ["missing"]
    got = _ok(invoke({"operation": "rank_vectors", **layout, "query_vector": query.tolist(),
                      "vector_ids": ids, "top_k": 15,
                      "metadata_filter": {"n": {"$lt": 200}, "tenant": {"$ne": "b"}}}))
    want = _exact(query, lambda i: i % 2 == 0 and i < 200 and i % 3 != 1)[:15]
    assert [r["vector_id"] for r in got["vectors"]] == want
    assert got["examined"] == COUNT // 2
    if "index_arn" in layout:
        assert got["calls"] == 3  # 226 keys: GetVectors of 100 + 100 + 26
        assert len([c for c in calls if c[0] == "GetVectors"]) == 3


def test_rank_vectors_refuses_unknown_filter_operators(loaded: None, invoke: Invoke) -> None:
    env = invoke({"operation": "rank_vectors", "index_arn": arn("single"),
                  "query_vector": [1.0] * DIMENSION, "vector_ids": ["k001"],
                  "metadata_filter": {"n": {"$near": 3}}})
    assert env["error"]["field"] == "metadata_filter"


def test_text_results_merge_by_score(emulator: Any, invoke: Invoke,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3VL_ALLOW_INDEX_ADMIN", "true")
    vectors = _vectors()
    for name in ("single", "hp0", "hp1", "hp2"):
        _ok(invoke({"operation": "add_text_search", "index_arn": arn(name),
                    "text_search": [{"metadata_key": "name", "language": "en"}]}))
    _ok(invoke({"operation": "put_vectors", "index_arn": arn("single"), "vectors": vectors}))
    _ok(invoke({"operation": "put_vectors", **HASH, "vectors": vectors}))
    for _ in range(100):
        states = [c["status"] for name in ("single", "hp0", "hp1", "hp2")
                  for c in _ok(invoke({"operation": "get_index",
                                       "index_arn": arn(name)}))["text_search"]]
        if set(states) == {"ACTIVE"}:
            break
        time.sleep(0.05)
    got = _ok(invoke({"operation": "query_vectors", **HASH, "query_texts": {"name": "word3"},
                      "top_k": 20}))
    per_partition = [_ok(invoke({"operation": "query_vectors", "index_arn": p["index_arn"],
                                 "query_texts": {"name": "word3"}, "top_k": 20}))
                     for p in HASH["partitions"]]
    union = sorted((r for rows in per_partition for r in rows),
                   key=lambda r: (-r["text_score"], r["vector_id"]))[:20]
    assert [r["vector_id"] for r in got] == [r["vector_id"] for r in union]
    assert {r["vector_id"] for r in got} <= {f"k{i:03d}" for i in range(3, COUNT, 7)}
    hybrid = _ok(invoke({"operation": "query_vectors", **HASH, "query_texts": {"name": "word3"},
                         "query_vector": [1.0] * DIMENSION, "top_k": 10}))
    fused = [r["fused_score"] for r in hybrid]
    assert fused == sorted(fused, reverse=True)


@pytest.mark.parametrize("layout", [HASH, VALUE], ids=["hash", "value"])
def test_filter_vectors_counts_lists_and_deletes_across_partitions(
        loaded: None, invoke: Invoke, layout: dict[str, Any]) -> None:
    flt = {"n": {"$lt": 100}, "tenant": {"$ne": "b"}}
    want = {f"k{i:03d}" for i in range(100) if i % 3 != 1}
    seen: list[str] = []
    counted, token, answers = 0, None, 0
    while True:
        page = _ok(invoke({"operation": "filter_vectors", **layout, "action": "list",
                           "metadata_filter": flt, "resume_token": token}))
        seen += [v["vector_id"] for v in page["vectors"]]
        counted += page["matched"]
        answers += 1
        token = page["resume_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(want) and counted == len(want)
    assert answers >= len(layout["partitions"])  # one partition per invocation at most
    # Pinned to tenant a (value partitions): one partition only.
    pinned = _ok(invoke({"operation": "filter_vectors", **layout, "action": "count",
                         "metadata_filter": {"tenant": "a", "n": {"$lt": 30}}}))
    if layout is VALUE:
        assert pinned["resume_token"] is None and pinned["matched"] == 10
    token, deleted = None, 0
    while True:
        page = _ok(invoke({"operation": "filter_vectors", **layout, "action": "delete",
                           "metadata_filter": flt, "resume_token": token}))
        deleted += page["deleted"]
        token = page["resume_token"]
        if token is None:
            break
    assert deleted == len(want)
    left = _ok(invoke({"operation": "get_vectors", **layout, "vector_ids": sorted(want)}))
    assert not any(r["found"] for r in left)


@pytest.mark.parametrize("layout", [HASH, VALUE], ids=["hash", "value"])
def test_update_metadata_patches_where_the_vectors_are(loaded: None, invoke: Invoke,
                                                       layout: dict[str, Any]) -> None:
    got = _ok(invoke({"operation": "update_metadata", **layout,
                      "vector_ids": ["k001", "k002", "nope"], "patch": {"flag": True}}))
    assert got["updated"] == 2 and got["missing"] == ["nope"]
    rows = _ok(invoke({"operation": "get_vectors", **layout, "vector_ids": ["k001", "k002"]}))
    assert all(r["metadata"]["flag"] is True for r in rows)
    if layout is VALUE:
        env = invoke({"operation": "update_metadata", **layout, "vector_ids": ["k001"],
                      "patch": {"tenant": "a"}})
        assert env["error"]["field"] == "patch" and "partition key" in env["error"]["message"]


def test_concurrent_invocations_do_not_share_a_fan_out_pool() -> None:
    """A local endpoint runs invocations in several threads at once: one invocation whose
    partition tasks all wait (a throttled write pausing between attempts) must not hold up
    another's fan-out, as separate Lambda execution environments would not."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from s3vl_lambda import limits
    from s3vl_lambda.partitions import Partition, fan_out

    release = threading.Event()
    parts = [Partition(ordinal=i, ref=None, value=None)  # type: ignore[arg-type]
             for i in range(limits.PARTITION_CONCURRENCY)]
    with ThreadPoolExecutor(max_workers=2) as handlers:
        busy = handlers.submit(fan_out, [(p, None) for p in parts],
                               lambda p, _: release.wait(30))
        time.sleep(0.1)  # the first invocation's tasks now fill its pool
        other = handlers.submit(fan_out, [(p, p.ordinal) for p in parts[:2]],
                                lambda p, arg: arg * 10)
        try:
            assert other.result(timeout=10) == [0, 10]
            assert not busy.done()
        finally:
            release.set()
        assert busy.result(timeout=10) == [True] * limits.PARTITION_CONCURRENCY


def test_a_batch_of_queries_shares_its_invocations_fan_out_pool(
        loaded: None, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """query_vectors_batch runs its queries in threads of its own; their fan-outs use the
    invocation's pool, so the invocation never has more than PARTITION_CONCURRENCY service calls
    in flight (a pool per query thread would allow that many per query)."""
    from s3vl_lambda import partitions

    real = partitions._pool
    used: list[int] = []

    def recording() -> Any:
        pool = real()
        used.append(id(pool))
        return pool

    monkeypatch.setattr(partitions, "_pool", recording)
    rows = _data()
    batch = _ok(invoke({"operation": "query_vectors_batch", **HASH,
                        "query_vectors": [rows[i].tolist() for i in range(6)], "top_k": 3}))
    assert [entry["success"] for entry in batch] == [True] * 6
    assert len(used) >= 6 and len(set(used)) == 1
