"""The s3vl result cache on the real stack. "Served without the function" is checked by pointing
the database's aws_lambda endpoint at a closed port: a hit still answers, a miss fails (SV006)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from e2e.fake_forging_endpoint import FORGED_ROW, forging_server
from sql.sql_helpers import expect_error, set_answer
from sql.writes_helpers import WriteDb, wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack

Q = [1.0, 0.5, 0.25]
QUERY = ("SELECT vector_id, distance, metadata FROM s3vl.query_vectors(%s, %s::float8[], %s, "
         "%s, %s)")


class Cached:
    def __init__(self, conn: psycopg.Connection[Any], name: str, other: str,
                 endpoint: str) -> None:
        self.conn = conn
        self.name = name
        self.other = other
        self.endpoint = endpoint

    def query(self, vec: list[float] = Q, top_k: int = 3, with_md: bool = True,
              filt: Any = None, name: str | None = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(QUERY, (name or self.name, vec, top_k, with_md, filt)).fetchall()

    def stats(self) -> tuple[int, int, int, int]:
        row = self.conn.execute("SELECT hits, misses, entries, bytes FROM s3vl.cache_stats()"
                                ).fetchone()
        assert row is not None
        return (row[0], row[1], row[2], row[3])

    def point_at(self, url: str) -> None:
        # Database level: the stand-in ignores a session's own endpoint.
        self.conn.execute(sql.SQL("ALTER DATABASE {} SET aws_lambda.endpoint_override = {}"
                                  ).format(sql.Identifier(self.conn.info.dbname),
                                           sql.Literal(url)))

    def lambda_down(self) -> None:
        self.point_at("http://127.0.0.1:9")

    def lambda_up(self) -> None:
        self.point_at(self.endpoint)


VECS = [{"key": f"c-{i}", "data": [1.0, float(i), 0.5], "metadata": {"i": i, "odd": i % 2 == 1}}
        for i in range(8)]


@pytest.fixture
def cached(wdb: WriteDb, local_stack: Any) -> Iterator[Cached]:  # noqa: F811
    name, _ = wdb.new_index()
    other, _ = wdb.new_index()
    for index in (name, other):
        wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                         (index, Jsonb(VECS)))
    # The same key, different data: an answer from the wrong index would show.
    wdb.conn.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'c-0', "
                     "vector => ARRAY[-1, -1, -1]::float8[])", (other,))
    for index in (name, other):
        wdb.conn.execute("SELECT s3vl.set_cache(%s, '1 minute')", (index,))
    wdb.conn.execute("SELECT s3vl.clear_cache()")
    cache = Cached(wdb.conn, name, other, local_stack.lambda_endpoint)
    yield cache
    wdb.conn.execute("RESET ROLE")
    cache.lambda_up()
    wdb.conn.execute("SELECT s3vl.set_cache_limits(10000, 67108864)")
    for index in (name, other):
        wdb.conn.execute("SELECT s3vl.set_cache(%s, NULL)", (index,))


def test_hit_answers_without_the_function(cached: Cached) -> None:
    first = cached.query()
    assert cached.stats()[:3] == (0, 1, 1)
    cached.lambda_down()
    assert cached.query() == first
    assert cached.stats()[:3] == (1, 1, 1)
    expect_error(cached.conn, QUERY, (cached.name, Q, 4, True, None), "SV006")


def test_off_by_default_and_after_set_cache_null(cached: Cached) -> None:
    cached.conn.execute("SELECT s3vl.set_cache(%s, NULL)", (cached.name,))
    cached.query()
    cached.query()
    assert cached.stats() == (0, 0, 0, 0)


def test_entry_expires_after_its_ttl(cached: Cached) -> None:
    cached.conn.execute("SELECT s3vl.set_cache(%s, '1 second')", (cached.name,))
    cached.query()
    time.sleep(1.2)
    cached.lambda_down()
    expect_error(cached.conn, QUERY, (cached.name, Q, 3, True, None), "SV006")
    cached.lambda_up()
    cached.query()
    assert cached.stats()[:2] == (0, 3)


def test_write_through_s3vl_invalidates_the_index(cached: Cached) -> None:
    before = cached.query(name=cached.name)
    cached.query(name=cached.other)
    assert cached.stats()[2] == 2
    cached.conn.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'new', "
                        "vector => %s::float8[])", (cached.name, Q))
    assert cached.stats()[2] == 1  # only the other index's entry is left
    after = cached.query()
    assert after[0][0] == "new" and after != before
    cached.conn.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['new'])",
                        (cached.name,))
    assert cached.query() == before


@pytest.mark.parametrize("field", ["vector", "top_k", "return_metadata", "filter", "index"])
def test_queries_differing_in_one_field_are_not_cross_served(cached: Cached, field: str) -> None:
    base: dict[str, Any] = {"vec": Q, "top_k": 3, "with_md": True,
                            "filt": Jsonb({"odd": True}), "name": cached.name}
    variant = dict(base)
    if field == "vector":
        variant["vec"] = [Q[0], Q[1], 0.25000000000000006]  # one float8 bit apart
    elif field == "top_k":
        variant["top_k"] = 2
    elif field == "return_metadata":
        variant["with_md"] = False
    elif field == "filter":
        variant["filt"] = Jsonb({"odd": False})
    else:
        variant["name"] = cached.other
    cached.query(**base)
    cached.lambda_down()
    cached.query(**base)  # a hit
    expect_error(cached.conn, QUERY, (variant["name"], variant["vec"], variant["top_k"],
                                      variant["with_md"], variant["filt"]), "SV006")
    cached.lambda_up()
    cached.query(**variant)
    assert cached.stats()[2] == 2  # the variant got an entry of its own


def test_a_hash_match_is_verified_against_the_full_key(cached: Cached) -> None:
    honest = cached.query()
    # Forge an entry whose hash is the one of the query but whose stored key is another query's.
    cached.conn.execute(
        "UPDATE s3vl.query_cache SET top_k = 4, result = '[{\"vector_id\": \"forged\", "
        "\"distance\": 0, \"similarity_score\": 1, \"metadata\": {}}]'")
    assert cached.query() == honest
    assert "forged" not in [r[0] for r in cached.query()]


def test_batch_uses_and_fills_the_cache(cached: Cached) -> None:
    qs = [[1.0, float(i), 0.5] for i in range(3)]
    cached.query(vec=qs[1])
    batch = cached.conn.execute("SELECT ordinal, vector_id, distance, metadata FROM "
                                "s3vl.query_vectors_batch(index_name => %s, "
                                "query_vectors => %s::float8[], top_k => 3)",
                                (cached.name, qs)).fetchall()
    assert cached.stats()[:3] == (1, 3, 3)
    cached.lambda_down()
    again = cached.conn.execute("SELECT ordinal, vector_id, distance, metadata FROM "
                                "s3vl.query_vectors_batch(index_name => %s, "
                                "query_vectors => %s::float8[], top_k => 3)",
                                (cached.name, qs)).fetchall()
    assert again == batch
    assert [r[1:] for r in batch if r[0] == 3] == cached.query(vec=qs[2])


def test_size_bound_evicts_the_oldest(cached: Cached) -> None:
    cached.conn.execute("SELECT s3vl.set_cache_limits(3, 67108864)")
    qs = [[1.0, float(i), 0.5] for i in range(5)]
    for q in qs:
        cached.query(vec=q)
    assert cached.stats()[2] == 3
    cached.lambda_down()
    cached.query(vec=qs[4])
    expect_error(cached.conn, QUERY, (cached.name, qs[0], 3, True, None), "SV006")
    cached.lambda_up()
    size = cached.stats()[3]
    cached.conn.execute("SELECT s3vl.set_cache_limits(100, %s)", (size,))
    cached.query(vec=[2.0, 1.0, 0.0])
    _, _, entries, stored = cached.stats()
    assert entries < 4 and stored <= size
    cached.lambda_down()
    cached.query(vec=[2.0, 1.0, 0.0])  # the newest entry is the one kept


def test_reader_uses_the_cache_without_table_access(cached: Cached) -> None:
    conn = cached.conn
    first = cached.query()
    cached.lambda_down()
    conn.execute("SET ROLE s3vl_reader")
    try:
        assert cached.query() == first
        expect_error(conn, "SELECT count(*) FROM s3vl.query_cache", None, "42501")
        expect_error(conn, "SELECT s3vl.clear_cache()", None, "42501")
        expect_error(conn, "SELECT s3vl.set_cache(%s, '1 hour')", (cached.name,), "42501")
        assert conn.execute("SELECT hits, misses FROM s3vl.cache_stats()").fetchone() == (1, 1)
    finally:
        conn.execute("RESET ROLE")


def test_set_cache_errors_and_clear(cached: Cached) -> None:
    expect_error(cached.conn, "SELECT s3vl.set_cache(%s, '8 days')", (cached.name,), "22023",
                 "ttl", "604800")
    expect_error(cached.conn, "SELECT s3vl.set_cache('nope', '1 hour')", None, "42704", "nope")
    expect_error(cached.conn, "SELECT s3vl.set_cache_limits(0, 10)", None, "22023",
                 "max_entries")
    cached.query()
    cached.query()
    assert cached.conn.execute("SELECT s3vl.clear_cache()").fetchone() == (1,)
    assert cached.stats() == (0, 0, 0, 0)


def test_read_only_transaction_bypasses_the_cache(cached: Cached) -> None:
    expected = cached.query()
    cached.conn.execute("SELECT s3vl.clear_cache()")
    with cached.conn.transaction():
        cached.conn.execute("SET TRANSACTION READ ONLY")
        assert cached.query() == expected
        assert cached.query() == expected
    assert cached.stats() == (0, 0, 0, 0)


def test_vectors_equal_in_15_digits_are_distinct_keys(cached: Cached) -> None:
    # With extra_float_digits = 0 both vectors print alike; the key uses their exact bits.
    cached.conn.execute("SET extra_float_digits = 0")
    try:
        near = [Q[0], Q[1], 0.25000000000000006]
        cached.query()
        cached.lambda_down()
        cached.query()
        expect_error(cached.conn, QUERY, (cached.name, near, 3, True, None), "SV006")
    finally:
        cached.conn.execute("RESET extra_float_digits")


def test_a_reader_cannot_poison_the_shared_cache(cached: Cached, local_stack: Any) -> None:
    """A reader points its own session at its own loopback server: the stand-in ignores it, and
    nothing forged reaches the cache or another session."""
    conn = cached.conn
    with forging_server() as forger:
        conn.execute("SET ROLE s3vl_reader")
        try:
            conn.execute(sql.SQL("SET aws_lambda.endpoint_override = {}").format(
                sql.Literal(forger.url)))
            seen = cached.query()
        finally:
            conn.execute("RESET aws_lambda.endpoint_override")
            conn.execute("RESET ROLE")
    assert forger.requests == 0
    assert "forged" not in [r[0] for r in seen]
    stored = conn.execute("SELECT count(*) FROM s3vl.query_cache WHERE result @> %s",
                          (Jsonb([FORGED_ROW]),)).fetchone()
    assert stored == (0,)
    with psycopg.connect(conn.info.dsn, autocommit=True) as other:
        rows = other.execute(QUERY, (cached.name, Q, 3, True, None)).fetchall()
    assert rows == seen and "forged" not in [r[0] for r in rows]


@pytest.mark.parametrize("setting", ["aws_lambda.endpoint_override",
                                     "aws_lambda.connect_timeout_ms"])
def test_no_caching_under_a_session_aws_lambda_setting(canned: psycopg.Connection[Any],
                                                       setting: str) -> None:
    """Whatever aws_lambda.invoke does with it (the canned one ignores it), an answer obtained
    while the session set an aws_lambda.* parameter itself is not stored for everyone."""
    set_answer(canned, "query_vectors", {"success": True, "result": [
        {"vector_id": "k", "distance": 0.5, "similarity_score": 0.5, "metadata": {}}]})
    canned.execute("SELECT s3vl.set_cache('demo', '1 minute')")
    call = "SELECT count(*) FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3]::float8[], 'demo')"
    value = "http://127.0.0.1:9" if setting.endswith("override") else "500"
    canned.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*setting.split(".")),
                                                 sql.Literal(value)))
    assert canned.execute(call).fetchone() == (1,)
    assert canned.execute("SELECT entries FROM s3vl.cache_stats()").fetchone() == (0,)
    canned.execute(sql.SQL("RESET {}").format(sql.Identifier(*setting.split("."))))
    assert canned.execute(call).fetchone() == (1,)
    assert canned.execute("SELECT entries FROM s3vl.cache_stats()").fetchone() == (1,)


def test_a_lock_any_role_can_take_does_not_stop_eviction(cached: Cached, local_stack: Any
                                                         ) -> None:
    """The old eviction lock was a public advisory key: holding it switched eviction off."""
    cached.conn.execute("SELECT s3vl.set_cache_limits(3, 67108864)")
    with psycopg.connect(cached.conn.info.dsn, autocommit=True) as squatter:
        squatter.execute("SET ROLE s3vl_reader")
        squatter.execute("SELECT pg_advisory_lock(hashtext('s3vl.query_cache eviction'))")
        for i in range(5):
            cached.query(vec=[1.0, float(i), 0.5])
        assert cached.stats()[2] == 3


def test_limit_holds_while_another_session_evicts(cached: Cached) -> None:
    """A session that stored an answer and keeps its transaction open (a reader can) does not
    switch eviction off for the others, nor makes them wait."""
    cached.conn.execute("SELECT s3vl.set_cache_limits(3, 67108864)")
    cached.conn.execute("SET statement_timeout = '20s'")
    try:
        with psycopg.connect(cached.conn.info.dsn) as holder:
            holder.execute("SET ROLE s3vl_reader")
            holder.execute(QUERY, (cached.name, [9.0, 9.0, 9.0], 3, True, None)).fetchall()
            # holder's transaction stays open: it evicted, and holds whatever it locked.
            for i in range(5):
                cached.query(vec=[1.0, float(i), 0.5])
            assert cached.stats()[2] <= 3
            holder.rollback()
    finally:
        cached.conn.execute("RESET statement_timeout")
