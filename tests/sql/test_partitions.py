"""Partitioned logical indexes (sql/68_partitions.sql) through the real stack: administration and
its refusals, every read and write path on a partitioned name gives what one index holding the
same vectors gives, writes route by key hash or value, and a role bound by a tenant policy reads
only its own partition on every read path (the function's invocation log names the partitions
each request reached)."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from s3vl_lambda.partitions import key_slot
from sql.sql_helpers import expect_error

pytestmark = pytest.mark.stack

Q = [1.0, 0.2, 0.1]
COUNT = 60
TENANTS = ("a", "b", "c")  # a and b have partitions; c goes to the default one


def vec(i: int) -> list[float]:
    return [math.cos(i * 0.37), math.sin(i * 0.37), 0.1 * (i % 5)]


VECTORS = [{"key": f"k{i:02d}", "data": vec(i),
            "metadata": {"tenant": TENANTS[i % 3], "n": i}} for i in range(COUNT)]


class Layout:
    def __init__(self, suffix: str, arns: dict[str, str]) -> None:
        self.single = f"psingle-{suffix}"
        self.hashed = f"phash-{suffix}"
        self.valued = f"pvalue-{suffix}"
        self.arns = arns


@pytest.fixture
def layout(db: psycopg.Connection[Any], s3vectors_client: Any, local_stack: Any
           ) -> Iterator[Layout]:
    suffix = uuid.uuid4().hex[:8]
    names = {"single": "single", "h0": "h0", "h1": "h1", "h2": "h2", "h3": "h3", "va": "va",
             "vb": "vb", "vdef": "vdef", "other": "other"}
    arns = {}
    for kind in names:
        name = f"p{kind}-{suffix}"
        s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                                      dataType="float32",
                                      dimension=4 if kind == "other" else 3,
                                      distanceMetric="cosine")
        arns[kind] = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    lay = Layout(suffix, arns)
    db.execute("SELECT s3vl.register_index(%s, %s)", (lay.single, arns["single"]))
    db.execute("SELECT s3vl.create_partitioned_index(%s)", (lay.hashed,))
    for i in range(4):
        assert db.execute("SELECT s3vl.add_partition(%s, %s)",
                          (lay.hashed, arns[f"h{i}"])).fetchone() == (i,)
    db.execute("SELECT s3vl.create_partitioned_index(%s, 'tenant', 'by tenant')", (lay.valued,))
    db.execute("SELECT s3vl.add_partition(%s, %s, 'a')", (lay.valued, arns["va"]))
    db.execute("SELECT s3vl.add_partition(%s, %s, 'b')", (lay.valued, arns["vb"]))
    db.execute("SELECT s3vl.add_partition(%s, %s)", (lay.valued, arns["vdef"]))
    yield lay
    db.execute("RESET ROLE")
    for name in (lay.single, lay.hashed, lay.valued):
        db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (name,))
        db.execute("DELETE FROM s3vl.index_registry WHERE index_name = %s", (name,))
        db.execute("DELETE FROM s3vl.partitioned_indexes WHERE index_name = %s", (name,))
    for arn in arns.values():
        s3vectors_client.delete_index(indexArn=arn)


def put_all(db: psycopg.Connection[Any], lay: Layout) -> None:
    for name in (lay.single, lay.hashed, lay.valued):
        assert db.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                          (name, Jsonb(VECTORS))).fetchone() == (COUNT,)


def same_rows(got: list[Any], want: list[Any]) -> bool:
    """Same keys in the same order, distances equal within float32 rounding."""
    return [r[0] for r in got] == [r[0] for r in want] and all(
        all(a == b or (isinstance(a, float) and abs(a - b) < 1e-5) for a, b in zip(g, w,
                                                                                  strict=True))
        for g, w in zip(got, want, strict=True))


def stored(client: Any, arn: str) -> set[str]:
    return {v["key"] for v in client.list_vectors(indexArn=arn, maxResults=1000)["vectors"]}


def test_administration_and_its_refusals(db: psycopg.Connection[Any], layout: Layout) -> None:
    lay = layout
    assert db.execute("SELECT index_arn, partition_value, ordinal FROM s3vl.list_partitions(%s)",
                      (lay.valued,)).fetchall() == [
        (lay.arns["va"], "a", 0), (lay.arns["vb"], "b", 1), (lay.arns["vdef"], None, 2)]
    described = db.execute("SELECT index_name, index_arn, dimension FROM s3vl.describe_index(%s)",
                           (lay.valued,)).fetchall()
    assert [r[1] for r in described] == [lay.arns["va"], lay.arns["vb"], lay.arns["vdef"]]
    assert {r[2] for r in described} == {3}
    assert db.execute("SELECT dimension, distance_metric FROM s3vl.list_indexes() "
                      "WHERE index_name = %s", (lay.valued,)).fetchone() == (3, "cosine")
    expect_error(db, "SELECT s3vl.add_partition(%s, %s, 'z')", (lay.valued, lay.arns["other"]),
                 "22023", "s3vl.add_partition:", "dimension 4", "dimension 3")
    expect_error(db, "SELECT s3vl.add_partition(%s, %s, 'a')", (lay.valued, lay.arns["single"]),
                 "42710", "already has a \"a\" partition")
    expect_error(db, "SELECT s3vl.add_partition(%s, %s)", (lay.valued, lay.arns["single"]),
                 "42710", "default")
    expect_error(db, "SELECT s3vl.add_partition(%s, %s, 'x')", (lay.hashed, lay.arns["single"]),
                 "22023", "hash-partitioned")
    expect_error(db, "SELECT s3vl.add_partition(%s, %s)", (lay.single, lay.arns["other"]),
                 "42704", "not a partitioned index")
    expect_error(db, "SELECT s3vl.create_partitioned_index(%s)", (lay.single,), "42710")
    expect_error(db, "SELECT s3vl.create_partitioned_index('x-y', '$and')", None, "22023",
                 "partition_key")
    # Hash partitions are fixed once a vector was written through the name.
    db.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => "
               "%s)", (lay.hashed, Jsonb(VECTORS[:2])))
    expect_error(db, "SELECT s3vl.add_partition(%s, %s)", (lay.hashed, lay.arns["single"]),
                 "55000", "fixed", "Re-spread")
    expect_error(db, "SELECT s3vl.drop_partition(%s, %s)", (lay.hashed, lay.arns["h3"]),
                 "55000", "fixed")
    # A value partition can go (its vectors stay in its index, out of the logical one).
    db.execute("SELECT s3vl.drop_partition(%s, %s)", (lay.valued, lay.arns["vb"]))
    assert [r[0] for r in db.execute("SELECT ordinal FROM s3vl.list_partitions(%s)",
                                     (lay.valued,))] == [0, 2]
    expect_error(db, "SELECT s3vl.drop_partition(%s, %s)", (lay.valued, lay.arns["vb"]),
                 "42704", "not a partition")


def test_hash_ordinals_stay_dense_when_a_partition_is_dropped_before_writes(
        db: psycopg.Connection[Any], layout: Layout) -> None:
    db.execute("SELECT s3vl.drop_partition(%s, %s)", (layout.hashed, layout.arns["h1"]))
    assert db.execute("SELECT index_arn, ordinal FROM s3vl.list_partitions(%s)",
                      (layout.hashed,)).fetchall() == [
        (layout.arns["h0"], 0), (layout.arns["h2"], 1), (layout.arns["h3"], 2)]


def test_writes_route_and_reads_equal_one_index(db: psycopg.Connection[Any], layout: Layout,
                                                s3vectors_client: Any) -> None:
    lay = layout
    put_all(db, lay)
    keys = [v["key"] for v in VECTORS]
    for i in range(4):
        assert stored(s3vectors_client, lay.arns[f"h{i}"]) == {
            k for k in keys if key_slot(k, 4) == i}
    assert stored(s3vectors_client, lay.arns["va"]) == set(keys[0::3])
    assert stored(s3vectors_client, lay.arns["vb"]) == set(keys[1::3])
    assert stored(s3vectors_client, lay.arns["vdef"]) == set(keys[2::3])
    queries = {
        "query_vectors": "SELECT vector_id, distance FROM s3vl.query_vectors(%(q)s::float8[], "
                         "%(i)s, top_k => 25)",
        "index-first": "SELECT vector_id, distance FROM s3vl.query_vectors(%(i)s, "
                       "%(q)s::float8[], 25, true, '{\"n\": {\"$lt\": 40}}')",
        "batch": "SELECT vector_id, distance FROM s3vl.query_vectors_batch("
                 "ARRAY[%(q)s, ARRAY[0, 1, 0]]::float8[], %(i)s, 7)",
        "get_vectors": "SELECT vector_id, found, metadata FROM s3vl.get_vectors("
                       "ARRAY['k03', 'k58', 'nope'], %(i)s)",
        "scan_vectors": "SELECT vector_id FROM s3vl.scan_vectors(%(i)s, page_size => 7) "
                        "ORDER BY 1",
    }
    for name, sql in queries.items():
        want = db.execute(sql, {"q": Q, "i": lay.single}).fetchall()
        for logical in (lay.hashed, lay.valued):
            got = db.execute(sql, {"q": Q, "i": logical}).fetchall()
            assert same_rows(got, want), (name, logical, got, want)
    deleted = db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['k03', "
                         "'k04', 'k05'])",
                         (lay.hashed,)).fetchone()
    assert deleted == (3,)
    assert not any({"k03", "k04", "k05"} & stored(s3vectors_client, lay.arns[f"h{i}"])
                   for i in range(4))
    db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['k03', 'k04', "
               "'k05'])", (lay.valued,))
    for part in ("va", "vb", "vdef"):
        assert not {"k03", "k04", "k05"} & stored(s3vectors_client, lay.arns[part])


def test_a_vector_without_a_partition_writes_nothing(db: psycopg.Connection[Any],
                                                     layout: Layout,
                                                     s3vectors_client: Any) -> None:
    db.execute("SELECT s3vl.drop_partition(%s, %s)", (layout.valued, layout.arns["vdef"]))
    expect_error(db, "SELECT s3vl.put_vectors(index_name => %s, vectors => "
                     "%s)", (layout.valued, Jsonb(VECTORS[:6])),
                 "22023", "vectors[2].metadata.tenant", "no default partition")
    assert stored(s3vectors_client, layout.arns["va"]) == set()


def test_where_plans_agree_on_a_partitioned_name(db: psycopg.Connection[Any],
                                                 layout: Layout) -> None:
    put_all(db, layout)
    db.execute("CREATE TEMP TABLE part_items AS SELECT 'k' || lpad(g::text, 2, '0') AS k, "
               "g AS n FROM generate_series(0, 59) g")
    sql = ("SELECT key, distance FROM s3vl.query_vectors_where(%s::float8[], 'part_items', 'k', "
           "%s, top_k => 8, index_name => %s, metadata_filter => %s, strategy => %s)")
    for predicate, flt in (("n % 4 = 0", None), ("n > 10", '{"tenant": {"$ne": "b"}}')):
        want = db.execute(sql, (Q, predicate, layout.single, flt, "iterative")).fetchall()
        assert len(want) == 8
        for name in (layout.single, layout.hashed, layout.valued):
            for strategy in ("prefilter", "iterative", "auto"):
                got = db.execute(sql, (Q, predicate, name, flt, strategy)).fetchall()
                assert same_rows(got, want), (name, strategy, got, want)


class Log:
    """The function's invocation log (the stack's lambda.log) from now on."""

    def __init__(self, local_stack: Any) -> None:
        self.path = Path(local_stack.state_dir) / "lambda.log"
        self.offset = self.path.stat().st_size

    def partitions_read(self) -> list[list[int]]:
        text = self.path.read_text(errors="replace")[self.offset:]
        self.offset += len(text)
        out = []
        for line in text.splitlines():
            if '"partition fan-out"' in line:
                out.append(json.loads(line[line.index("{"):])["partitions_read"])
        return out


BOUND_READS = {
    "query_vectors": "SELECT vector_id FROM s3vl.query_vectors(%(q)s::float8[], %(i)s, "
                     "top_k => 60)",
    "index-first": "SELECT vector_id FROM s3vl.query_vectors(%(i)s, %(q)s::float8[], 60)",
    "batch": "SELECT vector_id FROM s3vl.query_vectors_batch(ARRAY[%(q)s]::float8[], %(i)s, 60)",
    "get_vectors": "SELECT vector_id FROM s3vl.get_vectors(%(all)s, %(i)s) WHERE found",
    "list_vectors": "SELECT vector_id FROM s3vl.list_vectors(index_name => %(i)s, "
                    "max_results => 100)",
    "scan_vectors": "SELECT vector_id FROM s3vl.scan_vectors(%(i)s, page_size => 9)",
    "where prefilter": "SELECT key FROM s3vl.query_vectors_where(%(q)s::float8[], 'part_keys', "
                       "'k', top_k => 60, index_name => %(i)s, strategy => 'prefilter')",
    "where iterative": "SELECT key FROM s3vl.query_vectors_where(%(q)s::float8[], 'part_keys', "
                       "'k', top_k => 60, index_name => %(i)s, strategy => 'iterative')",
}


@pytest.fixture
def bound(db: psycopg.Connection[Any], layout: Layout) -> Iterator[str]:
    put_all(db, layout)
    role = f"ptenant_{layout.arns['va'][-8:]}"
    db.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE s3vl_writer')
    db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": {\"$setting\": "
               "\"app.tenant_id\"}}')", (layout.valued, role))
    db.execute("CREATE TEMP TABLE IF NOT EXISTS part_keys (k text PRIMARY KEY)")
    db.execute("INSERT INTO part_keys SELECT v ->> 'key' FROM jsonb_array_elements(%s) v "
               "ON CONFLICT DO NOTHING", (Jsonb(VECTORS),))
    db.execute("GRANT SELECT ON part_keys TO PUBLIC")
    yield role
    db.execute("RESET ROLE")
    db.execute("RESET app.tenant_id")
    db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (layout.valued,))
    db.execute(f'DROP OWNED BY "{role}"')
    db.execute(f'DROP ROLE "{role}"')


@pytest.mark.parametrize("path", list(BOUND_READS))
def test_a_bound_role_reads_only_its_own_partition(db: psycopg.Connection[Any], layout: Layout,
                                                   bound: str, local_stack: Any,
                                                   path: str) -> None:
    params = {"q": Q, "i": layout.valued, "all": [v["key"] for v in VECTORS]}
    log = Log(local_stack)
    everything = {r[0] for r in db.execute(BOUND_READS[path], params)}
    assert everything == {v["key"] for v in VECTORS}  # superuser: unbound, every partition
    assert {o for read in log.partitions_read() for o in read} == {0, 1, 2}
    for tenant, ordinal in (("a", 0), ("b", 1), ("c", 2)):
        db.execute("RESET ROLE")
        db.execute("SELECT set_config('app.tenant_id', %s, false)", (tenant,))
        db.execute(f'SET ROLE "{bound}"')
        got = {r[0] for r in db.execute(BOUND_READS[path], params)}
        assert got == {v["key"] for v in VECTORS if v["metadata"]["tenant"] == tenant}, tenant
        reads = log.partitions_read()
        assert reads and all(read == [ordinal] for read in reads), (tenant, reads)


def test_a_bound_role_writes_only_into_its_partition(db: psycopg.Connection[Any],
                                                     layout: Layout, bound: str,
                                                     s3vectors_client: Any) -> None:
    db.execute("SELECT set_config('app.tenant_id', 'b', false)")
    db.execute(f'SET ROLE "{bound}"')
    mine = {"key": "new-b", "data": [0.3, 0.3, 0.3], "metadata": {"tenant": "b"}}
    theirs = {"key": "new-a", "data": [0.3, 0.3, 0.3], "metadata": {"tenant": "a"}}
    assert db.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                      (layout.valued, Jsonb([mine]))).fetchone() == (1,)
    expect_error(db, "SELECT s3vl.put_vectors(index_name => %s, vectors => "
                     "%s)", (layout.valued, Jsonb([theirs])),
                 "42501", "outside this role's policy")
    # A key of tenant a is refused as on one index (the check reads every partition).
    expect_error(db, "SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['k00', "
                     "'new-b'])", (layout.valued,),
                 "42501", "outside this role's policy")
    db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => "
               "ARRAY['new-b'])", (layout.valued,))
    db.execute("RESET ROLE")
    assert "new-b" not in stored(s3vectors_client, layout.arns["vb"])
    assert "k00" in stored(s3vectors_client, layout.arns["va"])
    assert "new-a" not in stored(s3vectors_client, layout.arns["va"])


def test_cache_on_a_partitioned_name(db: psycopg.Connection[Any], layout: Layout) -> None:
    put_all(db, layout)
    db.execute("SELECT s3vl.set_cache(%s, interval '60 seconds')", (layout.hashed,))
    sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 3)"
    first = db.execute(sql, (Q, layout.hashed)).fetchall()
    assert db.execute(sql, (Q, layout.hashed)).fetchall() == first
    nearest = first[0][0]
    db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => "
               "ARRAY[%s])", (layout.hashed, nearest))
    assert nearest not in {r[0] for r in db.execute(sql, (Q, layout.hashed))}


def test_strategy_choice_and_bounds(db: psycopg.Connection[Any], layout: Layout) -> None:
    put_all(db, layout)
    plans: list[str] = []
    db.add_notice_handler(lambda d: plans.append(d.message_primary or "")
                          if "plan " in (d.message_primary or "") else None)
    db.execute("SET client_min_messages = debug1")
    db.execute("CREATE TEMP TABLE few AS SELECT 'k' || lpad(g::text, 2, '0') AS k "
               "FROM generate_series(0, 59) g")
    db.execute("CREATE TEMP TABLE many AS SELECT CASE WHEN g < 60 THEN 'k' || lpad(g::text, 2, "
               "'0') ELSE 'x' || g END AS k FROM generate_series(0, 2500) g")
    sql = ("SELECT key FROM s3vl.query_vectors_where(%s::float8[], %s, 'k', top_k => 5, "
           "index_name => %s, strategy => %s)")
    few = db.execute(sql, (Q, "few", layout.hashed, "auto")).fetchall()
    assert "plan prefilter" in plans[-1] and "60 keys" in plans[-1]
    many = db.execute(sql, (Q, "many", layout.hashed, "auto")).fetchall()
    assert any("plan iterative" in p for p in plans[-2:])
    assert few == many  # the same five nearest (the x keys are not in the index)
    db.execute("RESET client_min_messages")
    expect_error(db, sql, (Q, "few", layout.hashed, "fastest"), "22023", "strategy")
    db.execute("CREATE TEMP TABLE huge AS SELECT 'h' || g AS k FROM generate_series(1, 50001) g")
    expect_error(db, sql, (Q, "huge", layout.hashed, "prefilter"), "22023",
                 "prefilter_max_keys (50000)", "iterative")


def test_track_table_and_sync_into_a_partitioned_name(db: psycopg.Connection[Any],
                                                      layout: Layout,
                                                      s3vectors_client: Any) -> None:
    table = f"part_src_{layout.arns['va'][-8:]}"
    db.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, emb float8[], tenant text)")
    try:
        db.execute(f"INSERT INTO {table} SELECT 'r' || g, ARRAY[1, g, 0.5], "
                   "(ARRAY['a', 'b', 'c'])[g % 3 + 1] FROM generate_series(1, 30) g")
        for name in (layout.hashed, layout.valued):
            db.execute("SELECT s3vl.track_table(%s, 'id', 'emb', %s, ARRAY['tenant'])",
                       (table, name))
            db.execute("SELECT s3vl.backfill(%s)", (table,))
            synced = db.execute("SELECT upserted, failed FROM s3vl.sync(%s)", (name,)).fetchall()
            assert synced == [(30, 0)], name
            db.execute("SELECT s3vl.untrack_table(%s)", (table,))
        everywhere = [stored(s3vectors_client, layout.arns[f"h{i}"]) for i in range(4)]
        assert set().union(*everywhere) == {f"r{g}" for g in range(1, 31)}
        assert all(k for k in everywhere)  # spread: no hash partition empty
        assert stored(s3vectors_client, layout.arns["va"]) == {
            f"r{g}" for g in range(1, 31) if g % 3 == 0}
    finally:
        db.execute(f"DROP TABLE {table}")


def test_text_and_hybrid_search_on_a_partitioned_name(db: psycopg.Connection[Any],
                                                      layout: Layout,
                                                      s3vectors_client: Any) -> None:
    """Merged by the service's score (docs/partitions.md): the union of the partitions' own
    answers, in score order, ties by key."""
    for kind in ("h0", "h1", "h2", "h3"):
        s3vectors_client.update_index_mode(indexArn=layout.arns[kind], indexMode="ENHANCED")
        s3vectors_client.update_metadata_configuration(
            indexArn=layout.arns[kind],
            add={"textSearchConfigurations": [{"metadataKey": "name", "language": "en"}]})
    words = ("trail shoe", "road shoe", "trail boot", "wool sock")
    vectors = [{**v, "metadata": {**v["metadata"], "name": words[i % 4] + f" {i}"}}
               for i, v in enumerate(VECTORS)]
    db.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => "
               "%s)", (layout.hashed, Jsonb(vectors)))
    for _ in range(100):
        states = {s3vectors_client.get_index(indexArn=layout.arns[k])["index"]
                  ["metadataConfiguration"]["textSearchConfigurations"][0].get("status")
                  for k in ("h0", "h1", "h2", "h3")}
        if states == {"ACTIVE"}:
            break
        time.sleep(0.1)
    got = db.execute("SELECT vector_id, text_score FROM s3vl.search_text('trail', 'name', %s, "
                     "top_k => 12)", (layout.hashed,)).fetchall()
    per_partition = [r for kind in ("h0", "h1", "h2", "h3") for r in db.execute(
        "SELECT vector_id, text_score FROM s3vl.search_text('trail', 'name', index_arn => %s, "
        "top_k => 12)", (layout.arns[kind],)).fetchall()]
    want = sorted(per_partition, key=lambda r: (-r[1], r[0]))[:12]
    assert [r[0] for r in got] == [r[0] for r in want]
    assert all(words[int(k[1:]) % 4].startswith("trail") for k, _ in got)
    hybrid = db.execute("SELECT vector_id, fused_score FROM s3vl.hybrid_search(%s::float8[], "
                        "'trail', 'name', %s, top_k => 8)", (Q, layout.hashed)).fetchall()
    assert len(hybrid) == 8
    assert [r[1] for r in hybrid] == sorted((r[1] for r in hybrid), reverse=True)


def test_index_grants_on_a_partitioned_name(db: psycopg.Connection[Any], layout: Layout) -> None:
    put_all(db, layout)
    suffix = layout.arns["va"][-8:]
    granted, other = f"pgrant_{suffix}", f"pnogrant_{suffix}"
    for role in (granted, other):
        db.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE s3vl_reader')
    try:
        db.execute("SELECT s3vl.grant_index(%s, %s)", (layout.hashed, granted))
        sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 3)"
        db.execute(f'SET ROLE "{granted}"')
        assert len(db.execute(sql, (Q, layout.hashed)).fetchall()) == 3
        db.execute(f'SET ROLE "{other}"')
        expect_error(db, sql, (Q, layout.hashed), "42501", "has no grant")
        expect_error(db, "SELECT * FROM s3vl.get_vectors(ARRAY['k01'], %s)", (layout.hashed,),
                     "42501", "has no grant")
    finally:
        db.execute("RESET ROLE")
        db.execute("DELETE FROM s3vl.index_grants WHERE index_name = %s", (layout.hashed,))
        for role in (granted, other):
            db.execute(f'DROP ROLE "{role}"')


def test_management_by_filter_on_a_partitioned_name(db: psycopg.Connection[Any],
                                                    layout: Layout,
                                                    s3vectors_client: Any) -> None:
    put_all(db, layout)
    flt = Jsonb({"n": {"$lt": 30}})
    for name in (layout.single, layout.hashed, layout.valued):
        assert db.execute("SELECT s3vl.count_vectors(%s, %s)", (name, flt)).fetchone() == (30,)
        listed = {r[0] for r in db.execute("SELECT vector_id FROM s3vl.list_vectors_where(%s, %s)",
                                           (name, flt))}
        assert listed == {f"k{i:02d}" for i in range(30)}
    assert db.execute("SELECT s3vl.update_metadata(index_name => %s, vector_ids => ARRAY['k01', "
                      "'k02'], patch => %s)",
                      (layout.valued, Jsonb({"flag": 1}))).fetchone() == (2,)
    rows = db.execute("SELECT metadata FROM s3vl.get_vectors(ARRAY['k01', 'k02'], %s)",
                      (layout.valued,)).fetchall()
    assert all(r[0]["flag"] == 1 for r in rows)
    expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, vector_ids => ARRAY['k01'], "
                     "patch => %s)",
                 (layout.valued, Jsonb({"tenant": "a"})), "22023", "partition key")
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                      (layout.hashed, flt)).fetchone() == (30,)
    left = set().union(*[stored(s3vectors_client, layout.arns[f"h{i}"]) for i in range(4)])
    assert left == {f"k{i:02d}" for i in range(30, COUNT)}
