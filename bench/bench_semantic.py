"""Text in, rows out: what embedding inside the function costs and saves, on a throwaway local
stack (.local/bench-semantic) with the real local model (all-MiniLM-L6-v2 behind the local
Bedrock Runtime).

  model      the local model's embeddings/s: in-process one text at a time and 32 at once, and
             through the Bedrock Runtime over HTTP (InvokeModel, 1 and 4 clients)
  search     s3vl.semantic_search (embed + query in ONE invocation) against s3vl.embed followed
             by s3vl.query_vectors (TWO invocations, the baseline), median and p95, with an
             injected per-invocation latency on the Lambda endpoint (--invoke-latency-ms, what a
             round trip Aurora -> Lambda costs) and on Bedrock (--bedrock-latency-ms); and the
             simulated invocation cost per million searches (Lambda requests + GB-seconds)
  sync       s3vl.sync rows/s for a table tracked with text_column (the function embeds every
             row) next to the same rows with a ready embedding column (baseline)

    .venv/bin/python bench/bench_semantic.py [--queries N] [--rows N] [--invoke-latency-ms MS]
                                             [--bedrock-latency-ms MS] [--quick] [--json]
"""

from __future__ import annotations

import os

# One BLAS thread, as the local Bedrock Runtime runs (local/s3vl_local/bedrock/__main__.py):
# OpenBLAS's own threads spin against each other on a busy machine. Before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "lambda"))
STATE_DIR = ROOT / ".local" / "bench-semantic"
MODEL = "amazon.titan-embed-text-v2:0"
# AWS Lambda list prices (us-east-1, arm64): $0.20 per million requests, $0.0000133334 per
# GB-second; the template's default memory is 1024 MB.
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_S = 0.0000133334
MEMORY_GB = 1.0
WORDS = ["wireless", "earbuds", "coffee", "grinder", "trail", "running", "shoes", "tent",
         "ergonomic", "chair", "laptop", "gaming", "kettle", "blender", "yoga", "mat", "robot",
         "vacuum", "desk", "lamp", "waterproof", "jacket", "smart", "speaker", "camera"]


def phrase(i: int, length: int = 4) -> str:
    """Distinct, deterministic phrases (no cache hit between iterations)."""
    return " ".join(WORDS[(i * 7 + k * 11 + i // len(WORDS)) % len(WORDS)]
                    for k in range(length)) + f" {i}"


def timed(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2),
            "n": len(ordered)}


def post(url: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def bench_model(quick: bool, endpoint: str) -> dict[str, float]:
    import boto3

    from s3vl_local.bedrock import minilm

    model = minilm.shared()
    texts = [f"{phrase(i, 8)} with a long battery life and a two year warranty"
             for i in range(16 if quick else 128)]
    model.encode(texts[:2])
    start = time.perf_counter()
    for t in texts:
        model.encode([t])
    one = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    for k in range(0, len(texts), 32):
        model.encode(texts[k:k + 32])
    batch = len(texts) / (time.perf_counter() - start)
    client = boto3.client("bedrock-runtime", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def invoke(text: str) -> None:
        client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": text,
                                                            "dimensions": 512}))["body"].read()

    invoke("warm up")
    start = time.perf_counter()
    for t in texts:
        invoke(t)
    http_one = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(invoke, texts))
    http_four = len(texts) / (time.perf_counter() - start)
    return {"in_process_one_per_s": round(one, 1), "in_process_batch32_per_s": round(batch, 1),
            "http_1_client_per_s": round(http_one, 1), "http_4_clients_per_s": round(http_four, 1)}


def cost_per_million(invocations: int, billed_ms: float) -> float:
    """Lambda's price of one million searches: requests plus duration (GB-seconds)."""
    per_search = invocations * PRICE_PER_REQUEST + billed_ms / 1000.0 * MEMORY_GB * PRICE_PER_GB_S
    return round(per_search * 1_000_000, 2)


def bench_search(conn: Any, info: Any, queries: int, invoke_ms: int,
                 bedrock_ms: int) -> dict[str, Any]:
    post(info.lambda_endpoint + "/_s3vl/config", {"latency_ms": invoke_ms})
    post(info.bedrock_endpoint + "/_s3vl/faults", {"latency_ms": bedrock_ms})
    counter = iter(range(10**9))

    def one_invocation(_: int) -> None:
        conn.execute("SELECT * FROM s3vl.semantic_search(%s, 'products', top_k => 10)",
                     (phrase(next(counter)),)).fetchall()

    def two_invocations(_: int) -> None:
        vector = conn.execute("SELECT s3vl.embed(%s, 'products')",
                              (phrase(next(counter)),)).fetchone()[0]
        conn.execute("SELECT * FROM s3vl.query_vectors(%s::float8[], 'products', top_k => 10)",
                     (vector,)).fetchall()

    try:
        timed(one_invocation, 3)
        timed(two_invocations, 3)
        one = summary(timed(one_invocation, queries))
        two = summary(timed(two_invocations, queries))
    finally:
        post(info.lambda_endpoint + "/_s3vl/config", {"latency_ms": 0})
        post(info.bedrock_endpoint + "/_s3vl/faults", {"latency_ms": 0})
    # Billed duration: the function's share, what the caller waits minus the round-trip latency.
    one["cost_per_million_usd"] = cost_per_million(1, max(one["median_ms"] - invoke_ms, 1.0))
    two["cost_per_million_usd"] = cost_per_million(2, max(two["median_ms"] - 2 * invoke_ms,
                                                          2.0))
    return {"invoke_latency_ms": invoke_ms, "bedrock_latency_ms": bedrock_ms,
            "semantic_search": one, "embed_then_query": two,
            "speedup_median": round(two["median_ms"] / one["median_ms"], 2)}


def bench_sync(conn: Any, info: Any, client: Any, rows: int) -> dict[str, Any]:
    from s3vl_local.bedrock import dimensions, minilm

    base = info.index_arn.rsplit("/", 1)[0]
    texts = [f"{phrase(i, 6)} for every day" for i in range(rows)]
    model = minilm.shared()
    vectors = [dimensions.to_dimension(minilm.normalize(model.encode([t]).vectors), 512)[0]
               .tolist() for t in texts]
    out: dict[str, Any] = {}
    for kind in ("embedding", "text"):
        index = f"bench-sync-{kind}"
        arn = f"{base}/{index}"
        with contextlib.suppress(client.exceptions.NotFoundException):
            client.delete_index(indexArn=arn)
        client.create_index(vectorBucketName=info.bucket_name, indexName=index,
                            dataType="float32", dimension=512, distanceMetric="cosine")
        table = f"bench_semantic_{kind}"
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, body text, "
                     "embedding real[], topic text)")
        conn.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
        conn.execute("SELECT s3vl.set_embedding_model(%s, %s)", (index, MODEL))
        if kind == "text":
            conn.execute("SELECT s3vl.track_table(%s, 'id', NULL, %s, ARRAY['topic'], "
                         "text_column => 'body')", (table, index))
        else:
            conn.execute("SELECT s3vl.track_table(%s, 'id', 'embedding', %s, ARRAY['topic'])",
                         (table, index))
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",
                            [(i, t, v if kind == "embedding" else None, "t")
                             for i, (t, v) in enumerate(zip(texts, vectors, strict=True))])
        start = time.perf_counter()
        while True:
            row = conn.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                               (index,)).fetchone()
            if row[1]:
                raise RuntimeError(f"sync failed: {row}")
            if row[0] == 0:
                break
        elapsed = time.perf_counter() - start
        stored = len(client.list_vectors(indexArn=arn, maxResults=1000)["vectors"])
        if stored != rows:
            raise RuntimeError(f"{index}: {stored} vectors stored, {rows} expected")
        out[kind] = {"rows": rows, "seconds": round(elapsed, 2),
                     "rows_per_s": round(rows / elapsed, 1)}
        conn.execute("SELECT s3vl.untrack_table(%s)", (table,))
        conn.execute(f"DROP TABLE {table}")
        conn.execute("SELECT s3vl.unregister_index(%s)", (index,))
        client.delete_index(indexArn=arn)
    out["text_over_embedding"] = round(out["text"]["rows_per_s"]
                                       / out["embedding"]["rows_per_s"], 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--invoke-latency-ms", type=int, default=20)
    parser.add_argument("--bedrock-latency-ms", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.queries, args.rows = 5, 20

    import boto3
    import psycopg

    from s3vl_local import stack

    results: dict[str, Any] = {}
    stack.down(STATE_DIR, remove=True)
    try:
        info = stack.up(STATE_DIR)
        client = boto3.client("s3vectors", endpoint_url=info.s3vectors_endpoint,
                              region_name=info.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        results["model"] = bench_model(args.quick, info.bedrock_endpoint)
        with psycopg.connect(info.dsn, autocommit=True) as conn:
            # The products index: a few hundred embedded rows to search.
            rows = conn.execute("SELECT ordinal, embedding FROM s3vl.embed(%s::text[], "
                                "'products')", ([phrase(i, 6) for i in range(60)],)).fetchall()
            client.put_vectors(indexArn=info.index_arn, vectors=[
                {"key": f"p{o}", "data": {"float32": e}} for o, e in rows])
            results["search"] = bench_search(conn, info, args.queries, args.invoke_latency_ms,
                                             args.bedrock_latency_ms)
            results["sync"] = bench_sync(conn, info, client, args.rows)
    finally:
        stack.down(STATE_DIR, remove=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    m = results["model"]
    print(f"local model (all-MiniLM-L6-v2, numpy): {m['in_process_one_per_s']} embeddings/s "
          f"in-process one at a time, {m['in_process_batch32_per_s']} in batches of 32; "
          f"through InvokeModel over HTTP {m['http_1_client_per_s']}/s (1 client), "
          f"{m['http_4_clients_per_s']}/s (4 clients)")
    s = results["search"]
    print(f"search (invoke latency {s['invoke_latency_ms']} ms, Bedrock latency "
          f"{s['bedrock_latency_ms']} ms):")
    for label, key, n in (("semantic_search (1 invocation)", "semantic_search", 1),
                          ("embed + query_vectors (2 invocations, baseline)",
                           "embed_then_query", 2)):
        r = s[key]
        print(f"  {label}: median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, "
              f"{n} invocation(s), ${r['cost_per_million_usd']:.2f} per million searches")
    print(f"  semantic_search is {s['speedup_median']:.2f}x faster than the baseline (median)")
    y = results["sync"]
    print(f"sync {y['text']['rows']} rows: text_column (embedded by the function) "
          f"{y['text']['rows_per_s']} rows/s; embedding column (baseline) "
          f"{y['embedding']['rows_per_s']} rows/s; ratio {y['text_over_embedding']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
