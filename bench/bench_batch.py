"""query_vectors_batch against one query_vectors call per row, with AWS-like latencies.

On a local stack of its own (.local/bench-batch, removed after): the Lambda endpoint adds 100 ms
per invocation and the emulator 20 ms per QueryVectors (both set through their admin endpoints),
standing in for Lambda's round trip and the service's query latency. Measured in the same run:
  baseline  100 query vectors, one s3vl.query_vectors call each in a LATERAL join (100 invocations)
  batch     the same 100 vectors in one s3vl.query_vectors_batch call (one invocation, the
            function runs the QueryVectors calls 8 at a time)
Both answers are checked to be identical. Prints medians and the ratio. Target: >= 20x.

    .venv/bin/python bench/bench_batch.py [--quick] [--json]

The stack helpers here are shared with bench_cache.py and bench_writes.py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT / "local")]

DIMENSION = 128
TARGET_RATIO = 20.0


def post_json(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def median(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


@contextmanager
def bench_stack(name: str) -> Iterator[Any]:
    """A local stack in .local/bench-<name>, removed afterwards."""
    from s3vl_local import stack

    state_dir = ROOT / ".local" / f"bench-{name}"
    stack.down(state_dir, remove=True)
    try:
        yield stack.up(state_dir)
    finally:
        stack.down(state_dir, remove=True)


def make_index(info: Any, conn: Any, name: str, count: int, dimension: int = DIMENSION,
               seed: int = 11) -> list[dict[str, Any]]:
    """A registered emulator index `name` holding `count` random vectors (loaded with boto3)."""
    import boto3

    client: Any = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                          region_name=info.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.create_index(vectorBucketName=info.bucket_name, indexName=name, dataType="float32",
                        dimension=dimension, distanceMetric="cosine")
    arn = info.index_arn.split("/index/")[0] + "/index/" + name
    rng = random.Random(seed)
    vectors = [{"key": f"v-{i}",
                "data": {"float32": [rng.uniform(-1, 1) for _ in range(dimension)]},
                "metadata": {"i": i}} for i in range(count)]
    for start in range(0, count, 500):
        client.put_vectors(indexArn=arn, vectors=vectors[start:start + 500])
    conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    return vectors


def set_latencies(info: Any, lambda_ms: int, query_ms: int) -> None:
    post_json(info.lambda_endpoint + "/_s3vl/config", {"latency_ms": lambda_ms})
    post_json(info.s3vectors_endpoint + "/_s3vl/faults",
              {"latency_ms": query_ms, "operations": ["QueryVectors"]})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one run of each (smoke test)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import psycopg

    runs = 1 if args.quick else 3
    rng = random.Random(5)
    queries = [[rng.uniform(-1, 1) for _ in range(DIMENSION)] for _ in range(args.queries)]
    results: dict[str, Any] = {"queries": args.queries, "lambda_latency_ms": 100,
                               "query_latency_ms": 20}
    with bench_stack("batch") as info, psycopg.connect(info.dsn, autocommit=True) as conn:
        make_index(info, conn, "bench-batch", 2000)
        conn.execute("CREATE TEMP TABLE q (n integer, v float8[])")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO q VALUES (%s, %s)",
                            [(i + 1, v) for i, v in enumerate(queries)])
        lateral = ("SELECT q.n, r.vector_id, r.distance FROM q CROSS JOIN LATERAL "
                   "s3vl.query_vectors('bench-batch', q.v, 10) r ORDER BY q.n, r.distance, "
                   "r.vector_id")
        batch = ("SELECT b.ordinal, b.vector_id, b.distance FROM s3vl.query_vectors_batch("
                 "(SELECT array_agg(v ORDER BY n) FROM q), 'bench-batch', 10) b "
                 "ORDER BY b.ordinal, b.distance, b.vector_id")
        assert conn.execute(lateral).fetchall() == conn.execute(batch).fetchall()
        set_latencies(info, 100, 20)
        try:
            baseline = timed(lambda: conn.execute(lateral).fetchall(), runs)
            batched = timed(lambda: conn.execute(batch).fetchall(), runs)
        finally:
            set_latencies(info, 0, 0)
    results["baseline_lateral_ms"] = median(baseline)
    results["batch_ms"] = median(batched)
    results["ratio"] = round(results["baseline_lateral_ms"] / results["batch_ms"], 1)
    results["target_ratio"] = TARGET_RATIO
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.queries} query vectors, Lambda +100 ms/invocation, QueryVectors +20 ms, "
              f"{runs} run(s), medians")
        print("baseline (query_vectors per row, LATERAL): "
              f"{results['baseline_lateral_ms']:9.1f} ms")
        print(f"query_vectors_batch (one call):            {results['batch_ms']:9.1f} ms")
        print(f"ratio: {results['ratio']}x (target >= {TARGET_RATIO:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
