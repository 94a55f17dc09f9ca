"""Management by filter: s3vl.count_vectors over an index, ListVectors read with 1 segment against
8 segments in parallel (the function's default), in one run against a throwaway local stack
(.local/bench-by-filter).

The index holds N vectors whose metadata `bucket` is 0-99; the count is of `bucket < 10` (10 %),
so every vector is read and its metadata evaluated. Each count goes through SQL exactly as
s3vl.count_vectors runs it (s3vl._vectors_where, bounded invocations with resume tokens), with
segment_count 1 and 8; every answer is checked against the exact count. Printed: median seconds,
invocations, vectors/s, and the ratio 1 segment / 8 segments.

Twice: against the emulator as it is (a ListVectors page costs ~1 ms here, so parallel segments
mostly add thread and scan overhead), and with a ListVectors latency injected into the emulator
(--list-latency-ms, default 100 ms; AWS publishes no ListVectors latency, 100 ms is an assumed
round trip within a Region) to show what the segments buy when each page is a network call.

    .venv/bin/python bench/bench_by_filter.py [--vectors N] [--repeats R] [--list-latency-ms MS]
                                              [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
STATE_DIR = ROOT / ".local" / "bench-by-filter"
INDEX = "bench-by-filter"
DIMENSION = 8
SEGMENTS = (1, 8)
FILTER = {"bucket": {"$lt": 10}}


def count_once(conn: Any, arn: str, segments: int) -> tuple[float, int, int]:
    from psycopg.types.json import Jsonb

    started = time.perf_counter()
    row = conn.execute(
        "SELECT count(*), sum((a ->> 'matched')::bigint) FROM s3vl._vectors_where("
        "'s3vl.count_vectors', %s, 'count', %s, false, %s) a",
        (arn, Jsonb(FILTER), segments)).fetchone()
    return time.perf_counter() - started, int(row[1]), int(row[0])


def set_list_latency(endpoint: str, latency_ms: float) -> None:
    """The emulator's fault injection: added latency on ListVectors only (0 = none)."""
    body = json.dumps({"latency_ms": latency_ms, "operations": ["ListVectors"]}).encode()
    request = urllib.request.Request(f"{endpoint}/_s3vl/faults", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--list-latency-ms", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true",
                        help="5,000 vectors, 1 repeat, 20 ms injected latency")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = 5000 if args.quick else args.vectors
    repeats = 1 if args.quick else args.repeats
    latencies = (0.0, 20.0 if args.quick else args.list_latency_ms)

    import boto3
    import psycopg

    from s3vl_local import stack

    exact = sum(1 for i in range(n) if i % 100 < 10)
    results: dict[str, Any] = {"vectors": n, "repeats": repeats, "filter": FILTER,
                               "exact": exact, "runs": {}}
    stack.down(STATE_DIR, remove=True)
    try:
        info = stack.up(STATE_DIR)
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.create_index(vectorBucketName=info.bucket_name, indexName=INDEX,
                            dataType="float32", dimension=DIMENSION, distanceMetric="cosine")
        arn = info.index_arn.rsplit("/", 1)[0] + "/" + INDEX
        for start in range(0, n, 500):
            client.put_vectors(indexArn=arn, vectors=[
                {"key": f"v{i:07d}", "data": {"float32": [1.0] + [float(i % 7)] * (DIMENSION - 1)},
                 "metadata": {"bucket": i % 100, "name": f"item {i}"}}
                for i in range(start, min(n, start + 500))])
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX, arn))
            count_once(conn, arn, 8)  # warm-up (function caches, connections)
            for latency in latencies:
                set_list_latency(info.s3vectors_endpoint, latency)
                run: dict[str, Any] = {"list_latency_ms": latency, "segments": {}}
                for segments in SEGMENTS:
                    runs = [count_once(conn, arn, segments) for _ in range(repeats)]
                    wrong = [r[1] for r in runs if r[1] != exact]
                    if wrong:
                        raise SystemExit(f"count with {segments} segment(s) gave {wrong}, "
                                         f"not {exact}")
                    seconds = statistics.median(r[0] for r in runs)
                    run["segments"][str(segments)] = {
                        "median_s": round(seconds, 3),
                        "invocations": round(statistics.mean(r[2] for r in runs), 1),
                        "vectors_per_s": round(n / seconds),
                    }
                one, eight = run["segments"]["1"], run["segments"]["8"]
                run["time_1_over_8"] = round(one["median_s"] / eight["median_s"], 2)
                results["runs"][f"{latency:g}ms"] = run
    finally:
        stack.down(STATE_DIR, remove=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"count_vectors over {n} vectors (filter {json.dumps(FILTER)}, {exact} match), "
          f"median of {repeats}")
    for name, run in results["runs"].items():
        print(f"  ListVectors latency added: {name}")
        for segments, r in run["segments"].items():
            print(f"    {segments:>2} segment(s): {r['median_s']:>8.3f} s  {r['invocations']:>5} "
                  f"invocations  {r['vectors_per_s']:>8} vectors/s")
        print(f"    1 segment / 8 segments: time x{run['time_1_over_8']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
