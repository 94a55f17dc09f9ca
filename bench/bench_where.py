"""Filtered search that fills k: s3vl.query_vectors_where against "ask for top_k x N and filter".

Measured in one run against a throwaway local stack (.local/bench-where): an index of random
vectors, a table whose `bucket` column (0-99, independent of the vectors) makes predicates that
pass 50 %, 10 % and 1 % of rows, and for each predicate the same query vectors through
  where     s3vl.query_vectors_where(..., predicate => 'bucket < P', top_k => k): candidates
            read page by page until k rows pass (its DEBUG line gives candidates and invocations)
  naive     query_vectors(top_k => k * N) joined with the table and filtered (the blog's CTE with
            an over-fetch factor N): one invocation, but often fewer than k rows
  regrow    naive, asking again with 4x the top_k until k rows pass (what query_table did before):
            k rows, but every retry fetches the earlier candidates again
Every answer is compared with the exact answer computed in numpy (the emulator searches exactly).
Printed per predicate: median time, candidates fetched, invocations, rows; ratios where/regrow.

    .venv/bin/python bench/bench_where.py [--vectors N] [--dimension D] [--queries Q] [--top-k K]
                                          [--factor N] [--max-candidates M] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
STATE_DIR = ROOT / ".local" / "bench-where"
INDEX = "bench-where"
TABLE = "bench_where_items"
PASS_PERCENT = (50, 10, 1)
MAX_TOP_K = 10000


def bucket_of(ids: np.ndarray) -> np.ndarray:
    """0..99, unrelated to the vectors (a multiplicative hash of the id)."""
    return (ids * 2654435761 % 2**32) % 100


def exact(vectors: np.ndarray, query: np.ndarray, passes: np.ndarray, k: int) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    dist = 1.0 - unit @ (query / np.linalg.norm(query))
    order = np.argsort(dist, kind="stable")
    return [str(i + 1) for i in order if passes[i]][:k]


class Debug:
    """Collects the DEBUG line of query_vectors_where: rows, candidates, invocations."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, diag: Any) -> None:
        if diag.severity_nonlocalized == "DEBUG" and "candidates" in (diag.message_primary or ""):
            self.lines.append(diag.message_primary or "")

    def take(self) -> tuple[int, int]:
        words = self.lines.pop().split()
        self.lines.clear()
        # "<caller>: R rows from C candidates in I invocations"
        return int(words[words.index("from") + 1]), int(words[words.index("in") + 1])


def run_where(conn: Any, debug: Debug, q: list[float], percent: int, k: int, bound: int
              ) -> tuple[float, list[str], int, int]:
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT key FROM s3vl.query_vectors_where(%s::float8[], %s, 'id', %s, top_k => %s, "
        "index_name => %s, max_candidates => %s)",
        (q, TABLE, f"bucket < {percent}", k, INDEX, bound)).fetchall()
    seconds = time.perf_counter() - started
    candidates, calls = debug.take()
    return seconds, [r[0] for r in rows], candidates, calls


def naive_once(conn: Any, q: list[float], percent: int, k: int, fetch: int
               ) -> tuple[list[str], int]:
    rows = conn.execute(
        "WITH nearest AS (SELECT v.vector_id, v.distance FROM s3vl.query_vectors(%s::float8[], "
        "index_name => %s, top_k => %s, return_metadata => false) v) "
        f"SELECT n.vector_id FROM nearest n JOIN {TABLE} t ON t.id = n.vector_id::integer "
        "WHERE t.bucket < %s ORDER BY n.distance LIMIT %s",
        (q, INDEX, fetch, percent, k)).fetchall()
    return [r[0] for r in rows], fetch


def run_naive(conn: Any, q: list[float], percent: int, k: int, factor: int, n: int
              ) -> tuple[float, list[str], int, int]:
    started = time.perf_counter()
    keys, fetch = naive_once(conn, q, percent, k, min(k * factor, MAX_TOP_K))
    return time.perf_counter() - started, keys, min(fetch, n), 1


def run_regrow(conn: Any, q: list[float], percent: int, k: int, factor: int, n: int
               ) -> tuple[float, list[str], int, int]:
    started = time.perf_counter()
    fetch, fetched, calls = min(k * factor, MAX_TOP_K), 0, 0
    while True:
        keys, _ = naive_once(conn, q, percent, k, fetch)
        fetched += min(fetch, n)
        calls += 1
        if len(keys) >= k or fetch >= min(n, MAX_TOP_K):
            break
        fetch = min(fetch * 4, MAX_TOP_K)
    return time.perf_counter() - started, keys, fetched, calls


def summary(samples: list[tuple[float, list[str], int, int]], truths: list[list[str]], k: int
            ) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
        "candidates": round(statistics.mean(s[2] for s in samples), 1),
        "invocations": round(statistics.mean(s[3] for s in samples), 2),
        "rows": round(statistics.mean(len(s[1]) for s in samples), 2),
        "exact_answers": sum(s[1] == t for s, t in zip(samples, truths, strict=True)),
        "full_k_answers": sum(len(s[1]) == k for s in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=20000)
    parser.add_argument("--dimension", type=int, default=64)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--factor", type=int, default=10, help="naive over-fetch factor N")
    parser.add_argument("--max-candidates", type=int, default=MAX_TOP_K,
                        help="query_vectors_where's bound (the QueryVectors topK it pages)")
    parser.add_argument("--quick", action="store_true", help="3,000 vectors, 4 queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = 3000 if args.quick else args.vectors
    queries = 4 if args.quick else args.queries
    k = args.top_k

    import boto3
    import psycopg

    from s3vl_local import stack

    rng = np.random.default_rng(12)
    vectors = rng.standard_normal((n, args.dimension)).astype(np.float32)
    query_vectors = rng.standard_normal((queries, args.dimension)).astype(np.float32)
    ids = np.arange(1, n + 1)
    buckets = bucket_of(ids)
    results: dict[str, Any] = {"vectors": n, "dimension": args.dimension, "queries": queries,
                               "top_k": k, "factor": args.factor,
                               "max_candidates": args.max_candidates, "predicates": {}}
    stack.down(STATE_DIR, remove=True)
    try:
        info = stack.up(STATE_DIR)
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.create_index(vectorBucketName=info.bucket_name, indexName=INDEX,
                            dataType="float32", dimension=args.dimension, distanceMetric="cosine")
        arn = info.index_arn.rsplit("/", 1)[0] + "/" + INDEX
        for start in range(0, n, 500):
            client.put_vectors(indexArn=arn, vectors=[
                {"key": str(i + 1), "data": {"float32": vectors[i].tolist()}}
                for i in range(start, min(n, start + 500))])
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX, arn))
            conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, bucket integer)")
            with conn.cursor().copy(f"COPY {TABLE} (id, bucket) FROM STDIN") as copy:
                for i, b in zip(ids.tolist(), buckets.tolist(), strict=True):
                    copy.write_row((i, b))
            conn.execute(f"ANALYZE {TABLE}")
            debug = Debug()
            conn.add_notice_handler(debug)
            conn.execute("SET client_min_messages = debug1")
            qs = [qv.tolist() for qv in query_vectors]
            run_where(conn, debug, qs[0], 50, k, args.max_candidates)  # warm-up
            for percent in PASS_PERCENT:
                passes = buckets < percent
                truths = [exact(vectors, qv, passes, k) for qv in query_vectors]
                where = [run_where(conn, debug, q, percent, k, args.max_candidates) for q in qs]
                naive = [run_naive(conn, q, percent, k, args.factor, n) for q in qs]
                regrow = [run_regrow(conn, q, percent, k, args.factor, n) for q in qs]
                entry = {"where": summary(where, truths, k), "naive": summary(naive, truths, k),
                         "regrow": summary(regrow, truths, k)}
                entry["candidates_where_over_regrow"] = round(
                    entry["where"]["candidates"] / entry["regrow"]["candidates"], 3)
                entry["time_where_over_regrow"] = round(
                    entry["where"]["median_ms"] / entry["regrow"]["median_ms"], 3)
                entry["time_where_over_naive"] = round(
                    entry["where"]["median_ms"] / entry["naive"]["median_ms"], 3)
                results["predicates"][f"{percent}%"] = entry
    finally:
        stack.down(STATE_DIR, remove=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"filtered search, {n} vectors x {args.dimension} (cosine), {queries} queries, "
          f"top_k {k}, naive over-fetch x{args.factor}, max_candidates {args.max_candidates}; "
          "medians per query")
    print(f"  {'predicate':<9} {'method':<7} {'ms':>8} {'candidates':>11} {'invocations':>12} "
          f"{'rows':>6} {'exact':>6}")
    for name, entry in results["predicates"].items():
        for method in ("where", "naive", "regrow"):
            r = entry[method]
            print(f"  {name:<9} {method:<7} {r['median_ms']:>8.1f} {r['candidates']:>11.1f} "
                  f"{r['invocations']:>12.2f} {r['rows']:>6.2f} "
                  f"{r['exact_answers']:>3}/{queries}")
        print(f"  {name:<9} where/regrow: candidates x{entry['candidates_where_over_regrow']}, "
              f"time x{entry['time_where_over_regrow']}; where/naive time "
              f"x{entry['time_where_over_naive']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
