"""`python -m s3vl_local.demo [--state-dir .local]`: load the demo data and run the demo queries.

Brings the local stack up if needed (idempotent), fills demo.products/demo.queries in PostgreSQL,
puts the product vectors into the emulator's `products` index, then prints the demo queries'
results with psql.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import resources
from pathlib import Path

import boto3
import psycopg

from s3vl_local import stack
from s3vl_local.demo import data as demo_data
from s3vl_local.demo import embed_step, partition_step, sync_step, text_step
from s3vl_local.demo.loader import load_tables, put_vectors
from s3vl_local.identity import DUMMY_CREDENTIAL

# Which phrase from data/demo/queries.json each numbered demo query uses.
QUERY_PHRASES = {"q1": 0, "q2": 3, "q3": 1, "q4": 2, "q5": 6}
# Queries 5-7: a brand the embedding does not know. Vector search for q5 ranks the brand's smart
# light bulb 24th; full-text search finds the brand and hybrid search ranks it with the meaning.
TEXT_QUERY = {"brand": "Wingtip", "topic": "smart home"}


def has_function(dsn: str, name: str) -> bool:
    """Whether the installed s3vl schema has a function of that name."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 's3vl' AND p.proname = %s)", (name,)).fetchone()
        return bool(row and row[0])


def run_queries(dsn: str, phrases: list[str]) -> int:
    sql_text = resources.files(__package__).joinpath("queries.sql").read_text()
    # --echo-queries: the reader sees each SQL statement above its result.
    argv = [stack.psql_binary(), "-X", "-q", "--echo-queries", "-v", "ON_ERROR_STOP=1",
            "-P", "pager=off", "-d", dsn]
    for var, index in QUERY_PHRASES.items():
        argv += ["-v", f"{var}={phrases[index]}"]
    for var, value in TEXT_QUERY.items():
        argv += ["-v", f"{var}={value}"]
    return subprocess.run(argv, input=sql_text, text=True, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3vl_local.demo")
    parser.add_argument("--state-dir", type=Path, default=stack.DEFAULT_STATE_DIR)
    parser.add_argument("--load-only", action="store_true", help="load data, run no queries")
    args = parser.parse_args(argv)

    info = stack.up(args.state_dir)
    # Text in: the catalogue and the query phrases go through the Bedrock Runtime, as on AWS.
    data = embed_step.embedded(demo_data.load(), info.bedrock_endpoint, info.region,
                               stack.EMBEDDING_MODEL, stack.INDEX_DIMENSION)
    load_tables(info.dsn, data)
    client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                          region_name=info.region, aws_access_key_id=DUMMY_CREDENTIAL,
                          aws_secret_access_key=DUMMY_CREDENTIAL)
    calls = put_vectors(client, info.index_arn, data)
    print(f"[demo] {len(data.products)} products in demo.products; "
          f"{len(data.products)} vectors put into {info.index_arn} ({calls} PutVectors call(s))",
          file=sys.stderr)
    if args.load_only:
        return 0
    if not has_function(info.dsn, "query_vectors"):
        print("[demo] s3vl.query_vectors is not installed (sql/install.sql missing or "
              "incomplete); the data is loaded, the queries cannot run", file=sys.stderr)
        return 1
    if has_function(info.dsn, "add_text_search"):
        text_step.make_searchable(info.dsn)
    status = run_queries(info.dsn, data.queries)
    if status == 0 and sync_step.has_sync(info.dsn):
        sync_step.run(info.dsn, client, info.bucket_name, info.index_arn, data)
    if status == 0 and partition_step.available(info.dsn):
        partition_step.run(info.dsn, client, info.bucket_name, info.index_arn, data,
                           Path(info.state_dir))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
