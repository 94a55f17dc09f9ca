"""Filtered search plans: s3vl.query_vectors_where with strategy prefilter / iterative / auto, next
to the naive "ask for top_k x N and filter" baseline, at pass rates from 50 % to 0.01 %.

Measured in one run against a throwaway local stack (.local/bench-where): an index of random
vectors, a table whose `bucket` column (0-9999, independent of the vectors) makes predicates that
pass 50 %, 10 %, 1 %, 0.1 % and 0.01 % of rows; for each predicate and plan the same query
vectors. Every answer is compared with the exact answer computed in numpy (the emulator searches
exactly): `exact/k` is the mean overlap with the exact top k. Per plan: rows returned, exact/k,
candidates (neighbours paged through, or keys ranked), invocations, median ms. `auto` should be
exact everywhere and within 1.2x of the best plan's time in the same run; the printed ratios say
whether it is. `--latency-ms 30 --invoke-latency-ms 20` inject what a real round trip costs:
30 ms per service call (the emulator's --latency-ms) and 20 ms per invocation (the local Lambda
endpoint's delay).

    .venv/bin/python bench/bench_where.py [--vectors N] [--dimension D] [--queries Q] [--top-k K]
                                          [--factor N] [--latency-ms MS] [--invoke-latency-ms MS]
                                          [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
PASS_PER_10000 = (5000, 1000, 100, 10, 1)  # 50 %, 10 %, 1 %, 0.1 %, 0.01 %
PLANS = ("prefilter", "iterative", "auto")
MAX_TOP_K = 10000


def bucket_of(ids: np.ndarray) -> np.ndarray:
    """0..9999, unrelated to the vectors (a multiplicative hash of the id)."""
    return (ids * 2654435761 % 2**32) % 10000


def exact(vectors: np.ndarray, query: np.ndarray, passes: np.ndarray, k: int) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    dist = 1.0 - unit @ (query / np.linalg.norm(query))
    order = np.argsort(dist, kind="stable")
    return [str(i + 1) for i in order if passes[i]][:k]


class Debug:
    """Collects the plan lines of query_vectors_where (SET client_min_messages = debug1)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, diag: Any) -> None:
        text = diag.message_primary or ""
        if diag.severity_nonlocalized == "DEBUG" and ": plan " in text:
            self.lines.append(text)

    def take(self) -> tuple[str, int, int]:
        """(plan, candidates, invocations) of the last call."""
        line = self.lines[-1]
        self.lines.clear()
        words = line.replace("(", " ").split()
        if "plan prefilter:" in line:
            keys = int(words[words.index("from") + 1]) if "from" in words else 0
            return "prefilter", keys, 0 if "no invocation" in line else 1
        return ("iterative", int(words[words.index("from") + 1]),
                int(words[words.index("in") + 1]))


def run_plan(conn: Any, debug: Debug, q: list[float], bound: int, k: int, plan: str
             ) -> dict[str, Any]:
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT key FROM s3vl.query_vectors_where(%s::float8[], %s, 'id', %s, top_k => %s, "
        "index_name => %s, strategy => %s)",
        (q, TABLE, f"bucket < {bound}", k, INDEX, plan)).fetchall()
    seconds = time.perf_counter() - started
    ran, candidates, calls = debug.take()
    return {"s": seconds, "keys": [r[0] for r in rows], "candidates": candidates,
            "invocations": calls, "ran": ran}


def run_naive(conn: Any, q: list[float], bound: int, k: int, fetch: int) -> dict[str, Any]:
    started = time.perf_counter()
    rows = conn.execute(
        "WITH nearest AS (SELECT v.vector_id, v.distance FROM s3vl.query_vectors(%s::float8[], "
        "index_name => %s, top_k => %s, return_metadata => false) v) "
        f"SELECT n.vector_id FROM nearest n JOIN {TABLE} t ON t.id = n.vector_id::integer "
        "WHERE t.bucket < %s ORDER BY n.distance LIMIT %s",
        (q, INDEX, fetch, bound, k)).fetchall()
    return {"s": time.perf_counter() - started, "keys": [r[0] for r in rows],
            "candidates": fetch, "invocations": 1, "ran": "naive"}


def summary(samples: list[dict[str, Any]], truths: list[list[str]], k: int) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(s["s"] for s in samples) * 1000, 1),
        "rows": round(statistics.mean(len(s["keys"]) for s in samples), 2),
        "exact_of_k": round(statistics.mean(len(set(s["keys"]) & set(t))
                                            for s, t in zip(samples, truths, strict=True)), 2),
        "exact_answers": sum(s["keys"] == t for s, t in zip(samples, truths, strict=True)),
        "candidates": round(statistics.mean(s["candidates"] for s in samples), 1),
        "invocations": round(statistics.mean(s["invocations"] for s in samples), 2),
        "ran": sorted({s["ran"] for s in samples}),
    }


def set_invoke_latency(info: Any, latency_ms: int) -> None:
    """The local Lambda endpoint's delay before each invocation (POST /_s3vl/config)."""
    import urllib.request

    request = urllib.request.Request(info.lambda_endpoint + "/_s3vl/config", method="POST",
                                     data=json.dumps({"latency_ms": latency_ms}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=64)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--factor", type=int, default=10, help="naive over-fetch factor N")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="injected emulator latency per service call")
    parser.add_argument("--invoke-latency-ms", type=int, default=0,
                        help="injected local Lambda endpoint latency per invocation")
    parser.add_argument("--quick", action="store_true", help="3,000 vectors, 2 queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = 3000 if args.quick else args.vectors
    queries = 2 if args.quick else args.queries
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
                               "latency_ms": args.latency_ms,
                               "invoke_latency_ms": args.invoke_latency_ms, "predicates": {}}
    stack.down(STATE_DIR, remove=True)
    if args.latency_ms:
        os.environ[stack.EMULATOR_ARGS_ENV] = f"--latency-ms {args.latency_ms}"
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
        if args.invoke_latency_ms:
            set_invoke_latency(info, args.invoke_latency_ms)
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX, arn))
            conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, bucket integer)")
            with conn.cursor().copy(f"COPY {TABLE} (id, bucket) FROM STDIN") as copy:
                for i, b in zip(ids.tolist(), buckets.tolist(), strict=True):
                    copy.write_row((i, b))
            conn.execute(f"CREATE INDEX ON {TABLE} (bucket)")
            conn.execute(f"ANALYZE {TABLE}")
            debug = Debug()
            conn.add_notice_handler(debug)
            conn.execute("SET client_min_messages = debug1")
            qs = [qv.tolist() for qv in query_vectors]
            run_plan(conn, debug, qs[0], 5000, k, "iterative")  # warm-up
            run_plan(conn, debug, qs[0], 10, k, "prefilter")
            for bound in PASS_PER_10000:
                passes = buckets < bound
                truths = [exact(vectors, qv, passes, k) for qv in query_vectors]
                entry: dict[str, Any] = {"passing_rows": int(passes.sum())}
                fetch = min(k * args.factor, MAX_TOP_K)
                # Plans take turns query by query, in a shuffled order (seeded: the same every
                # run): drift on a shared machine, and the warm caches a plan leaves for the
                # next one, fall on every plan alike.
                samples: dict[str, list[dict[str, Any]]] = {p: [] for p in (*PLANS, "naive")}
                for i, q in enumerate(qs):
                    turns = [*PLANS, "naive"]
                    random.Random(bound * 1000 + i).shuffle(turns)
                    for plan in turns:
                        samples[plan].append(
                            run_naive(conn, q, bound, k, fetch) if plan == "naive"
                            else run_plan(conn, debug, q, bound, k, plan))
                for plan, taken in samples.items():
                    entry[plan] = summary(taken, truths, k)
                best = min(entry[p]["median_ms"] for p in ("prefilter", "iterative"))
                entry["auto_over_best"] = round(entry["auto"]["median_ms"] / best, 3)
                results["predicates"][f"{bound / 100:g}%"] = entry
    finally:
        stack.down(STATE_DIR, remove=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"filtered search, {n} vectors x {args.dimension} (cosine), {queries} queries, "
          f"top_k {k}, injected latency {args.latency_ms} ms per service call and "
          f"{args.invoke_latency_ms} ms per invocation; medians per query")
    print(f"  {'pass':<6} {'plan':<9} {'ran':<10} {'ms':>8} {'rows':>6} {'exact/k':>8} "
          f"{'candidates':>11} {'invocations':>12}")
    for name, entry in results["predicates"].items():
        for plan in (*PLANS, "naive"):
            r = entry[plan]
            print(f"  {name:<6} {plan:<9} {'/'.join(r['ran']):<10} {r['median_ms']:>8.1f} "
                  f"{r['rows']:>6.2f} {r['exact_of_k']:>8.2f} {r['candidates']:>11.1f} "
                  f"{r['invocations']:>12.2f}")
        print(f"  {name:<6} auto / best plan: x{entry['auto_over_best']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
