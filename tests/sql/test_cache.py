"""The s3vl result cache on the real stack. "Served without the function" is checked by pointing
the session's aws_lambda endpoint at a closed port: a hit still answers, a miss fails (SV006)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from sql.helpers import expect_error
from sql.test_writes_support import WriteDb, wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack

Q = [1.0, 0.5, 0.25]
QUERY = ("SELECT vector_id, distance, metadata FROM s3vl.query_vectors(%s, %s::float8[], %s, "
         "%s, %s)")


class Cached:
    def __init__(self, conn: psycopg.Connection[Any], name: str, other: str) -> None:
        self.conn = conn
        self.name = name
        self.other = other

    def query(self, vec: list[float] = Q, top_k: int = 3, with_md: bool = True,
              filt: Any = None, name: str | None = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(QUERY, (name or self.name, vec, top_k, with_md, filt)).fetchall()

    def stats(self) -> tuple[int, int, int, int]:
        row = self.conn.execute("SELECT hits, misses, entries, bytes FROM s3vl.cache_stats()"
                                ).fetchone()
        assert row is not None
        return (row[0], row[1], row[2], row[3])

    def lambda_down(self) -> None:
        self.conn.execute("SET aws_lambda.endpoint_override = 'http://127.0.0.1:9'")

    def lambda_up(self) -> None:
        self.conn.execute("RESET aws_lambda.endpoint_override")


VECS = [{"key": f"c-{i}", "data": [1.0, float(i), 0.5], "metadata": {"i": i, "odd": i % 2 == 1}}
        for i in range(8)]


@pytest.fixture
def cached(wdb: WriteDb) -> Iterator[Cached]:  # noqa: F811
    name, _ = wdb.new_index()
    other, _ = wdb.new_index()
    for index in (name, other):
        wdb.conn.execute("SELECT s3vl.put_vectors(%s, %s)", (index, Jsonb(VECS)))
    # The same key, different data: an answer from the wrong index would show.
    wdb.conn.execute("SELECT s3vl.put_vector(%s, 'c-0', ARRAY[-1, -1, -1]::float8[])", (other,))
    for index in (name, other):
        wdb.conn.execute("SELECT s3vl.set_cache(%s, '1 minute')", (index,))
    wdb.conn.execute("SELECT s3vl.clear_cache()")
    yield Cached(wdb.conn, name, other)
    wdb.conn.execute("RESET aws_lambda.endpoint_override")
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
    cached.conn.execute("SELECT s3vl.put_vector(%s, 'new', %s::float8[])", (cached.name, Q))
    assert cached.stats()[2] == 1  # only the other index's entry is left
    after = cached.query()
    assert after[0][0] == "new" and after != before
    cached.conn.execute("SELECT s3vl.delete_vectors(%s, ARRAY['new'])", (cached.name,))
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
    batch = cached.conn.execute("SELECT query_index, vector_id, distance, metadata FROM "
                                "s3vl.query_vectors_batch(%s, %s::float8[], 3)",
                                (cached.name, qs)).fetchall()
    assert cached.stats()[:3] == (1, 3, 3)
    cached.lambda_down()
    again = cached.conn.execute("SELECT query_index, vector_id, distance, metadata FROM "
                                "s3vl.query_vectors_batch(%s, %s::float8[], 3)",
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
    conn.execute("SET ROLE s3vl_reader")
    try:
        cached.lambda_down()
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
