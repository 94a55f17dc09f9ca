"""Fixtures shared by the writes, batch and cache tests: a database of their own (so clearing the
cache or writing cannot disturb other tests) with s3vl installed, configured against the local
stack, and fresh emulator indexes registered in it. No tests here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import install


class WriteDb:
    """A connection to an own database, and a factory for new registered indexes."""

    def __init__(self, conn: psycopg.Connection[Any], client: Any, bucket_arn: str,
                 bucket_name: str) -> None:
        self.conn = conn
        self.client = client
        self.bucket_arn = bucket_arn
        self.bucket_name = bucket_name
        self.made: list[str] = []

    def new_index(self, dimension: int = 3, metric: str = "cosine",
                  non_filterable: list[str] | None = None) -> tuple[str, str]:
        """Create an emulator index, register it under its name; returns (name, arn)."""
        name = f"w-{uuid.uuid4().hex[:12]}"
        extra: dict[str, Any] = {}
        if non_filterable:
            extra["metadataConfiguration"] = {"nonFilterableMetadataKeys": non_filterable}
        self.client.create_index(vectorBucketName=self.bucket_name, indexName=name,
                                 dataType="float32", dimension=dimension,
                                 distanceMetric=metric, **extra)
        arn = f"{self.bucket_arn}/index/{name}"
        self.made.append(arn)
        self.conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
        return name, arn

    def count(self, arn: str) -> int:
        total = 0
        token: str | None = None
        while True:
            page = self.client.list_vectors(indexArn=arn, maxResults=1000,
                                            **({"nextToken": token} if token else {}))
            total += len(page["vectors"])
            token = page.get("nextToken")
            if not token:
                return total


@pytest.fixture(scope="module")
def wdb(local_stack: Any) -> Iterator[WriteDb]:
    import boto3

    name = f"s3vl_writes_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = local_stack.admin_dsn(name)
    from s3vl_local import standin

    standin.install(dsn, local_stack.lambda_endpoint)
    install(dsn)
    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    bucket_arn = local_stack.index_arn.split("/index/")[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure(%s)", (local_stack.lambda_arn,))
        db = WriteDb(conn, client, bucket_arn, local_stack.bucket_name)
        yield db
    for arn in db.made:
        client.delete_index(indexArn=arn)
    with psycopg.connect(local_stack.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
