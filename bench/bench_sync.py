"""Sync throughput into the emulator, end to end: trigger, outbox, s3vl.sync, function, emulator.

Measured in one run against a throwaway local stack (.local/bench-sync):
  direct    the floor: the same rows sent as put_vectors requests through s3vl._invoke (function +
            emulator, no trigger, no outbox), batches of the size s3vl.sync uses
  insert    INSERT of N rows into a tracked table (statement triggers fill the outbox), then
            s3vl.sync() until nothing is pending
  update    UPDATE of every row's embedding, then sync
  delete    DELETE of half the rows, then sync
Each phase prints changed rows/s (write statement + sync time); the target is >= 2,000 rows/s;
ratio = rows/s / target, and sync rows/s / direct rows/s.

    .venv/bin/python bench/bench_sync.py [--rows N] [--dimension D] [--sessions S] [--quick]
                                         [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
STATE_DIR = ROOT / ".local" / "bench-sync"
TARGET_ROWS_PER_S = 2000.0
TABLE = "bench_sync_items"


def drain(conn: Any, index_name: str) -> None:
    while True:
        rows = conn.execute("SELECT upserted + deleted, failed FROM s3vl.sync(%s, 100000)",
                            (index_name,)).fetchall()
        if rows and rows[0][1]:
            raise RuntimeError(f"sync reported failures: {rows}")
        pending = conn.execute("SELECT pending FROM s3vl.sync_status() WHERE index_name = %s",
                               (index_name,)).fetchone()
        if pending is None or pending[0] == 0:
            return


def drain_parallel(dsn: str, index_name: str, sessions: int) -> None:
    """drain() from several sessions at once (SKIP LOCKED gives each its own keys)."""
    import psycopg

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                drain(conn, index_name)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def timed_phase(conn: Any, dsn: str, statement: str, index_name: str,
                sessions: int) -> dict[str, float]:
    started = time.perf_counter()
    changed = conn.execute(statement).rowcount
    written = time.perf_counter()
    drain_parallel(dsn, index_name, sessions)
    done = time.perf_counter()
    return {"rows": changed, "write_s": round(written - started, 3),
            "sync_s": round(done - written, 3),
            "rows_per_s": round(changed / (done - started), 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--dimension", type=int, default=128)
    parser.add_argument("--sessions", type=int, default=1,
                        help="sessions running s3vl.sync at once (default 1)")
    parser.add_argument("--quick", action="store_true", help="2,000 rows (smoke run)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = 2000 if args.quick else args.rows

    import boto3
    import psycopg

    from s3vl_local import stack

    stack.down(STATE_DIR, remove=True)
    results: dict[str, Any] = {"rows": rows, "dimension": args.dimension}
    try:
        info = stack.up(STATE_DIR)
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        arns = {}
        for name in ("bench-direct", "bench-sync"):
            client.create_index(vectorBucketName=info.bucket_name, indexName=name,
                                dataType="float32", dimension=args.dimension,
                                distanceMetric="euclidean")
            arns[name] = info.index_arn.rsplit("/", 1)[0] + "/" + name
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            for name, arn in arns.items():
                conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
            conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, embedding real[], "
                         "category text, price numeric)")
            rows_sql = (f"SELECT g AS id, (SELECT array_agg(((g * 31 + i) % 97)::real / 97) "
                        f"FROM generate_series(1, {args.dimension}) i) AS embedding, "
                        f"'c' || (g % 10) AS category, g % 500 AS price "
                        f"FROM generate_series(1, {rows}) g")
            batch_row = conn.execute("SELECT s3vl._sync_batch_size(%s)",
                                     (args.dimension,)).fetchone()
            assert batch_row is not None
            batch = int(batch_row[0])
            # direct floor: the same vectors and metadata, prebuilt requests, timed sends only
            conn.execute(f"CREATE TEMP TABLE direct_rows AS {rows_sql}")
            requests = conn.execute(
                "SELECT json_build_object('operation', 'put_vectors', 'index_arn', %s::text, "
                "'vectors', json_agg(json_build_object('key', id::text, 'data', array_to_json("
                "embedding::float8[]), 'metadata', json_build_object('category', category, "
                "'price', price)))) FROM (SELECT *, (row_number() OVER () - 1) / %s AS b "
                "FROM direct_rows) d GROUP BY b", (arns["bench-direct"], batch)).fetchall()
            payloads = [json.dumps(request) for (request,) in requests]
            conn.execute("SELECT s3vl._invoke('bench', %s::json)", (payloads[0],))  # warm-up
            started = time.perf_counter()
            for request in payloads:
                conn.execute("SELECT s3vl._invoke('bench', %s::json)", (request,))
            direct_s = time.perf_counter() - started
            results["direct"] = {"rows": rows, "seconds": round(direct_s, 3),
                                 "rows_per_s": round(rows / direct_s, 1), "batch": batch}
            conn.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', 'bench-sync', "
                         "ARRAY['category', 'price'])", (TABLE,))
            results["insert"] = timed_phase(conn, info.dsn, f"INSERT INTO {TABLE} {rows_sql}",
                                            "bench-sync", args.sessions)
            results["update"] = timed_phase(
                conn, info.dsn, f"UPDATE {TABLE} SET embedding[1] = embedding[1] + 1",
                "bench-sync", args.sessions)
            results["delete"] = timed_phase(conn, info.dsn,
                                            f"DELETE FROM {TABLE} WHERE id % 2 = 0",
                                            "bench-sync", args.sessions)
            stored = client.list_vectors(indexArn=arns["bench-sync"], maxResults=1000)
            results["check_first_page"] = len(stored["vectors"])
    finally:
        stack.down(STATE_DIR, remove=True)

    for phase in ("insert", "update", "delete"):
        results[phase]["ratio_to_target"] = round(
            results[phase]["rows_per_s"] / TARGET_ROWS_PER_S, 2)
        results[phase]["ratio_to_direct"] = round(
            results[phase]["rows_per_s"] / results["direct"]["rows_per_s"], 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"sync throughput, {rows} rows, dimension {args.dimension}, "
          f"batch {results['direct']['batch']}, {args.sessions} sync session(s)")
    print(f"  direct put_vectors (floor): {results['direct']['rows_per_s']:>9.1f} rows/s")
    for phase in ("insert", "update", "delete"):
        r = results[phase]
        print(f"  {phase:<7} {r['rows']:>6} rows: write {r['write_s']:.2f} s + sync "
              f"{r['sync_s']:.2f} s = {r['rows_per_s']:>9.1f} rows/s; "
              f"x{r['ratio_to_target']} of target {TARGET_ROWS_PER_S:.0f}, "
              f"x{r['ratio_to_direct']} of direct")
    ok = all(results[p]["rows_per_s"] >= TARGET_ROWS_PER_S for p in ("insert", "update", "delete"))
    print("target met" if ok else "TARGET NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
