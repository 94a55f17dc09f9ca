"""Load through the whole local path: many sessions querying while two write, against a Lambda
endpoint that runs at most 10 invocations at once (beyond that it answers 429
TooManyRequestsException, as a reserved concurrency does). Issue 19's soak: 20 and 40 sessions x
300 filtered top-10 queries + 2 writers of 100-vector batches.

Measured on a stack of its own (state dir .local/bench-load, removed after), per size:
  failed queries, failed write batches   (goal: 0 and 0)
  p50 / p99 query latency (ms), query throughput (queries/s)
  vectors written (batches that succeeded x 100) vs found in the index afterwards (goal: equal)
  invocations the endpoint throttled (429) and s3vl retried
Speed depends on the machine; on a shared one the figures move between runs.

    .venv/bin/python bench/bench_load.py [--sizes 20,40] [--queries 300] [--batches 20]
                                         [--modes retries,admission] [--quick] [--json]

Each size runs twice: with retries until the deadline alone (the default configuration), and
with admission control as well (s3vl.set_invoke_concurrency(10): at most 10 invocations of the
database in flight, the others wait in the database instead of being throttled).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT / "local")]

STATE_DIR = ROOT / ".local" / "bench-load"
DIMENSION = 16
SEED_VECTORS = 2000
WRITERS = 2
BATCH = 100
CONCURRENCY = 10  # the local Lambda endpoint's (the stack's default --max-concurrency)
QUERY = ("SELECT vector_id FROM s3vl.query_vectors(%s, %s::float8[], 10, true, "
         "'{\"group\": {\"$lt\": 5}}')")


def vector(seed: int) -> list[float]:
    return [float((seed * 31 + j * 7) % 97) / 97.0 + 0.01 for j in range(DIMENSION)]


def throttled(url: str) -> int:
    with urllib.request.urlopen(url + "/_s3vl/health", timeout=5) as r:
        return int(json.loads(r.read())["throttled"])


def run_size(info: Any, client: Any, index: str, arn: str, sessions: int, queries: int,
             batches: int) -> dict[str, Any]:
    import psycopg

    latencies: list[float] = []
    failed_queries: list[str] = []
    failed_writes: list[str] = []
    written: set[str] = set()
    lock = threading.Lock()
    start = threading.Barrier(sessions + WRITERS)
    run_id = uuid.uuid4().hex[:6]

    def reader(worker: int) -> None:
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '60s'")
            start.wait()
            for i in range(queries):
                began = time.perf_counter()
                try:
                    rows = conn.execute(QUERY, (index, vector(worker * 1000 + i))).fetchall()
                    if len(rows) != 10:
                        raise AssertionError(f"{len(rows)} rows")
                except (psycopg.Error, AssertionError) as exc:
                    with lock:
                        failed_queries.append(f"{worker}/{i}: {str(exc).splitlines()[0]}")
                    continue
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)

    def writer(worker: int) -> None:
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '60s'")
            start.wait()
            for b in range(batches):
                keys = [f"w-{run_id}-{worker}-{b}-{i}" for i in range(BATCH)]
                body = [{"key": k, "data": vector(hash(k) % 10007),
                         "metadata": {"group": (b + i) % 10}} for i, k in enumerate(keys)]
                try:
                    conn.execute("SELECT s3vl.put_vectors(%s::jsonb, %s)",
                                 (json.dumps(body), index))
                except psycopg.Error as exc:
                    with lock:
                        failed_writes.append(f"{worker}/{b}: {str(exc).splitlines()[0]}")
                    continue
                with lock:
                    written.update(keys)

    throttled_before = throttled(info.lambda_endpoint)
    threads = [threading.Thread(target=reader, args=(w,)) for w in range(sessions)]
    threads += [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    found: set[str] = set()
    token: str | None = None
    while True:
        page = client.list_vectors(indexArn=arn, maxResults=1000,
                                   **({"nextToken": token} if token else {}))
        found.update(v["key"] for v in page["vectors"] if v["key"].startswith(f"w-{run_id}-"))
        token = page.get("nextToken")
        if not token:
            break
    ordered = sorted(latencies)
    return {
        "sessions": sessions, "queries": sessions * queries, "writers": WRITERS,
        "write_batches": WRITERS * batches, "batch_size": BATCH,
        "failed_queries": len(failed_queries), "failed_write_batches": len(failed_writes),
        "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else None,
        "queries_per_s": round(len(latencies) / elapsed, 1),
        "elapsed_s": round(elapsed, 1),
        "vectors_written": len(written), "vectors_found": len(found & written),
        "vectors_lost": len(written - found),
        "throttled_invocations": throttled(info.lambda_endpoint) - throttled_before,
        "first_failures": (failed_queries + failed_writes)[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20,40", help="querying sessions per run")
    parser.add_argument("--queries", type=int, default=300, help="queries per session")
    parser.add_argument("--batches", type=int, default=20, help="100-vector batches per writer")
    parser.add_argument("--modes", default="retries,admission",
                        help="retries: retries until the deadline alone; admission: also "
                             "s3vl.set_invoke_concurrency(10), the endpoint's concurrency")
    parser.add_argument("--quick", action="store_true",
                        help="a bounded smoke run: 12 sessions x 5 queries, 2 batches")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    queries, batches = args.queries, args.batches
    if args.quick:
        sizes, queries, batches = [12], 5, 2

    import boto3
    import psycopg

    from s3vl_local import stack

    stack.down(STATE_DIR, remove=True)
    report: dict[str, Any] = {"endpoint_concurrency": CONCURRENCY, "runs": []}
    try:
        info = stack.up(STATE_DIR)
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        index = f"load-{uuid.uuid4().hex[:8]}"
        client.create_index(vectorBucketName=info.bucket_name, indexName=index,
                            dataType="float32", dimension=DIMENSION, distanceMetric="cosine")
        arn = info.index_arn.rsplit("/", 1)[0] + "/" + index
        for start in range(0, SEED_VECTORS, 500):
            client.put_vectors(indexArn=arn, vectors=[
                {"key": f"seed-{i}", "data": {"float32": vector(i)},
                 "metadata": {"group": i % 10}} for i in range(start, start + 500)])
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            conn.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
            report["timeout_seconds"], report["max_attempts"] = conn.execute(
                "SELECT timeout_seconds, max_attempts FROM s3vl.config").fetchone()
        for mode in args.modes.split(","):
            with psycopg.connect(info.dsn, autocommit=True) as conn:
                conn.execute("SELECT s3vl.set_invoke_concurrency(%s)",
                             (CONCURRENCY if mode == "admission" else None,))
            for sessions in sizes:
                run = run_size(info, client, index, arn, sessions, queries, batches)
                report["runs"].append({"mode": mode, **run})
    finally:
        stack.down(STATE_DIR, remove=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"endpoint concurrency {report['endpoint_concurrency']}, timeout "
              f"{report['timeout_seconds']} s, max_attempts {report['max_attempts']}")
        for r in report["runs"]:
            per_session = r["queries"] // r["sessions"]
            per_writer = r["write_batches"] // r["writers"]
            print(f"[{r['mode']}] {r['sessions']} sessions x {per_session} queries + "
                  f"{r['writers']} writers x {per_writer} batches of {r['batch_size']}: "
                  f"failed queries {r['failed_queries']}, failed write batches "
                  f"{r['failed_write_batches']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                  f"{r['queries_per_s']} queries/s, written {r['vectors_written']} found "
                  f"{r['vectors_found']} lost {r['vectors_lost']}, throttled "
                  f"{r['throttled_invocations']}, {r['elapsed_s']} s")
            for f in r["first_failures"]:
                print(f"  failure: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
