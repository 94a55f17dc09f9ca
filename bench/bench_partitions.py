"""Partitioned logical indexes at scale, on a throwaway local stack (.local/bench-partitions):

1. ingest: ROWS rows through s3vl.track_table + s3vl.backfill + s3vl.sync into 1, 4 and 8 hash
   partitions, with the emulator's per-index write limits on (`--write-vectors-per-second`,
   `--write-requests-per-second`; the service's 2,500 vectors/s and 1,000 requests/s by default):
   rows/s and the ratio to 1 partition (goal >= 3.5x at 4, >= 6.5x at 8; the median of
   `--trials` runs, 3 by default, with their spread), once for each count of
   sync sessions running at once (`--sync-sessions 1,2`: as `s3vl.schedule_sync(every,
   workers => n)` runs n pg_cron jobs at once, each claiming its own keys);
2. query: top-10 latency through s3vl.query_vectors on 8 hash partitions vs 1 index holding the
   same QUERY_VECTORS vectors (goal <= 1.5x: the fan-out runs in parallel in one invocation);
3. tenants: a value-partitioned index with TENANTS tenants, one partition each; a tenant-pinned
   query reads one partition, shown by the function's invocation log (`partitions_read`).
`--latency-ms N` adds injected latency per service call (emulator `--latency-ms`),
`--invoke-latency-ms N` per invocation (the local Lambda endpoint's delay).

    .venv/bin/python bench/bench_partitions.py [--rows N] [--query-vectors N] [--tenants N]
        [--dimension D] [--queries Q] [--write-vectors-per-second N]
        [--write-requests-per-second N] [--latency-ms MS] [--invoke-latency-ms MS]
        [--sync-sessions 1,2] [--trials 3] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "lambda"))
sys.path.insert(0, str(ROOT / "bench"))
STATE_DIR = ROOT / ".local" / "bench-partitions"


def partitions_read(log: Path, offset: int) -> tuple[list[list[int]], int]:
    text = log.read_text(errors="replace")[offset:]
    reads = [json.loads(line[line.index("{"):])["partitions_read"]
             for line in text.splitlines() if '"partition fan-out"' in line]
    return reads, offset + len(text)


def put_throttled(client: Any, arn: str, vectors: list[dict[str, Any]]) -> None:
    """PutVectors, waiting out the per-index write limit (429) instead of failing."""
    for attempt in range(200):
        try:
            client.put_vectors(indexArn=arn, vectors=vectors)
            return
        except client.exceptions.TooManyRequestsException:
            time.sleep(min(0.05 * (attempt + 1), 1.0))
    raise RuntimeError(f"PutVectors still throttled on {arn}")


def ingest_rows(dsn: str, name: str, rows: int, sessions: int) -> dict[str, Any]:
    """Sync `rows` pending rows of index `name` from `sessions` sessions at once (as concurrent
    pg_cron jobs would: each run claims its own keys), one batch per s3vl.sync call. Throttled
    batches (429 past the per-index limits, after the function's own retries) fail and are
    retried by the next call (retry_now): the rate counts until every row is in."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT s3vl._sync_batch_size(r.dimension, (SELECT count(*)::integer "
            "FROM s3vl.index_partitions p WHERE p.index_name = %s)) "
            "FROM s3vl._resolve_index('bench', %s, NULL) r", (name, name)).fetchone()
        assert row is not None
        batch = row[0]
    lock = threading.Lock()
    totals = {"done": 0, "failed": 0}
    started = time.perf_counter()

    def worker() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.perf_counter() - started < 900:
                with lock:
                    if totals["done"] >= rows:
                        return
                got = conn.execute("SELECT upserted, failed FROM s3vl.sync(%s, %s, "
                                   "retry_now => true)", (name, batch)).fetchone()
                assert got is not None
                with lock:
                    totals["done"] += got[0]
                    totals["failed"] += got[1]
                if got == (0, 0):
                    time.sleep(0.01)  # the rest is claimed by another session

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"rows": totals["done"], "seconds": round(seconds, 2), "batch": batch,
            "rows_per_s": round(totals["done"] / seconds),
            "failed_batches_retried": totals["failed"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--query-vectors", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--dimension", type=int, default=32)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--sync-sessions", default="1,2",
                        help="comma-separated session counts to ingest with (default 1,2)")
    parser.add_argument("--trials", type=int, default=3,
                        help="runs of each partitioned ingest; the median is reported (default 3)")
    parser.add_argument("--write-vectors-per-second", type=int, default=2500)
    parser.add_argument("--write-requests-per-second", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="injected emulator latency per service call")
    parser.add_argument("--invoke-latency-ms", type=int, default=0,
                        help="injected local Lambda endpoint latency per invocation")
    parser.add_argument("--quick", action="store_true",
                        help="2,000 rows, 5,000 query vectors, 10 tenants, 5 queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.query_vectors, args.tenants, args.queries = 2000, 5000, 10, 5
    args.sync_sessions = [int(n) for n in str(args.sync_sessions).split(",")]
    if args.trials < 1 or min(args.sync_sessions) < 1:
        parser.error("--trials and every --sync-sessions count must be at least 1")

    import boto3
    import psycopg
    from bench_where import set_invoke_latency
    from psycopg.types.json import Jsonb

    from s3vl_lambda.partitions import key_slot
    from s3vl_local import stack

    dim = args.dimension
    rng = np.random.default_rng(5)
    results: dict[str, Any] = {"rows": args.rows, "query_vectors": args.query_vectors,
                               "tenants": args.tenants, "dimension": dim, "notes": []}
    stack.down(STATE_DIR, remove=True)
    try:
        flags = ["--write-vectors-per-second", str(args.write_vectors_per_second),
                 "--write-requests-per-second", str(args.write_requests_per_second)]
        results["write_limits"] = {"vectors_per_second": args.write_vectors_per_second,
                                   "requests_per_second": args.write_requests_per_second}
        if args.latency_ms:
            flags += ["--latency-ms", str(args.latency_ms)]
            results["latency_ms"] = args.latency_ms
        os.environ[stack.EMULATOR_ARGS_ENV] = " ".join(flags)
        info = stack.up(STATE_DIR)
        if args.invoke_latency_ms:
            set_invoke_latency(info, args.invoke_latency_ms)
            results["invoke_latency_ms"] = args.invoke_latency_ms
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        prefix = info.index_arn.rsplit("/", 1)[0] + "/"

        def make_index(name: str) -> str:
            client.create_index(vectorBucketName=info.bucket_name, indexName=name,
                                dataType="float32", dimension=dim, distanceMetric="cosine")
            return prefix + name

        log = Path(info.state_dir) / "lambda.log"
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            # 1. ingest through track_table + sync
            rows = rng.standard_normal((args.rows, dim)).astype(np.float32)
            conn.execute("CREATE TABLE bench_src (id text PRIMARY KEY, emb float8[])")
            with conn.cursor().copy("COPY bench_src (id, emb) FROM STDIN") as copy:
                for i in range(args.rows):
                    copy.write_row((f"r{i}", rows[i].tolist()))
            ingest: dict[str, Any] = {}
            for sessions in args.sync_sessions:
                series: dict[str, Any] = {}
                for count in (1, 4, 8):
                    # One index is held at its write limit (the same figure every time): one
                    # trial. Partitions are limited by the local pipeline, which varies from run
                    # to run on a shared machine: the median of --trials, with the spread.
                    trials = []
                    for trial in range(1 if count == 1 else args.trials):
                        name = f"ingest-{sessions}s-{count}-{trial}"
                        conn.execute("SELECT s3vl.create_partitioned_index(%s)", (name,))
                        for p in range(count):
                            conn.execute("SELECT s3vl.add_partition(%s, %s)",
                                         (name, make_index(f"{name}-p{p}")))
                        conn.execute("SELECT s3vl.track_table('bench_src', 'id', 'emb', %s)",
                                     (name,))
                        conn.execute("SELECT s3vl.backfill('bench_src')")
                        trials.append(ingest_rows(info.dsn, name, args.rows, sessions))
                        conn.execute("SELECT s3vl.untrack_table('bench_src')")
                    trials.sort(key=lambda r: r["rows_per_s"])
                    series[str(count)] = {**trials[len(trials) // 2],
                                          "trials_rows_per_s": [r["rows_per_s"] for r in trials]}
                for count in ("4", "8"):
                    base = series["1"]["rows_per_s"]
                    series[count]["vs_1"] = round(series[count]["rows_per_s"] / base, 2)
                    series[count]["vs_1_range"] = [
                        round(series[count]["trials_rows_per_s"][0] / base, 2),
                        round(series[count]["trials_rows_per_s"][-1] / base, 2)]
                ingest[str(sessions)] = series
            results["ingest"] = ingest

            # 2. top-10 on 8 partitions vs 1 index, the same vectors (loaded directly)
            data = rng.standard_normal((args.query_vectors, dim)).astype(np.float32)
            one = make_index("query-one")
            parts = [make_index(f"query-p{p}") for p in range(8)]
            conn.execute("SELECT s3vl.register_index('query-one', %s)", (one,))
            conn.execute("SELECT s3vl.create_partitioned_index('query-eight')")
            for arn in parts:
                conn.execute("SELECT s3vl.add_partition('query-eight', %s)", (arn,))
            for start in range(0, args.query_vectors, 500):
                batch = [{"key": f"q{i}", "data": {"float32": data[i].tolist()}}
                         for i in range(start, min(args.query_vectors, start + 500))]
                put_throttled(client, one, batch)
                groups: dict[int, list[dict[str, Any]]] = {}
                for v in batch:
                    groups.setdefault(key_slot(v["key"], 8), []).append(v)
                for slot, vs in groups.items():
                    put_throttled(client, parts[slot], vs)
            queries = rng.standard_normal((args.queries, dim)).astype(np.float32)
            timing: dict[str, list[float]] = {"query-one": [], "query-eight": []}
            answers: dict[str, list[list[str]]] = {"query-one": [], "query-eight": []}
            for name in timing:  # warm-up
                conn.execute("SELECT * FROM s3vl.query_vectors(%s::float8[], %s, top_k => 10)",
                             (queries[0].tolist(), name)).fetchall()
            for q in queries:
                for name in timing:
                    started = time.perf_counter()
                    got_rows = conn.execute(
                        "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, "
                        "top_k => 10)", (q.tolist(), name)).fetchall()
                    timing[name].append(time.perf_counter() - started)
                    answers[name].append([r[0] for r in got_rows])
            one_ms = statistics.median(timing["query-one"]) * 1000
            eight_ms = statistics.median(timing["query-eight"]) * 1000
            results["query"] = {"one_index_ms": round(one_ms, 1),
                                "eight_partitions_ms": round(eight_ms, 1),
                                "ratio": round(eight_ms / one_ms, 2),
                                "same_answers": answers["query-one"] == answers["query-eight"]}

            # 3. one partition per tenant; a pinned query reads one partition
            conn.execute("SELECT s3vl.create_partitioned_index('tenants', 'tenant')")
            for t in range(args.tenants):
                conn.execute("SELECT s3vl.add_partition('tenants', %s, %s)",
                             (make_index(f"tenant-{t:03d}"), f"t{t:03d}"))
            per_tenant = 20
            vectors = [{"key": f"t{t:03d}-{j}", "data": rng.standard_normal(dim).tolist(),
                        "metadata": {"tenant": f"t{t:03d}"}}
                       for t in range(args.tenants) for j in range(per_tenant)]
            conn.execute("SELECT s3vl.put_vectors(%s, 'tenants')", (Jsonb(vectors),))
            offset = log.stat().st_size
            pick = f"t{args.tenants // 2:03d}"
            got_rows = conn.execute(
                "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], 'tenants', top_k => 5, "
                "metadata_filter => %s)", (queries[0].tolist(), Jsonb({"tenant": pick}))
            ).fetchall()
            time.sleep(0.2)
            pinned, offset = partitions_read(log, offset)
            conn.execute("SELECT vector_id FROM s3vl.query_vectors(%s::float8[], 'tenants', "
                         "top_k => 5)", (queries[0].tolist(),)).fetchall()
            time.sleep(0.2)
            unpinned, offset = partitions_read(log, offset)
            results["tenants_query"] = {
                "tenant": pick, "rows": len(got_rows),
                "rows_all_of_tenant": all(r[0].startswith(pick) for r in got_rows),
                "pinned_partitions_read": pinned, "unpinned_partitions_read":
                    [len(r) for r in unpinned]}
    finally:
        stack.down(STATE_DIR, remove=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"partitioned indexes, dimension {dim}; " + "; ".join(results["notes"] or ["-"]))
    limits = results.get("write_limits")
    print(f"1. ingest {args.rows} rows (track_table + backfill + sync), per-index write limits "
          f"{limits if limits else 'off'}:")
    for sessions, series in results["ingest"].items():
        print(f"   {sessions} sync session(s) at once:")
        for count, r in series.items():
            ratio = ""
            if "vs_1" in r:
                low, high = r["vs_1_range"]
                ratio = (f"  x{r['vs_1']} vs 1 (median of {len(r['trials_rows_per_s'])}, "
                         f"x{low}-x{high})")
            print(f"     {count} partition(s): {r['rows_per_s']:>7} rows/s ({r['seconds']} s, "
                  f"batches of {r['batch']}, {r['failed_batches_retried']} throttled rows "
                  f"retried){ratio}")
    q = results["query"]
    print(f"2. top-10 over {args.query_vectors} vectors, median of {args.queries}: 1 index "
          f"{q['one_index_ms']} ms, 8 partitions {q['eight_partitions_ms']} ms, x{q['ratio']}; "
          f"same answers: {q['same_answers']}")
    t = results["tenants_query"]
    print(f"3. {args.tenants} tenants, query pinned to {t['tenant']}: {t['rows']} rows, all "
          f"the tenant's: {t['rows_all_of_tenant']}; partitions read (invocation log): "
          f"{t['pinned_partitions_read']}; unpinned reads {t['unpinned_partitions_read']} "
          "partitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
