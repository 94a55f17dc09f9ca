"""s3vl.query_vectors_where through the whole local stack: SQL -> aws_lambda stand-in -> Lambda
endpoint -> handler (page_token / max_pages) -> S3 Vectors emulator (nextToken pages).

An index of 2,500 random vectors and a table whose `bucket` column (0-99, independent of the
vectors) gives predicates of known selectivity; answers are checked against numpy's exact ones,
and the function's DEBUG line says how many candidates and invocations each answer cost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from s3vl_local.stack import StackInfo
from sql.sql_helpers import expect_error

pytestmark = pytest.mark.stack

N = 2500
DIMENSION = 8
TABLE = "e2e_where_items"


class WhereIndex:
    def __init__(self, name: str, vectors: np.ndarray, buckets: np.ndarray) -> None:
        self.name = name
        self.vectors = vectors
        self.buckets = buckets

    def exact(self, query: np.ndarray, passes: np.ndarray, k: int) -> list[str]:
        unit = self.vectors / np.linalg.norm(self.vectors, axis=1, keepdims=True)
        dist = 1.0 - unit @ (query / np.linalg.norm(query))
        return [str(i + 1) for i in np.argsort(dist, kind="stable") if passes[i]][:k]


@pytest.fixture(scope="module")
def where_index(local_stack: StackInfo) -> Iterator[WhereIndex]:
    import boto3

    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    name = f"e2e-where-{uuid.uuid4().hex[:8]}"
    client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                        dataType="float32", dimension=DIMENSION, distanceMetric="cosine")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((N, DIMENSION)).astype(np.float32)
    buckets = rng.integers(0, 100, N)
    assert (buckets < 1).sum() >= 10  # every predicate below has at least top_k passing rows
    for start in range(0, N, 500):
        client.put_vectors(indexArn=arn, vectors=[
            {"key": str(i + 1), "data": {"float32": vectors[i].tolist()},
             "metadata": {"half": int(buckets[i] % 2)}}
            for i in range(start, min(N, start + 500))])
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, bucket integer)")
        with conn.cursor().copy(f"COPY {TABLE} FROM STDIN") as copy:
            for i in range(N):
                copy.write_row((i + 1, int(buckets[i])))
    yield WhereIndex(name, vectors, buckets)
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute("SELECT s3vl.unregister_index(%s)", (name,))
    client.delete_index(indexArn=arn)


def query(db: psycopg.Connection[Any], index: WhereIndex, q: np.ndarray, predicate: str,
          k: int, **kw: Any) -> tuple[list[str], int, int]:
    """The keys, and the candidates and invocations from the function's DEBUG line."""
    kw.setdefault("strategy", "iterative")  # the paged plan these tests are about
    lines: list[str] = []
    db.add_notice_handler(lambda d: lines.append(d.message_primary or ""))
    db.execute("SET client_min_messages = debug1")
    extra = "".join(f", {name} => %({name})s" for name in kw)
    rows = db.execute(
        "SELECT key FROM s3vl.query_vectors_where(%(q)s::float8[], %(t)s, 'id', %(p)s, "
        "top_k => %(k)s, "
        f"index_name => %(i)s{extra})",
        {"q": q.tolist(), "t": TABLE, "p": predicate, "k": k, "i": index.name, **kw}).fetchall()
    db.execute("RESET client_min_messages")
    words = next(line for line in lines if " candidates in " in line).split()
    return ([r[0] for r in rows], int(words[words.index("from") + 1]),
            int(words[words.index("in") + 1]))


@pytest.mark.parametrize("percent", [50, 10, 1])
def test_exact_k_through_the_stack(db: psycopg.Connection[Any], where_index: WhereIndex,
                                   percent: int) -> None:
    q = np.random.default_rng(percent).standard_normal(DIMENSION).astype(np.float32)
    keys, candidates, _ = query(db, where_index, q, f"bucket < {percent}", 10)
    assert keys == where_index.exact(q, where_index.buckets < percent, 10)
    assert len(keys) == 10
    assert candidates <= N


def test_reads_only_the_pages_it_needs(db: psycopg.Connection[Any],
                                       where_index: WhereIndex) -> None:
    q = np.random.default_rng(3).standard_normal(DIMENSION).astype(np.float32)
    # 50 %: the first invocation (one page) holds 5 passing rows.
    keys, candidates, calls = query(db, where_index, q, "bucket < 50", 5)
    assert keys == where_index.exact(q, where_index.buckets < 50, 5)
    assert calls == 1 and candidates < N
    # 2 %: more candidates, over more than one invocation, still not the whole index.
    keys, candidates, calls = query(db, where_index, q, "bucket < 2", 5)
    assert keys == where_index.exact(q, where_index.buckets < 2, 5)
    assert calls >= 2 and candidates < N


def test_bounded_answer_with_metadata_filter(db: psycopg.Connection[Any],
                                             where_index: WhereIndex) -> None:
    q = np.random.default_rng(5).standard_normal(DIMENSION).astype(np.float32)
    passes = (where_index.buckets < 20) & (where_index.buckets % 2 == 0)
    keys, _, _ = query(db, where_index, q, "bucket < 20", 10,
                                metadata_filter='{"half": 0}')
    assert keys == where_index.exact(q, passes, 10)
    keys, candidates, _ = query(db, where_index, q, "bucket < 1", 10, max_candidates=200)
    assert candidates == 200
    assert keys == where_index.exact(q, where_index.buckets < 1, 10)[:len(keys)]
    assert len(keys) < 10


def test_reader_predicate_cannot_read_config(db: psycopg.Connection[Any],
                                             where_index: WhereIndex) -> None:
    role = f"s3vl_w_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE s3vl_reader')
    db.execute(f'GRANT SELECT ON {TABLE} TO "{role}"')
    try:
        db.execute(f'SET ROLE "{role}"')
        q = [1.0] * DIMENSION
        rows = db.execute(f"SELECT count(*) FROM s3vl.query_vectors_where(%s::float8[], "
                          f"'{TABLE}', 'id', 'bucket < 10', top_k => 3, index_name => %s)",
                          (q, where_index.name)).fetchone()
        assert rows == (3,)
        expect_error(db, f"SELECT * FROM s3vl.query_vectors_where(%s::float8[], '{TABLE}', "
                     "'id', 'bucket < (SELECT count(*) FROM s3vl.config)', "
                     "index_name => %s)", [q, where_index.name], "42501", "config")
    finally:
        db.execute("RESET ROLE")
        db.execute(f'DROP OWNED BY "{role}"')
        db.execute(f'DROP ROLE "{role}"')
