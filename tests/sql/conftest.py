"""Fixtures for the SQL tests: a small test index in the emulator, and canned databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import make_canned_db

DIMENSION = 3
# key -> (vector, metadata); cosine distances to [1, 0, 0] are 0, 0.2, 1, 2 (1 - cos).
TEST_VECTORS: dict[str, tuple[list[float], dict[str, Any]]] = {
    "doc-1": ([1.0, 0.0, 0.0], {"genre": "news", "year": 2024}),
    "doc-2": ([0.8, 0.6, 0.0], {"genre": "news", "year": 2023}),
    "doc-3": ([0.0, 1.0, 0.0], {"genre": "sport", "year": 2024}),
    "doc-4": ([-1.0, 0.0, 0.0], {"genre": "sport", "year": 2020}),
}
PAGED_COUNT = 23


class SqlIndex:
    """A registered dimension-3 cosine index with TEST_VECTORS, and a larger one for paging."""

    def __init__(self, name: str, arn: str, paged_name: str, paged_arn: str) -> None:
        self.name = name
        self.arn = arn
        self.paged_name = paged_name
        self.paged_arn = paged_arn


@pytest.fixture(scope="session")
def sql_index(local_stack: Any) -> Iterator[SqlIndex]:
    import boto3

    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    suffix = uuid.uuid4().hex[:8]
    names = {"small": f"sqltest-{suffix}", "paged": f"sqlpaged-{suffix}"}
    arns = {}
    for kind, name in names.items():
        client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                            dataType="float32", dimension=DIMENSION, distanceMetric="cosine")
        arns[kind] = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    client.put_vectors(indexArn=arns["small"], vectors=[
        {"key": k, "data": {"float32": v}, "metadata": m} for k, (v, m) in TEST_VECTORS.items()])
    client.put_vectors(indexArn=arns["paged"], vectors=[
        {"key": f"p-{i:03d}", "data": {"float32": [1.0, float(i), 0.5]}, "metadata": {"i": i}}
        for i in range(PAGED_COUNT)])
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        for kind, name in names.items():
            conn.execute("SELECT s3vl.register_index(%s, %s, 'sql tests')", (name, arns[kind]))
    yield SqlIndex(names["small"], arns["small"], names["paged"], arns["paged"])
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM s3vl.index_registry WHERE index_name = ANY(%s)",
                     (list(names.values()),))
    for arn in arns.values():
        client.delete_index(indexArn=arn)


@pytest.fixture(scope="session")
def canned_template(local_stack: Any) -> Iterator[str]:
    """The name of a database built once per session by make_canned_db, never connected to again:
    the template every `canned` database is copied from."""
    name = f"s3vl_canned_tpl_{uuid.uuid4().hex[:10]}"
    make_canned_db(local_stack.admin_dsn, name)
    yield name
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def canned(local_stack: Any, canned_template: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to a fresh database whose aws_lambda.invoke answers from canned.answers.

    A copy of `canned_template` (CREATE DATABASE ... TEMPLATE): the same catalog and rows as
    running make_canned_db again (it keeps nothing outside the database: no ALTER DATABASE
    settings, no database grants), in a tenth of the time."""
    name = f"s3vl_canned_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{canned_template}"')
    with psycopg.connect(local_stack.admin_dsn(name), autocommit=True) as conn:
        yield conn
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
