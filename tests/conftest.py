"""Fixtures shared by every test folder.

Only tests that ask for one of the stack fixtures start the local stack (once per session, in its
own state dir `.local/test-stack`, on its own ports). `S3VL_KEEP_STACK=1` leaves it running after
the session (the next session reuses it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg
    from s3vl_local.stack import StackInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_STATE_DIR = REPO_ROOT / ".local" / "test-stack"


@pytest.fixture(scope="session")
def local_stack() -> Iterator[StackInfo]:
    """The running local stack: emulator + Lambda endpoint + PostgreSQL, s3vl configured."""
    from s3vl_local import stack

    info = stack.up(TEST_STATE_DIR)
    yield info
    if os.environ.get("S3VL_KEEP_STACK") != "1":
        stack.down(TEST_STATE_DIR, remove=True)


@pytest.fixture
def db(local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg connection (superuser) to the stack database."""
    import psycopg

    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_database(local_stack: StackInfo) -> Iterator[Callable[[], str]]:
    """Factory: a new empty database with the aws_lambda stand-in and endpoint set; returns its DSN.

    Every database it made is dropped at the end of the test.
    """
    import psycopg
    from psycopg import sql
    from s3vl_local import standin

    made: list[str] = []
    admin_dsn = local_stack.admin_dsn("postgres")

    def make() -> str:
        name = f"s3vl_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        dsn = local_stack.admin_dsn(name)
        standin.install(dsn, local_stack.lambda_endpoint)
        return dsn

    yield make
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def s3vectors_client(local_stack: StackInfo) -> Any:
    """A boto3 `s3vectors` client against the stack's emulator (dummy credentials)."""
    import boto3

    return boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                        region_name=local_stack.region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")
