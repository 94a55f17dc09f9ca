"""Cache hit latency of s3vl.query_vectors against the uncached call, in the same run.

On a local stack of its own (.local/bench-cache, removed after), no added latency (the uncached
baseline is the local path's floor; on AWS a miss costs a Lambda round trip of 100-500 ms):
  baseline  query_vectors on an index without a cache (invokes the function every time)
  hit       the same queries on a cached index (s3vl.set_cache(..., '1 hour')), answered from
            s3vl.query_cache; timed client-side (psycopg round trip included; the vector as a
            binary float8[] parameter, and as text) and server-side (clock_timestamp around
            each call inside PostgreSQL)
Prints medians and the ratio. Target: hit <= 1 ms median.

    .venv/bin/python bench/bench_cache.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import DIMENSION, bench_stack, make_index, median, timed

TARGET_MS = 1.0

SERVER_TIMER = """
CREATE OR REPLACE FUNCTION pg_temp.time_hits(vecs float8[], n integer) RETURNS float8[]
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  out float8[] := '{}';
  rows integer;
BEGIN
  FOR i IN 1..n LOOP
    t0 := clock_timestamp();
    SELECT count(*) INTO rows FROM s3vl.query_vectors('bench-cached',
      s3vl._array_row(vecs, 1 + i % pg_catalog.array_length(vecs, 1)), 10);
    out := out || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
  END LOOP;
  RETURN out;
END $$;
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer calls (smoke test)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import psycopg

    calls = 50 if args.quick else 500
    rng = random.Random(3)
    queries = [[rng.uniform(-1, 1) for _ in range(DIMENSION)] for _ in range(20)]
    results: dict[str, Any] = {"calls": calls}
    with bench_stack("cache") as info, psycopg.connect(info.dsn, autocommit=True) as conn:
        make_index(info, conn, "bench-plain", 1000)
        make_index(info, conn, "bench-cached", 1000)
        conn.execute("SELECT s3vl.set_cache('bench-cached', '1 hour')")
        counter = iter(range(10**9))
        # %b: the query vector goes as binary float8[]. As text, psycopg prints 384 floats and
        # PostgreSQL parses them back, ~0.8 ms per call here that has nothing to do with s3vl;
        # that form is measured too.
        statement = "SELECT * FROM s3vl.query_vectors(%s, %b::float8[], 10)"
        text_statement = "SELECT * FROM s3vl.query_vectors(%s, %s::float8[], 10)"

        def plain() -> None:
            conn.execute(statement, ("bench-plain", queries[next(counter) % 20])).fetchall()

        def hit() -> None:
            conn.execute(statement, ("bench-cached", queries[next(counter) % 20])).fetchall()

        def hit_text() -> None:
            conn.execute(text_statement, ("bench-cached", queries[next(counter) % 20])).fetchall()

        for q in queries:  # fill the cache; warm plans
            conn.execute(statement, ("bench-cached", q)).fetchall()
        timed(plain, 10)
        conn.execute("SELECT s3vl.clear_cache()")
        for q in queries:
            conn.execute(statement, ("bench-cached", q)).fetchall()
        results["baseline_uncached_ms"] = median(timed(plain, calls))
        results["hit_client_ms"] = median(timed(hit, calls))
        timed(hit_text, 10)
        results["hit_client_text_param_ms"] = median(timed(hit_text, calls))
        conn.execute(SERVER_TIMER)
        row = conn.execute("SELECT pg_temp.time_hits(%s::float8[], %s)",
                           (queries, calls)).fetchone()
        assert row is not None
        results["hit_server_ms"] = median(list(row[0]))
        stats = conn.execute("SELECT hits, misses, entries FROM s3vl.cache_stats()").fetchone()
        assert stats is not None and stats[1] == 20 and stats[2] == 20, stats
        results["cache_stats"] = {"hits": stats[0], "misses": stats[1], "entries": stats[2]}
    results["ratio_uncached_over_hit"] = round(
        results["baseline_uncached_ms"] / results["hit_client_ms"], 1)
    results["target_ms"] = TARGET_MS
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"query_vectors, top 10, {DIMENSION}-d, {calls} calls each, medians")
        print(f"baseline (no cache, local path):  {results['baseline_uncached_ms']:8.3f} ms")
        print(f"cache hit, client round trip:     {results['hit_client_ms']:8.3f} ms "
              "(vector as a binary parameter)")
        print(f"  same, vector as a text parameter: {results['hit_client_text_param_ms']:8.3f} ms")
        print(f"cache hit, inside PostgreSQL:     {results['hit_server_ms']:8.3f} ms")
        print(f"ratio uncached / hit: {results['ratio_uncached_over_hit']}x; "
              f"target hit <= {TARGET_MS} ms; stats {results['cache_stats']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
