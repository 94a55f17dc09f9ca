"""Local stack: startup time and the cost of the SQL path over a direct S3 Vectors call.

Measured in the same run, on a stack of its own (state dir .local/bench-stack, removed after):
  startup    `up` from nothing (initdb included), then `up` again on the running stack (warm)
  direct     baseline: boto3 QueryVectors straight to the emulator (demo catalogue, 384-d, top 10)
  invoke     SELECT FROM aws_lambda.invoke(availability_check): stand-in + HTTP + handler only
  sql        SELECT FROM s3vl.query_vectors(...): psql-level SQL → stand-in → Lambda endpoint →
             handler → emulator, the same query as `direct`
Prints medians and p95 per call, and the ratio sql / direct (what the whole local path adds).

    .venv/bin/python bench/bench_local_stack.py [--queries N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT / "local")]

STATE_DIR = ROOT / ".local" / "bench-stack"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "runs": len(ordered)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import boto3
    import psycopg

    from s3vl_local import stack
    from s3vl_local.demo import data as demo_data
    from s3vl_local.demo.loader import put_vectors

    stack.down(STATE_DIR, remove=True)
    results: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        info = stack.up(STATE_DIR)
        results["startup_cold_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        stack.up(STATE_DIR)
        results["startup_warm_s"] = round(time.perf_counter() - started, 2)

        demo = demo_data.load()
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        put_vectors(client, info.index_arn, demo)
        queries = [[float(x) for x in q] for q in demo.query_vectors]
        counter = iter(range(10**9))

        def direct() -> None:
            q = queries[next(counter) % len(queries)]
            client.query_vectors(indexArn=info.index_arn, queryVector={"float32": q}, topK=10,
                                 returnDistance=True, returnMetadata=True)

        with psycopg.connect(info.dsn, autocommit=True) as conn:
            def invoke() -> None:
                conn.execute("SELECT payload FROM aws_lambda.invoke(%s, "
                              "'{\"operation\": \"availability_check\"}'::jsonb)",
                              (info.lambda_arn,)).fetchone()

            def sql() -> None:
                q = queries[next(counter) % len(queries)]
                conn.execute("SELECT * FROM s3vl.query_vectors(%s::float8[], "
                              "index_name => 'products', top_k => 10)", (q,)).fetchall()

            for fn in (direct, invoke, sql):  # warm-up: clients, plans, handler import
                timed(fn, 5)
            results["direct"] = summary(timed(direct, args.queries))
            results["invoke"] = summary(timed(invoke, args.queries))
            results["sql"] = summary(timed(sql, args.queries))
        results["ratio_sql_over_direct"] = round(
            results["sql"]["median_ms"] / results["direct"]["median_ms"], 2)
    finally:
        stack.down(STATE_DIR, remove=True)

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"startup: cold {results['startup_cold_s']} s, warm {results['startup_warm_s']} s")
        for key in ("direct", "invoke", "sql"):
            r = results[key]
            print(f"{key:7s} median {r['median_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms   "
                  f"({r['runs']} runs)")
        print(f"ratio sql / direct (baseline): {results['ratio_sql_over_direct']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
