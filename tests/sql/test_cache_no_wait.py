"""Issue 19 item 4: a cache store never waits for another session. A reader that ran a cached
query and leaves its transaction open used to make every other session's identical query (any
tenant's) hang on its uncommitted row until the statement timeout."""

from __future__ import annotations

import psycopg
import pytest

from sql.test_cache import QUERY, Cached, cached  # noqa: F401  (fixture)
from sql.writes_helpers import wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack

VEC = [7.0, 3.0, 1.0]


def test_an_open_transaction_does_not_block_an_identical_cached_query(
        cached: Cached) -> None:  # noqa: F811
    with psycopg.connect(cached.conn.info.dsn) as holder:
        holder.execute("SET ROLE s3vl_reader")
        first = holder.execute(QUERY, (cached.name, VEC, 3, True, None)).fetchall()
        # holder stored the answer (a miss) and keeps its transaction open.
        with psycopg.connect(cached.conn.info.dsn, autocommit=True) as other:
            other.execute("SET ROLE s3vl_reader")
            other.execute("SET statement_timeout = '5s'")  # a bounded wait: it must not expire
            again = other.execute(QUERY, (cached.name, VEC, 3, True, None)).fetchall()
            assert again == first
            # The same key stored by the other session while the holder's row is still open:
            # skipped, so the holder's answer is the one kept once it commits.
            holder.commit()
            hits_before = cached.stats()[0]
            assert other.execute(QUERY, (cached.name, VEC, 3, True, None)).fetchall() == first
            assert cached.stats()[0] == hits_before + 1


def test_a_locked_entry_does_not_block_a_store(cached: Cached) -> None:  # noqa: F811
    """A session whose open transaction holds an expired entry's row (an eviction in progress
    locks its victims) makes a store of the same key elsewhere give up at once, not wait."""
    cached.query(vec=VEC)  # stored, committed
    cached.conn.execute("UPDATE s3vl.query_cache SET created_at = created_at - interval '7 days'")
    with psycopg.connect(cached.conn.info.dsn) as evictor:
        evictor.execute("SELECT 1 FROM s3vl.query_cache FOR UPDATE")  # left open
        with psycopg.connect(cached.conn.info.dsn, autocommit=True) as other:
            other.execute("SET ROLE s3vl_reader")
            other.execute("SET statement_timeout = '5s'")
            other.execute("SET lock_timeout = '4s'")
            rows = other.execute(QUERY, (cached.name, VEC, 3, True, None)).fetchall()
            assert len(rows) == 3  # a miss (the entry expired), answered; the store skipped
            assert other.execute("SHOW lock_timeout").fetchone() == ("4s",)  # restored
        evictor.rollback()
