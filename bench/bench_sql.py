"""SQL-side overhead of s3vl.query_vectors and s3vl.hybrid_search (top_k 100, metadata, dim 384).

Everything runs inside PostgreSQL against a zero-latency aws_lambda.invoke (json overload, as s3vl
calls it) that hands out a canned top-100 response of ~22 KB as json text
(tests/sql/canned_aws_lambda.sql, logging off). Per call, timed server-side
with clock_timestamp() around each statement, median over N calls, measured in the same run:
  invoke      the canned aws_lambda.invoke alone, request prebuilt, answer not parsed (floor)
  parse       the floor plus parsing the answer into jsonb (printed as part of s3vl's overhead)
  s3vl        s3vl.query_vectors(...) -> rows
  baseline    a row-by-row PL/pgSQL loop in the reference sample's style (json text payload,
              json_array_elements, one RETURN NEXT per row)
  hybrid      s3vl.hybrid_search(vector, '{"name": ..., "description": ...}'::jsonb, ...) -> rows,
              against a canned top-100 hybrid answer (the protocol's seven keys per row), with
              its own invoke floor (the same canned invoke handing out that answer)
SQL-side overhead = path - invoke: building the request, parsing the answer, checking it and
turning it into rows. Target: s3vl overhead <= 1 ms median, for query_vectors and hybrid_search;
the hybrid overhead is printed against the query_vectors overhead of the same run.

    .venv/bin/python bench/bench_sql.py [--quick] [--dsn DSN] [--json]

Without --dsn it starts a throwaway PostgreSQL cluster in .local/bench-sql (removed after).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
STATE_DIR = ROOT / ".local" / "bench-sql"
DATABASE = "s3vl_bench_sql"
DIMENSION = 384
TOP_K = 100
TARGET_MS = 1.0
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:s3vl-function"
INDEX_ARN = "arn:aws:s3vectors:us-east-1:123456789012:bucket/bench/index/bench"

TIMER_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.time_calls(statement text, n integer, vec float8[],
                                              request json)
RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  out float8[] := '{}';
BEGIN
  FOR i IN 1..n LOOP
    t0 := clock_timestamp();
    EXECUTE statement USING vec, request;
    out := out || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
  END LOOP;
  RETURN out;
END $$;
"""

# The reference sample's shape: text payload, invoke, per-row loop with RETURN NEXT.
BASELINE_SQL = """
CREATE SCHEMA IF NOT EXISTS bench;
-- The floor: the same invoke statement s3vl runs, with the request already built; the answer
-- is left as the json text aws_lambda hands out (parsing it is SQL-side work, counted in s3vl).
CREATE OR REPLACE FUNCTION bench.invoke_only(request json) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  arn text;
  response json;
BEGIN
  SELECT c.lambda_arn INTO arn FROM s3vl.config c LIMIT 1;
  SELECT i.payload INTO response FROM aws_lambda.invoke(arn, request, 'us-east-1') AS i;
  RETURN response IS NOT NULL;
END $$;
-- The floor plus parsing the answer into jsonb: the part of the overhead any consumer pays.
CREATE OR REPLACE FUNCTION bench.invoke_and_parse(request json) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  arn text;
  response jsonb;
BEGIN
  SELECT c.lambda_arn INTO arn FROM s3vl.config c LIMIT 1;
  SELECT i.payload::jsonb INTO response FROM aws_lambda.invoke(arn, request, 'us-east-1') AS i;
  RETURN response IS NOT NULL;
END $$;
CREATE OR REPLACE FUNCTION bench.rowloop_query(query_vector float8[], index_arn text,
  top_k integer, return_metadata boolean)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  cfg record;
  lambda_payload text;
  lambda_response text;
  response_json json;
  r record;
BEGIN
  SELECT * INTO cfg FROM s3vl.config ORDER BY updated_at DESC LIMIT 1;
  lambda_payload := json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
    'query_vector', array_to_json(query_vector), 'top_k', top_k,
    'return_metadata', return_metadata)::text;
  SELECT i.payload INTO lambda_response FROM aws_lambda.invoke(cfg.lambda_arn,
    lambda_payload::jsonb) i;
  response_json := lambda_response::json;
  IF (response_json ->> 'success')::boolean IS DISTINCT FROM true THEN
    RAISE EXCEPTION 'failed';
  END IF;
  FOR r IN SELECT (e ->> 'vector_id') AS vid, (e ->> 'distance')::float8 AS d,
                  (e ->> 'similarity_score')::float8 AS s,
                  coalesce((e ->> 'metadata')::jsonb, '{}'::jsonb) AS m
           FROM json_array_elements(response_json -> 'result') AS e LOOP
    vector_id := r.vid; distance := r.d; similarity_score := r.s; metadata := r.m;
    RETURN NEXT;
  END LOOP;
END $$;
"""


def canned_answers(rng: random.Random) -> dict[str, Any]:
    results = [{"vector_id": f"doc-{i:05d}", "distance": round(i / 200, 6),
                "similarity_score": round(1 - i / 200, 6),
                "metadata": {"title": f"Document {i}", "category": rng.choice(["a", "b", "c"]),
                             "year": 2000 + i % 25, "price": round(rng.random() * 100, 2),
                             "tags": ["x", "y"]}}
               for i in range(TOP_K)]
    return {
        "availability_check": {"success": True, "result": {"status": "available"}},
        "get_index": {"success": True, "result": {
            "index_arn": INDEX_ARN, "index_name": "bench", "vector_bucket_name": "bench",
            "dimension": DIMENSION, "distance_metric": "cosine", "data_type": "float32",
            "non_filterable_metadata_keys": [], "creation_time": None}},
        "query_vectors": {"success": True, "result": results, "request_id": "r",
                          "execution_time_ms": 0},
    }


def hybrid_answer(rng: random.Random) -> dict[str, Any]:
    """A top-100 hybrid answer: rows found by both rankings, by the text or the vector only."""
    rows = []
    for i in range(TOP_K):
        vector_found, text_found = i % 3 != 1, i % 3 != 2
        bm25 = {"name": round(rng.random() * 5, 6), "description": round(rng.random() * 3, 6)}
        rows.append({
            "vector_id": f"doc-{i:05d}",
            "distance": round(i / 200, 6) if vector_found else None,
            "similarity_score": round(1 - i / 200, 6) if vector_found else None,
            "metadata": {"title": f"Document {i}", "category": rng.choice(["a", "b", "c"]),
                         "year": 2000 + i % 25, "price": round(rng.random() * 100, 2),
                         "tags": ["x", "y"]},
            "text_score": round(sum(bm25.values()), 6) if text_found else None,
            "bm25_scores": bm25 if text_found else {},
            "fused_score": round(2 / (61 + i), 6)})
    return {"success": True, "result": rows, "request_id": "r", "execution_time_ms": 0}


def prepare(server_dsn: str) -> str:
    import psycopg
    from psycopg.types.json import Json

    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=DATABASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "sql" / "canned_aws_lambda.sql").read_text().encode())
        for operation, response in canned_answers(random.Random(7)).items():
            conn.execute("INSERT INTO canned.answers (operation, response) VALUES (%s, %s)",
                         (operation, Json(response)))
    from s3vl_local.stack import psql_binary

    proc = subprocess.run([psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f",
                           str(ROOT / "sql" / "install.sql")], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"install.sql failed: {proc.stderr}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("SELECT s3vl.configure(%s)", (LAMBDA_ARN,))
        conn.execute("SELECT s3vl.register_index('bench', %s)", (INDEX_ARN,))
        conn.execute(BASELINE_SQL)
    return dsn


TEXTS = {"name": "trail running shoes", "description": "waterproof and light"}


def time_statement(conn: Any, statement: str, calls: int, vector: list[float],
                   request: Any) -> float:
    """Median ms of one statement ($1 = vector, $2 = prebuilt request), after a warm-up."""
    from psycopg.types.json import Json

    args = (statement, vector, Json(request))
    conn.execute("SELECT pg_temp.time_calls(%s, %s, %s::float8[], %s)",
                 (statement, max(5, calls // 10), *args[1:]))  # warm-up
    timings = conn.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM "
        "unnest(pg_temp.time_calls(%s, %s, %s::float8[], %s)) t",
        (statement, calls, *args[1:])).fetchone()
    return float(timings[0]) if timings else float("nan")


def measure(dsn: str, calls: int) -> dict[str, Any]:
    import psycopg
    from psycopg.types.json import Json

    vector = [round((i % 17) / 17, 4) for i in range(DIMENSION)]
    texts = json.dumps(TEXTS)
    statements = {
        "invoke": "SELECT bench.invoke_only($2)",
        "invoke_parse": "SELECT bench.invoke_and_parse($2)",
        "s3vl": f"SELECT count(*) FROM s3vl.query_vectors($1, 'bench', top_k => {TOP_K})",
        "baseline": f"SELECT count(*) FROM bench.rowloop_query($1, '{INDEX_ARN}', {TOP_K}, true)",
    }
    hybrid_statements = {
        "hybrid_invoke": "SELECT bench.invoke_only($2)",
        "hybrid_invoke_parse": "SELECT bench.invoke_and_parse($2)",
        # query_vectors reading the same (bigger) answer: separates the payload's cost from
        # the hybrid path's own work.
        "s3vl_same_answer": f"SELECT count(*) FROM s3vl.query_vectors($1, 'bench', "
                            f"top_k => {TOP_K})",
        "hybrid": f"SELECT count(*) FROM s3vl.hybrid_search($1, '{texts}'::jsonb, 'bench', "
                  f"top_k => {TOP_K})",
    }
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET canned.log = off")
        conn.execute(TIMER_SQL)
        built = conn.execute("SELECT s3vl._query_request(%s, %s::float8[], %s, true, NULL)",
                             (INDEX_ARN, vector, TOP_K)).fetchone()
        assert built is not None
        request = built[0]
        rows = conn.execute("SELECT count(*) FROM s3vl.query_vectors(%s::float8[], 'bench', "
                            "top_k => %s)", (vector, TOP_K)).fetchone()
        if not rows or rows[0] != TOP_K:
            raise SystemExit(f"s3vl.query_vectors returned {rows}, expected {TOP_K} rows")
        medians: dict[str, float] = {}
        for name, statement in statements.items():
            medians[name] = time_statement(conn, statement, calls, vector, request)

        # The hybrid phase: the canned invoke now hands out a hybrid answer.
        conn.execute("UPDATE canned.answers SET response = %s WHERE operation = 'query_vectors'",
                     (Json(hybrid_answer(random.Random(11))),))
        built = conn.execute("SELECT s3vl._text_query_request(%s, %s::float8[], %s::jsonb, %s, "
                             "true, NULL)", (INDEX_ARN, vector, texts, TOP_K)).fetchone()
        assert built is not None
        hybrid_request = built[0]
        rows = conn.execute("SELECT count(*), count(distance), count(text_score) FROM "
                            "s3vl.hybrid_search(%s::float8[], %s::jsonb, 'bench', top_k => %s)",
                            (vector, texts, TOP_K)).fetchone()
        if not rows or rows[0] != TOP_K or rows[1] == TOP_K or rows[2] == TOP_K:
            raise SystemExit(f"s3vl.hybrid_search returned {rows}, expected {TOP_K} rows "
                             "with some NULL distances and text scores")
        for name, statement in hybrid_statements.items():
            medians[name] = time_statement(conn, statement, calls, vector, hybrid_request)
    s3vl_overhead = medians["s3vl"] - medians["invoke"]
    baseline_overhead = medians["baseline"] - medians["invoke"]
    hybrid_overhead = medians["hybrid"] - medians["hybrid_invoke"]
    return {
        "calls": calls, "top_k": TOP_K, "dimension": DIMENSION,
        "median_ms": {k: round(v, 4) for k, v in medians.items()},
        "s3vl_overhead_ms": round(s3vl_overhead, 4),
        "baseline_overhead_ms": round(baseline_overhead, 4),
        "answer_parse_ms": round(medians["invoke_parse"] - medians["invoke"], 4),
        "baseline_over_s3vl": round(baseline_overhead / s3vl_overhead, 2)
        if s3vl_overhead > 0 else None,
        "hybrid_overhead_ms": round(hybrid_overhead, 4),
        "hybrid_answer_parse_ms": round(medians["hybrid_invoke_parse"] - medians["hybrid_invoke"],
                                        4),
        "hybrid_over_query_vectors": round(hybrid_overhead / s3vl_overhead, 2)
        if s3vl_overhead > 0 else None,
        "query_vectors_same_answer_overhead_ms": round(
            medians["s3vl_same_answer"] - medians["hybrid_invoke"], 4),
        "target_ms": TARGET_MS,
        "meets_target": s3vl_overhead <= TARGET_MS,
        "hybrid_meets_target": hybrid_overhead <= TARGET_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="50 calls per side instead of 500")
    parser.add_argument("--dsn", help="a superuser DSN of a running server (default: own cluster)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    calls = 50 if args.quick else 500

    from s3vl_local import pg

    started_cluster = args.dsn is None
    server_dsn = args.dsn
    if server_dsn is None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        server_dsn = pg.cluster_dsn(pg.start_cluster(STATE_DIR))
        pg.wait_ready(server_dsn)
    try:
        result = measure(prepare(server_dsn), calls)
    finally:
        if started_cluster:
            pg.stop_cluster(STATE_DIR, remove=True)
    if args.json:
        print(json.dumps(result))
        return 0
    med = result["median_ms"]
    print(f"s3vl.query_vectors SQL-side overhead, top_k {TOP_K} with metadata, dimension "
          f"{DIMENSION}, median of {calls} calls (zero-latency canned aws_lambda.invoke)")
    print(f"  canned invoke alone          {med['invoke']:8.3f} ms")
    print(f"  s3vl.query_vectors           {med['s3vl']:8.3f} ms   overhead "
          f"{result['s3vl_overhead_ms']:.3f} ms")
    print(f"    of which parsing the answer into jsonb (any consumer pays it) "
          f"{result['answer_parse_ms']:.3f} ms")
    print(f"  baseline row-by-row PL/pgSQL {med['baseline']:8.3f} ms   overhead "
          f"{result['baseline_overhead_ms']:.3f} ms")
    print(f"  ratio baseline/s3vl overhead {result['baseline_over_s3vl']}")
    print(f"  target s3vl overhead <= {TARGET_MS} ms: "
          f"{'MET' if result['meets_target'] else 'NOT MET'}")
    print(f"s3vl.hybrid_search SQL-side overhead, top_k {TOP_K} hybrid rows (2 text keys), same "
          f"run, against its own canned invoke")
    print(f"  canned invoke alone          {med['hybrid_invoke']:8.3f} ms")
    print(f"  s3vl.hybrid_search           {med['hybrid']:8.3f} ms   overhead "
          f"{result['hybrid_overhead_ms']:.3f} ms")
    print(f"    of which parsing the answer into jsonb (any consumer pays it) "
          f"{result['hybrid_answer_parse_ms']:.3f} ms")
    print(f"  s3vl.query_vectors reading the same answer: overhead "
          f"{result['query_vectors_same_answer_overhead_ms']:.3f} ms")
    print(f"  ratio hybrid/query_vectors overhead {result['hybrid_over_query_vectors']}")
    print(f"  target hybrid overhead <= {TARGET_MS} ms: "
          f"{'MET' if result['hybrid_meets_target'] else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
