"""Benchmark of the S3 Vectors emulator: QueryVectors latency and PutVectors throughput.

Full run (about two minutes): 100,000 vectors of dimension 768 in PutVectors batches of 500,
sent pre-serialised over HTTP to an emulator process (one and four connections), then
QueryVectors topK=100 (median of >= 20 queries) over HTTP and directly on the model. Baselines,
measured in the same run: for PutVectors, the same bodies through the ordinary JSON path
(`--plain-json`); for QueryVectors, a naive pure-Python exact kNN (one distance per vector in a
Python loop, as an un-vectorised emulator would do) timed on a subset and scaled linearly to the
full index. Targets from issue 3: query median <= 100 ms, put >= 20,000/s. Then text-only and
hybrid QueryVectors (topK 100) over 100,000 documents of dimension 128 (issue 11: <= 50 ms and
<= 100 ms median), against a vector-only query on the same index and a plain-Python BM25.

    .venv/bin/python bench/bench_emulator.py            # full size
    .venv/bin/python bench/bench_emulator.py --quick    # tiny smoke run
    .venv/bin/python bench/bench_emulator.py --text-only    # only the text and hybrid part
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import orjson
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local" / "s3vectors-emulator"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from s3vectors_emulator import start_server
from s3vl_local.ports import free_port, wait_http_healthy

QUERY_TARGET_MS = 100.0
TEXT_TARGET_MS = 50.0
HYBRID_TARGET_MS = 100.0
TEXT_DIMENSION = 128
PUT_TARGET_PER_S = 20_000.0
BATCH = 500


def naive_query_ms(matrix: np.ndarray, query: np.ndarray, top_k: int, sample: int) -> float:
    """Time a pure-Python cosine kNN over `sample` rows, scaled to all rows (ms)."""
    rows = matrix[:sample].tolist()
    q = query.tolist()
    q_norm = math.sqrt(sum(x * x for x in q))
    start = time.perf_counter()
    scored = []
    for i, row in enumerate(rows):
        dot = sum(a * b for a, b in zip(row, q, strict=True))
        norm = math.sqrt(sum(a * a for a in row))
        scored.append((1.0 - dot / (norm * q_norm), i))
    scored.sort()
    _ = scored[:top_k]
    elapsed = time.perf_counter() - start
    return float(elapsed * 1000.0 * matrix.shape[0] / sample)


def _batch_bodies(matrix: np.ndarray, index: str) -> list[bytes]:
    bodies = []
    for start in range(0, matrix.shape[0], BATCH):
        block = matrix[start : start + BATCH].tolist()
        vectors = [
            {"key": f"v{start + i}", "data": {"float32": row}, "metadata": {"n": start + i}}
            for i, row in enumerate(block)
        ]
        payload = {"vectorBucketName": "bench", "indexName": index, "vectors": vectors}
        bodies.append(orjson.dumps(payload))
    return bodies


@contextlib.contextmanager
def emulator_process(*flags: str) -> Iterator[str]:
    """An emulator in its own process, as the local stack runs it; yields its URL."""
    port = free_port()
    package = Path(__file__).resolve().parents[1] / "local" / "s3vectors-emulator"
    env = {**os.environ, "PYTHONPATH": str(package)}
    argv = [sys.executable, "-m", "s3vectors_emulator", "--port", str(port), *flags]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_healthy(f"{url}/_s3vl/health")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _request(conn: http.client.HTTPConnection, operation: str, body: bytes) -> int:
    conn.request("POST", f"/{operation}", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def put_raw(url: str, bodies: list[bytes], dim: int, connections: int = 1) -> float:
    """PutVectors with pre-serialised bodies over `connections` keep-alive HTTP connections.

    Returns vectors per second. Each connection sends its share of the batches one after another,
    as the function's writer threads do.
    """
    address = url.removeprefix("http://")
    setup = http.client.HTTPConnection(address, timeout=120)
    _request(setup, "CreateVectorBucket", orjson.dumps({"vectorBucketName": "bench"}))
    create = {
        "vectorBucketName": "bench",
        "indexName": "bench",
        "dataType": "float32",
        "dimension": dim,
        "distanceMetric": "cosine",
    }
    assert _request(setup, "CreateIndex", orjson.dumps(create)) == 200
    setup.close()

    def send(share: list[bytes]) -> None:
        conn = http.client.HTTPConnection(address, timeout=120)
        for body in share:
            status = _request(conn, "PutVectors", body)
            assert status == 200, status
        conn.close()

    threads = [
        threading.Thread(target=send, args=(bodies[i::connections],)) for i in range(connections)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return len(bodies) * BATCH / seconds


def parse_floor_ms(bodies: list[bytes]) -> float:
    """Median time simdjson alone takes to parse one body: the floor of a PutVectors call."""
    import simdjson

    parser = simdjson.Parser()
    times = []
    for body in bodies[:20]:
        start = time.perf_counter()
        document = parser.parse(body)
        times.append((time.perf_counter() - start) * 1000.0)
        del document
    return statistics.median(times)


def put_boto3(client: Any, matrix: np.ndarray, index: str) -> float:
    client.create_index(
        vectorBucketName="bench",
        indexName=index,
        dataType="float32",
        dimension=matrix.shape[1],
        distanceMetric="cosine",
    )
    start = time.perf_counter()
    for first in range(0, matrix.shape[0], BATCH):
        batch = [
            {"key": f"v{first + i}", "data": {"float32": row}}
            for i, row in enumerate(matrix[first : first + BATCH].tolist())
        ]
        client.put_vectors(
            vectorBucketName="bench",
            indexName=index,
            vectors=batch,
        )
    return float(matrix.shape[0] / (time.perf_counter() - start))


def bench_text(count: int, dim: int, queries: int) -> None:
    """Text-only and hybrid QueryVectors (topK 100) over `count` documents, over HTTP via boto3.

    Baselines from the same run: a vector-only QueryVectors on the same index, and the
    plain-Python BM25 of bench_text_search.py over the same documents (one text query)."""
    from bench_text_search import make_documents, make_queries, plain_python_bm25

    from s3vectors_emulator.search.text import analyze

    docs, words, weights = make_documents(count)
    texts = make_queries(words, weights, queries)
    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((count, dim), dtype=np.float32)
    probes = rng.standard_normal((queries, dim), dtype=np.float32)
    with start_server(text_build_seconds=0) as server:
        client = boto3.client(
            "s3vectors",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        ref = {"vectorBucketName": "text", "indexName": "docs"}
        client.create_vector_bucket(vectorBucketName="text")
        client.create_index(**ref, dataType="float32", dimension=dim, distanceMetric="cosine")
        index = server.emulator.state.index("us-east-1", "text", "docs")
        keys = [f"d{i}" for i in range(count)]
        index.put(keys, matrix, [{"title": doc, "n": i} for i, doc in enumerate(docs)])  # untimed
        t = time.perf_counter()
        client.update_metadata_configuration(
            **ref, add={"textSearchConfigurations": [{"metadataKey": "title", "language": "en"}]}
        )
        accepted_s = time.perf_counter() - t
        while True:  # the backfill goes on in the background until the key is ACTIVE
            index_info = client.get_index(**ref)["index"]["metadataConfiguration"]
            if index_info["textSearchConfigurations"][0]["status"] == "ACTIVE":
                break
            time.sleep(0.05)
        build_s = time.perf_counter() - t

        def timed(**extra: Any) -> list[float]:
            times = []
            for text, probe in zip(texts, probes, strict=True):
                request: dict[str, Any] = {**ref, "topK": 100, "returnScores": True, **extra}
                if "queryTexts" in extra:
                    request["queryTexts"] = [{"metadataKey": "title", "text": text}]
                if "queryVector" in extra:
                    request["queryVector"] = {"float32": probe.tolist()}
                start = time.perf_counter()
                client.query_vectors(**request)
                times.append((time.perf_counter() - start) * 1000.0)
            return times

        vector_ms = statistics.median(timed(queryVector=True))
        text_ms = statistics.median(timed(queryTexts=True))
        hybrid_ms = statistics.median(timed(queryTexts=True, queryVector=True))
        filtered_ms = statistics.median(
            timed(queryTexts=True, queryVector=True, filter={"n": {"$lt": count // 10}})
        )

    postings: dict[str, dict[str, int]] = {}
    lengths: dict[str, int] = {}
    for key, doc in zip(keys, docs, strict=True):
        tokens = analyze(doc, "en")
        lengths[key] = len(tokens)
        for term in tokens:
            postings.setdefault(term, {})
            postings[term][key] = postings[term].get(key, 0) + 1
    plain = []
    for text in texts:
        start = time.perf_counter()
        plain_python_bm25(postings, lengths, text, 100)
        plain.append((time.perf_counter() - start) * 1000.0)
    plain_ms = statistics.median(plain)
    print(
        f"text search: {count} documents, dimension {dim}, {queries} queries; "
        f"UpdateMetadataConfiguration answered in {accepted_s:.2f} s, the key was ACTIVE after "
        f"{build_s:.1f} s"
    )
    print(
        f"QueryVectors text-only topK=100 over HTTP (boto3): median {text_ms:.1f} ms; target "
        f"{TEXT_TARGET_MS:.0f} ms, ratio {TEXT_TARGET_MS / text_ms:.2f}x under target"
    )
    print(
        f"QueryVectors hybrid topK=100 over HTTP (boto3): median {hybrid_ms:.1f} ms; target "
        f"{HYBRID_TARGET_MS:.0f} ms, ratio {HYBRID_TARGET_MS / hybrid_ms:.2f}x under target; "
        f"with a 10% filter: {filtered_ms:.1f} ms"
    )
    print(
        f"baseline (same run, same index): vector-only QueryVectors median {vector_ms:.1f} ms "
        f"(text-only {text_ms / vector_ms:.2f}x, hybrid {hybrid_ms / vector_ms:.2f}x of it); "
        f"plain-Python BM25 of the same text queries, in-process: median {plain_ms:.1f} ms "
        f"(ratio to the text-only query over HTTP: {plain_ms / text_ms:.2f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--vectors", type=int, default=None)
    parser.add_argument("--dimension", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--text-only", action="store_true", help="only the text/hybrid part")
    args = parser.parse_args()
    count = args.vectors or (2_000 if args.quick else 100_000)
    dim = args.dimension or (64 if args.quick else 768)
    queries = args.queries or (5 if args.quick else 25)
    top_k = 100

    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((count, dim), dtype=np.float32)
    probes = rng.standard_normal((queries, dim), dtype=np.float32)
    if args.text_only:
        bench_text(count, 16 if args.quick else TEXT_DIMENSION, queries)
        return 0
    print(f"bench_emulator: {count} vectors, dimension {dim}, topK {top_k}, {queries} queries")

    # PutVectors throughput against an emulator process of its own, as the local stack runs it,
    # with pre-serialised bodies: this measures the emulator, not the client. Baseline in the same
    # run: the same bodies through the ordinary JSON path (--plain-json: orjson, then numpy).
    bodies = _batch_bodies(matrix, "bench")
    small = rng.standard_normal((2_000 if args.quick else 20_000, 128), dtype=np.float32)
    rates: dict[str, tuple[float, int]] = {}
    for label, flags, data, width, connections in [
        ("fast", (), bodies, dim, 1),
        ("fast, 4 connections", (), bodies, dim, 4),
        ("plain JSON (baseline)", ("--plain-json",), bodies, dim, 1),
        ("fast, small vectors", (), _batch_bodies(small, "bench"), 128, 1),
    ]:
        with emulator_process(*flags) as url:
            rates[label] = (put_raw(url, data, width, connections), width)
    floor_ms = parse_floor_ms(bodies)

    with start_server() as server:
        client = boto3.client(
            "s3vectors",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        client.create_vector_bucket(vectorBucketName="bench")
        client.create_index(
            vectorBucketName="bench",
            indexName="bench",
            dataType="float32",
            dimension=dim,
            distanceMetric="cosine",
        )
        # The index for the queries below is loaded in-process (untimed). boto3 needs about 1 s of
        # client CPU to serialise one batch of 500 x 768 floats, so its end-to-end rate is
        # measured on a few batches only.
        for body in bodies:
            assert server.emulator.handle("POST", "/PutVectors", {}, {}, body).status == 200
        e2e_rate = put_boto3(client, matrix[: BATCH * 4], "e2e")

        http_ms = []
        for probe in probes:
            t = time.perf_counter()
            result = client.query_vectors(
                vectorBucketName="bench",
                indexName="bench",
                topK=top_k,
                queryVector={"float32": probe.tolist()},
                returnDistance=True,
            )
            http_ms.append((time.perf_counter() - t) * 1000.0)
            assert len(result["vectors"]) == min(top_k, count)

        filtered_ms = []
        for probe in probes:
            t = time.perf_counter()
            result = client.query_vectors(
                vectorBucketName="bench",
                indexName="bench",
                topK=top_k,
                queryVector={"float32": probe.tolist()},
                filter={"n": {"$gte": count // 2}},
            )
            filtered_ms.append((time.perf_counter() - t) * 1000.0)
            assert len(result["vectors"]) == min(top_k, count - count // 2)

        index = server.emulator.state.index("us-east-1", "bench", "bench")
        model_ms = []
        for probe in probes:
            t = time.perf_counter()
            index.query(probe, top_k, None)
            model_ms.append((time.perf_counter() - t) * 1000.0)

    naive_ms = naive_query_ms(matrix, probes[0], top_k, sample=min(count, 2_000))
    http_median = statistics.median(http_ms)
    model_median = statistics.median(model_ms)
    baseline, _ = rates["plain JSON (baseline)"]
    for label, (rate, width) in rates.items():
        versus = f"{rate / baseline:.2f}x the plain-JSON baseline, " if width == dim else ""
        print(
            f"PutVectors over HTTP, {label}, dimension {width}, batches of {BATCH}: {rate:,.0f} "
            f"vectors/s; {versus}{rate / PUT_TARGET_PER_S:.2f}x the {PUT_TARGET_PER_S:,.0f}/s "
            "target"
        )
    print(
        f"floor: simdjson alone parses one {dim}-d body of {BATCH} vectors in {floor_ms:.1f} ms "
        f"(median), a ceiling of {BATCH * 1000.0 / floor_ms:,.0f} vectors/s for one process"
    )
    print(
        f"PutVectors end-to-end with boto3, dimension {dim}: {e2e_rate:,.0f} vectors/s "
        "(bound by botocore's client-side serialisation)"
    )
    print(
        f"QueryVectors topK={top_k} over HTTP (boto3): median {http_median:.1f} ms, "
        f"p90 {np.percentile(http_ms, 90):.1f} ms; target {QUERY_TARGET_MS:.0f} ms, "
        f"ratio {QUERY_TARGET_MS / http_median:.2f}x under target"
    )
    print(f"QueryVectors in-model: median {model_median:.1f} ms")
    print(
        f"QueryVectors with a filter over HTTP: median {statistics.median(filtered_ms):.1f} ms "
        f"(first, building the metadata column: {filtered_ms[0]:.1f} ms)"
    )
    print(
        f"baseline: naive pure-Python kNN scaled to {count} vectors: {naive_ms:,.0f} ms; "
        f"speed-up {naive_ms / model_median:,.0f}x in-model, {naive_ms / http_median:,.0f}x "
        "over HTTP"
    )
    bench_text(count, 16 if args.quick else TEXT_DIMENSION, queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
