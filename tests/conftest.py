"""Fixtures shared by every test folder.

Only tests that ask for one of the stack fixtures start the local stack (once per session, in its
own state dir `.local/test-stack`, on its own ports). `S3VL_KEEP_STACK=1` leaves it running after
the session (the next session reuses it).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

    from s3vl_local.stack import StackInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_STATE_DIR = REPO_ROOT / ".local" / "test-stack"
TEST_USERS_DIR = REPO_ROOT / ".local" / "test-stack.users"


@contextmanager
def _stack_lock() -> Iterator[None]:
    """Serialises start/stop of the test stack between pytest sessions running at the same time."""
    TEST_STATE_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(TEST_STATE_DIR.parent / "test-stack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[StackInfo]:
    """The running local stack: emulator + Lambda endpoint + PostgreSQL, s3vl configured.

    Sessions that run at the same time share it; the last one to finish stops it.
    """
    from s3vl_local import procs, stack

    me = TEST_USERS_DIR / str(os.getpid())
    with _stack_lock():
        info = stack.up(TEST_STATE_DIR)
        TEST_USERS_DIR.mkdir(parents=True, exist_ok=True)
        me.touch()
    yield info
    with _stack_lock():
        me.unlink(missing_ok=True)
        others = []
        for user in TEST_USERS_DIR.iterdir():
            if user.name.isdigit() and procs.pid_alive(int(user.name)):
                others.append(user)
            else:
                user.unlink(missing_ok=True)
        if not others and os.environ.get("S3VL_KEEP_STACK") != "1":
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
