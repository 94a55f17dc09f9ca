"""Bulk write throughput through s3vl.put_vectors into the emulator, against boto3 PutVectors
straight to the emulator, in the same run.

On a local stack of its own (.local/bench-writes, removed after), no added latency:
  baseline  boto3 put_vectors in calls of 500 (the service maximum) straight to the emulator
  table     SELECT s3vl.put_vectors((SELECT jsonb_agg(...) FROM a table of N rows), '<index>'
            (key, embedding float8[], metadata jsonb))): the load-from-SQL path (validation in
            SQL, split into invocations under 6 MB, the function's PutVectors calls of 500)
  client    the same call with the N vectors sent by the client as one jsonb parameter (adds the
            client's JSON encoding and PostgreSQL's jsonb parse of every number)
  arrays    SELECT s3vl.put_vector_arrays(array_agg(key), array_agg(embedding), '<index>',
            array_agg(metadata)) FROM the same table: no jsonb per number
Each into a fresh index; prints vectors/s and the ratios. Target: >= 2,000 vectors/s (the
service's own limit is 2,500 vectors/s per index).

    .venv/bin/python bench/bench_writes.py [--quick] [--vectors N] [--dimension D] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import bench_stack, make_index

TARGET_PER_S = 2000.0


def timed_query(conn: Any, sql: str, params: Any = None) -> tuple[Any, float]:
    """The statement's one row and the seconds it took."""
    started = time.perf_counter()
    row = conn.execute(sql, params).fetchone()
    return row, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2,000 vectors (smoke test)")
    parser.add_argument("--vectors", type=int, default=10000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import boto3
    import psycopg
    from psycopg.types.json import Jsonb

    count = 2000 if args.quick else args.vectors
    rng = random.Random(9)
    vectors: list[dict[str, Any]] = [
        {"key": f"doc-{i}",
         "data": {"float32": [rng.uniform(-1, 1) for _ in range(args.dimension)]},
         "metadata": {"i": i, "category": f"c{i % 10}"}} for i in range(count)]
    results: dict[str, Any] = {"vectors": count, "dimension": args.dimension}
    with bench_stack("writes") as info, psycopg.connect(info.dsn, autocommit=True) as conn:
        client: Any = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        make_index(info, conn, "bench-direct", 0, args.dimension)
        make_index(info, conn, "bench-table", 0, args.dimension)
        make_index(info, conn, "bench-client", 0, args.dimension)
        make_index(info, conn, "bench-arrays", 0, args.dimension)
        bucket_arn = info.index_arn.split("/index/")[0]
        conn.execute("CREATE TEMP TABLE source (key text, embedding float8[], metadata jsonb)")
        with conn.cursor().copy("COPY source FROM STDIN") as copy:
            for v in vectors:
                copy.write_row((v["key"], v["data"]["float32"], Jsonb(v["metadata"])))
        started = time.perf_counter()
        for start in range(0, count, 500):
            client.put_vectors(indexArn=bucket_arn + "/index/bench-direct",
                               vectors=vectors[start:start + 500])
        direct_s = time.perf_counter() - started
        from_table, table_s = timed_query(
            conn,
            "SELECT s3vl.put_vectors((SELECT jsonb_agg(jsonb_build_object("
            "'key', key, 'data', to_jsonb(embedding), 'metadata', metadata)) FROM source),"
            " 'bench-table')")
        from_client, client_s = timed_query(
            conn, "SELECT s3vl.put_vectors(%s, 'bench-client')", (Jsonb(vectors),))
        from_arrays, arrays_s = timed_query(
            conn,
            "SELECT s3vl.put_vector_arrays(array_agg(key ORDER BY key), "
            "array_agg(embedding ORDER BY key), 'bench-arrays', array_agg(metadata ORDER BY key))"
            " FROM source")
        assert from_table == from_client == from_arrays == (count,), (from_table, from_client,
                                                                     from_arrays)
        for name in ("bench-table", "bench-client", "bench-arrays"):
            listed = 0
            token = None
            while True:
                page = client.list_vectors(indexArn=f"{bucket_arn}/index/{name}",
                                           maxResults=1000,
                                           **({"nextToken": token} if token else {}))
                listed += len(page["vectors"])
                token = page.get("nextToken")
                if not token:
                    break
            assert listed == count, (name, listed)
    results["baseline_boto3_per_s"] = round(count / direct_s)
    results["s3vl_from_table_per_s"] = round(count / table_s)
    results["s3vl_from_client_per_s"] = round(count / client_s)
    results["s3vl_arrays_from_table_per_s"] = round(count / arrays_s)
    results["ratio_table_over_boto3"] = round(direct_s / table_s, 2)
    results["ratio_arrays_over_boto3"] = round(direct_s / arrays_s, 2)
    results["ratio_arrays_over_jsonb_table"] = round(table_s / arrays_s, 2)
    results["ratio_client_over_boto3"] = round(direct_s / client_s, 2)
    results["target_per_s"] = TARGET_PER_S
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{count} vectors of {args.dimension} floats with metadata, into the emulator")
        print("baseline (boto3 PutVectors x500):     "
              f"{results['baseline_boto3_per_s']:7d} vectors/s")
        print(f"s3vl.put_vectors from a table:        {results['s3vl_from_table_per_s']:7d} "
              f"vectors/s (ratio {results['ratio_table_over_boto3']})")
        print(f"s3vl.put_vectors, client jsonb param: {results['s3vl_from_client_per_s']:7d} "
              f"vectors/s (ratio {results['ratio_client_over_boto3']})")
        print(f"s3vl.put_vector_arrays from a table:  {results['s3vl_arrays_from_table_per_s']:7d} "
              f"vectors/s (ratio {results['ratio_arrays_over_boto3']}; "
              f"{results['ratio_arrays_over_jsonb_table']}x put_vectors from a table)")
        print(f"target >= {TARGET_PER_S:.0f} vectors/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
