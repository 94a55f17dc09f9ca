"""Load through the whole local path at twice the Lambda endpoint's concurrency: 16 sessions
querying and 2 writing against an endpoint that runs 8 invocations at once (a reserved concurrency;
beyond it Lambda answers 429 TooManyRequestsException). s3vl retries throttled invocations with
jittered backoff: no query fails and no write is lost. Bounded (a fixed number of statements, a
statement timeout), loopback only."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from e2e.lambda_endpoint_helpers import lambda_endpoint
from s3vl_local import standin
from s3vl_local.stack import StackInfo, install_s3vl_schema

CONCURRENCY = 8
READERS = 16
WRITERS = 2
QUERIES_PER_READER = 30
WRITES_PER_WRITER = 20
DIMENSION = 8

pytestmark = pytest.mark.stack


@pytest.fixture
def loaded(local_stack: StackInfo) -> Iterator[tuple[str, str, str, Any]]:
    """(dsn, index name, endpoint url, s3vectors client): a database of its own whose aws_lambda
    goes to an endpoint of its own with the real function and CONCURRENCY environments."""
    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    index = f"load-{uuid.uuid4().hex[:10]}"
    client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index,
                        dataType="float32", dimension=DIMENSION, distanceMetric="cosine")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index
    client.put_vectors(indexArn=arn, vectors=[
        {"key": f"seed-{i}", "data": {"float32": [float(i + j) for j in range(DIMENSION)]}}
        for i in range(50)])
    dbname = f"s3vl_load_{uuid.uuid4().hex[:10]}"
    args = ("--max-concurrency", str(CONCURRENCY), "--latency-ms", "15",
            "--s3vectors-endpoint", local_stack.s3vectors_endpoint)
    with lambda_endpoint("s3vl_lambda.handler:lambda_handler", extra_args=args) as url:
        with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        dsn = local_stack.admin_dsn(dbname)
        try:
            standin.install(dsn, url)
            install_s3vl_schema(dsn)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SELECT s3vl.configure(%s)", (local_stack.lambda_arn,))
                conn.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
            yield dsn, index, url, client
        finally:
            with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(dbname)))
            client.delete_index(indexArn=arn)


def health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_s3vl/health", timeout=5) as r:
        answer: dict[str, Any] = json.loads(r.read())
        return answer


def test_twice_the_concurrency_fails_no_query_and_loses_no_write(
        loaded: tuple[str, str, str, Any], local_stack: StackInfo) -> None:
    dsn, index, url, client = loaded
    failures: list[str] = []
    done = {"queries": 0, "writes": 0}
    lock = threading.Lock()
    start = threading.Barrier(READERS + WRITERS)

    def run(kind: str, worker: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '40s'")
            start.wait()
            count = QUERIES_PER_READER if kind == "read" else WRITES_PER_WRITER
            for i in range(count):
                vec = [float((worker * 7 + i + j) % 11) + 0.5 for j in range(DIMENSION)]
                try:
                    if kind == "read":
                        rows = conn.execute("SELECT vector_id FROM s3vl.query_vectors(%s, %s, "
                                            "top_k => 5)", (vec, index)).fetchall()
                        assert len(rows) == 5
                    else:
                        conn.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => %s, "
                                     "vector => %s)",
                                     (index, f"w{worker}-{i}", vec))
                except (psycopg.Error, AssertionError) as exc:
                    with lock:
                        failures.append(f"{kind} {worker}/{i}: {exc}")
                    continue
                with lock:
                    done["queries" if kind == "read" else "writes"] += 1

    threads = [threading.Thread(target=run, args=("read", w)) for w in range(READERS)]
    threads += [threading.Thread(target=run, args=("write", w)) for w in range(WRITERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads)
    throttled = health(url)["throttled"]
    print(f"\n{READERS} readers + {WRITERS} writers at concurrency {CONCURRENCY}: "
          f"{done['queries']} queries, {done['writes']} writes in {elapsed:.1f} s; "
          f"{throttled} invocations throttled (429) and retried; {len(failures)} failures")
    assert failures == [], "\n".join(failures)
    assert done == {"queries": READERS * QUERIES_PER_READER,
                    "writes": WRITERS * WRITES_PER_WRITER}
    assert throttled > 0  # the endpoint did throttle: the retries are what kept failures at 0
    keys: set[str] = set()
    token: str | None = None
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index
    while True:
        page = client.list_vectors(indexArn=arn, maxResults=1000,
                                   **({"nextToken": token} if token else {}))
        keys.update(v["key"] for v in page["vectors"])
        token = page.get("nextToken")
        if not token:
            break
    written = {f"w{w}-{i}" for w in range(WRITERS) for i in range(WRITES_PER_WRITER)}
    assert written <= keys, f"lost writes: {sorted(written - keys)[:10]}"
