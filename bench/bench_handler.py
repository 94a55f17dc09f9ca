"""Warm handler overhead of query_vectors (dimension 1024, top_k 100) and handler import time.

Cases (vector-only unless said):
  A. stubbed client, vector-only: s3vl against the reference sample's pattern
  H. stubbed client, hybrid (query_vector + query_texts on two keys, 100 results with
     fused/BM25/vector-distance scores and metadata): s3vl's hybrid overhead against s3vl's own
     vector-only figure from case A of the same run
  B. canned HTTP, vector-only

Two sides, measured in the same run, median per call:
  s3vl       s3vl_lambda.handler.lambda_handler (cached client, metric cache, logs + EMF)
  baseline   the reference sample's pattern: a new boto3 client for every request

Two ways of taking S3 Vectors out of the loop:
  A. stubbed client: the client object answers with a canned response, so s3vl's figure is the
     handler's own overhead (validation, dispatch, reshaping, envelope, logs, EMF). The baseline
     still creates its real boto3 client per request, then gets the same canned answer.
  B. canned HTTP: real boto3 clients; a botocore `before-send` handler answers after the request
     was built and signed, so botocore's serialisation of the 1024 floats and its response
     parsing are included on both sides.

Targets: A and H s3vl median <= 1 ms; import of s3vl_lambda.handler <= 300 ms (fresh
interpreter).

    .venv/bin/python bench/bench_handler.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambda"))

DIMENSION = 1024
TOP_K = 100
REGION = "us-east-1"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:123456789012:bucket/bench-bucket/index/bench-index"
TARGET_MEDIAN_MS = 1.0
TARGET_IMPORT_MS = 300.0


def _canned_bodies() -> dict[str, bytes]:
    rng = random.Random(7)
    hits = [
        {"key": f"doc-{i:05d}", "distance": round(0.01 * i + rng.random() * 0.001, 6),
         "metadata": {"title": f"title {i}", "category": "bench", "year": 2000 + i % 25}}
        for i in range(TOP_K)
    ]
    index = {
        "index": {"vectorBucketName": "bench-bucket", "indexName": "bench-index",
                  "indexArn": INDEX_ARN, "creationTime": 1767225600, "dataType": "float32",
                  "dimension": DIMENSION, "distanceMetric": "cosine"}
    }
    return {
        "/QueryVectors": json.dumps({"vectors": hits, "distanceMetric": "cosine"}).encode(),
        "/GetIndex": json.dumps(index).encode(),
    }


def hybrid_answer() -> dict[str, Any]:
    """A QueryVectorsOutput for a hybrid query (botocore shapes QueryScores and Bm25Score): RRF
    order; most rows matched both rankings, some only the text one, some only the vector one."""
    rng = random.Random(11)
    hits = []
    for i in range(TOP_K):
        scores: dict[str, Any] = {"fused": round(2.0 / (61 + i), 6)}
        if i % 5 != 4:  # matched the text ranking (on one or both keys)
            scores["bm25Scores"] = [{"metadataKey": "name", "score": round(rng.uniform(1, 9), 4)}]
            if i % 2 == 0:
                scores["bm25Scores"].append(
                    {"metadataKey": "description", "score": round(rng.uniform(0, 4), 4)})
        if i % 7 != 6:  # matched the vector ranking
            scores["vectorDistance"] = round(0.01 * i + rng.random() * 0.001, 6)
        hits.append({"key": f"doc-{i:05d}", "scores": scores,
                     "metadata": {"name": f"trail shoe {i}", "category": "bench",
                                  "year": 2000 + i % 25}})
    return {"vectors": hits, "distanceMetric": "cosine"}


def install_canned_transport() -> None:
    """Answer every s3vectors request in-process, after botocore built and signed it."""
    from urllib.parse import urlsplit

    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from botocore.handlers import BUILTIN_HANDLERS

    bodies = _canned_bodies()

    class _Raw(io.BytesIO):
        def stream(self, **_: Any) -> Any:
            yield self.read()

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = bodies[urlsplit(request.url).path]
        headers = HTTPHeaders.from_dict({"content-type": "application/json"})
        return AWSResponse(request.url, 200, headers, _Raw(body))

    BUILTIN_HANDLERS.insert(0, ("before-send.s3vectors", answer))


class StubClient:
    """Stands in for the boto3 client: canned, already-parsed responses."""

    def __init__(self) -> None:
        bodies = _canned_bodies()
        self._query: dict[str, Any] = json.loads(bodies["/QueryVectors"])
        self._index: dict[str, Any] = json.loads(bodies["/GetIndex"])
        self._hybrid = hybrid_answer()

    def query_vectors(self, **params: Any) -> dict[str, Any]:
        return self._hybrid if "queryTexts" in params else self._query

    def get_index(self, **_: Any) -> dict[str, Any]:
        return self._index


def baseline_handler(event: dict[str, Any], stub: StubClient | None) -> dict[str, Any]:
    """The reference sample's shape: validate, create a client per request, call, reshape."""
    import math

    import boto3

    start = time.time()
    vector = event["query_vector"]
    for value in vector:
        if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
            raise ValueError("bad vector")
    client: Any = boto3.client("s3vectors", region_name=REGION)
    if stub is not None:
        client = stub
    response = client.query_vectors(
        indexArn=event["index_arn"], topK=event["top_k"], queryVector={"float32": vector},
        returnMetadata=True, returnDistance=True,
    )
    results = [
        {"vector_id": v["key"], "distance": v["distance"],
         "similarity_score": 1.0 - v["distance"], "metadata": v.get("metadata", {})}
        for v in response.get("vectors", [])
    ]
    elapsed_ms = int((time.time() - start) * 1000)
    return {"success": True, "result": results, "execution_time_ms": elapsed_ms}


class _Context:
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _median_ms(fn: Any, event: Any, iterations: int, warmup: int) -> float:
    for _ in range(warmup):
        fn(event)
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn(event)
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples)


def import_time_ms(runs: int) -> float:
    code = (
        "import time; t = time.perf_counter(); import s3vl_lambda.handler; "
        "print((time.perf_counter() - t) * 1000)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda"), "PYTHONDONTWRITEBYTECODE": "0"}
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=60)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    iterations, baseline_iterations, import_runs = (
        (200, 30, 3) if args.quick else (2000, 200, 7)
    )

    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    os.environ.pop("AWS_ENDPOINT_URL_S3VECTORS", None)
    install_canned_transport()
    from s3vl_lambda import clients, index_info
    from s3vl_lambda.handler import lambda_handler

    rng = random.Random(1)
    vector = [rng.uniform(-1.0, 1.0) for _ in range(DIMENSION)]
    event = {"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": vector,
             "top_k": TOP_K, "return_metadata": True}
    ctx = _Context()
    stub = StubClient()
    real_create = clients._create

    hybrid_event = {**event, "query_texts": {"name": "trail shoes",
                                             "description": "waterproof lightweight"}}

    def s3vl(ev: dict[str, Any]) -> dict[str, Any]:
        env = lambda_handler(ev, ctx)
        if not env["success"] or len(env["result"]) != TOP_K:
            raise RuntimeError(f"unexpected answer: {env.get('error')}")
        return env

    def s3vl_hybrid(ev: dict[str, Any]) -> dict[str, Any]:
        env = lambda_handler(ev, ctx)
        if not env["success"] or len(env["result"]) != TOP_K or "fused_score" not in \
                env["result"][0]:
            raise RuntimeError(f"unexpected hybrid answer: {env.get('error')}")
        return env

    def use_client(factory: Any) -> None:
        clients.clear_cache()
        index_info.clear_cache()
        clients._create = factory

    # Logs and EMF go to stdout in Lambda; write them to /dev/null here so the terminal is not
    # part of the measurement (formatting and writing them still are).
    figures: dict[str, float] = {}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        use_client(lambda region, tier, retries=True: stub)
        figures["a_s3vl"] = _median_ms(s3vl, event, iterations, warmup=50)
        figures["a_base"] = _median_ms(
            lambda ev: baseline_handler(ev, stub), event, baseline_iterations, warmup=5
        )
        figures["h_s3vl"] = _median_ms(s3vl_hybrid, hybrid_event, iterations, warmup=50)
        use_client(real_create)
        figures["b_s3vl"] = _median_ms(s3vl, event, iterations // 2, warmup=20)
        figures["b_base"] = _median_ms(
            lambda ev: baseline_handler(ev, None), event, baseline_iterations, warmup=5
        )
    imported = import_time_ms(import_runs)

    report = {
        "dimension": DIMENSION, "top_k": TOP_K,
        "stubbed_client": {"s3vl_median_ms": round(figures["a_s3vl"], 3),
                           "baseline_median_ms": round(figures["a_base"], 3),
                           "ratio": round(figures["a_base"] / figures["a_s3vl"], 1)},
        "hybrid_stubbed_client": {"s3vl_median_ms": round(figures["h_s3vl"], 3),
                                  "vector_only_median_ms": round(figures["a_s3vl"], 3),
                                  "ratio": round(figures["h_s3vl"] / figures["a_s3vl"], 2)},
        "canned_http": {"s3vl_median_ms": round(figures["b_s3vl"], 3),
                        "baseline_median_ms": round(figures["b_base"], 3),
                        "ratio": round(figures["b_base"] / figures["b_s3vl"], 1)},
        "import_ms": round(imported, 1),
        "target_median_ms": TARGET_MEDIAN_MS, "target_import_ms": TARGET_IMPORT_MS,
        "iterations": iterations, "baseline_iterations": baseline_iterations,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    ok = figures["a_s3vl"] <= TARGET_MEDIAN_MS
    print(f"query_vectors warm handler overhead, dimension {DIMENSION}, top_k {TOP_K}, "
          "median per call")
    print("A. stubbed client (handler's own overhead)")
    print(f"   baseline, new boto3 client per request: {figures['a_base']:8.3f} ms")
    print(f"   s3vl handler:                           {figures['a_s3vl']:8.3f} ms  "
          f"target <= {TARGET_MEDIAN_MS} ms [{'ok' if ok else 'MISSED'}]")
    print(f"   ratio baseline / s3vl: {figures['a_base'] / figures['a_s3vl']:.1f}x")
    ok_h = figures["h_s3vl"] <= TARGET_MEDIAN_MS
    print("H. stubbed client, hybrid (query_vector + query_texts on 2 keys, 100 scored results)")
    print(f"   s3vl handler, vector-only (case A):     {figures['a_s3vl']:8.3f} ms")
    print(f"   s3vl handler, hybrid:                   {figures['h_s3vl']:8.3f} ms  "
          f"target <= {TARGET_MEDIAN_MS} ms [{'ok' if ok_h else 'MISSED'}]")
    print(f"   ratio hybrid / vector-only: {figures['h_s3vl'] / figures['a_s3vl']:.2f}x")
    print("B. canned HTTP answer (botocore serialisation and parsing included)")
    print(f"   baseline, new boto3 client per request: {figures['b_base']:8.3f} ms")
    print(f"   s3vl handler:                           {figures['b_s3vl']:8.3f} ms")
    print(f"   ratio baseline / s3vl: {figures['b_base'] / figures['b_s3vl']:.1f}x")
    print(f"import s3vl_lambda.handler (fresh interpreter, median of {import_runs}): "
          f"{imported:.1f} ms  target <= {TARGET_IMPORT_MS} ms "
          f"[{'ok' if imported <= TARGET_IMPORT_MS else 'MISSED'}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
