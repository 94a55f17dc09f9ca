"""Fixtures shared by every test folder, the `stack` marker, and the Hypothesis profiles.

Only tests that ask for one of the stack fixtures start the local stack (once per session, in its
own state dir `.local/test-stack`, or `.local/test-stack-<worker>` in each pytest-xdist worker, on
its own ports). `S3VL_KEEP_STACK=1` leaves it running after
the session (the next session reuses it). `postgres_server` starts only the stack's PostgreSQL
(no emulator, no Lambda endpoint): what the SQL regress scripts need, so `make test-fast` runs
them.

Every test that uses `local_stack` (directly or through `db`, `fresh_database`, ...) is marked
`stack` here, so `pytest -m "not stack"` (`make test-fast`) never starts the stack; a test that
starts a stack some other way (`make local-up` in a subprocess) writes `pytest.mark.stack` itself.

Hypothesis: with `CI` set (CI=true), the `ci` profile (derandomized: the same examples every run,
so a red build is reproducible); locally the `dev` profile explores new random examples each run.
`HYPOTHESIS_PROFILE=<name>` picks one explicitly.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    import psycopg

    from s3vl_local.stack import StackInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
# Under pytest-xdist (`make test` runs several workers) each worker has a stack of its own: its own
# state dir, PostgreSQL cluster, ports and databases, so no test sees another worker's roles,
# settings, pg_cron jobs or indexes. A plain `pytest` run uses `.local/test-stack`.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_STATE_DIR = REPO_ROOT / ".local" / ("test-stack" + (f"-{_XDIST_WORKER}" if _XDIST_WORKER
                                                        else ""))
TEST_USERS_DIR = TEST_STATE_DIR.with_name(TEST_STATE_DIR.name + ".users")
STACK_FIXTURE = "local_stack"

settings.register_profile("ci", derandomize=True, print_blob=True)
# derandomize spelled out: under CI=true Hypothesis already loaded its own derandomized profile
# as the default, which a profile without the setting would inherit.
settings.register_profile("dev", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes")
                          else "dev"))


# The slowest modules (measured in one process, longest first). In an xdist worker they are
# collected first and `make test` passes --no-loadscope-reorder, so the workers start them first
# and finish together instead of one worker running a minute-long module while the others idle.
# The list only orders the work: a stale entry costs time, never a test.
SLOW_MODULES = (
    "tests/sql/test_sync_schedule.py",  # pg_cron starts jobs on minute boundaries
    "tests/infra/test_deploy_moto.py",  # dozens of AWS CLI processes against moto
    "tests/infra/test_deploy_scripts.py",
    "tests/e2e/test_demo.py",  # the demo (embeddings of 300 products), twice
    "local/s3vectors-emulator/tests/test_install_alone.py",  # pip install into a new venv
    "local/s3vectors-emulator/tests/test_process.py",
    "tests/e2e/test_docs_sql.py",  # `make demo` on the worker's stack
    "tests/e2e/test_readme_cookbook.py",
    "tests/sql/test_write_arrays.py",
    "tests/e2e/test_lambda_endpoint.py",
    "tests/sql/test_invoke_retry.py",
    "tests/bench/test_bench_writes_smoke.py",
    "tests/infra/test_cli_arguments.py",
    "tests/infra/test_package.py",
    "tests/infra/test_package_loadable.py",
    "tests/e2e/test_stack_lifecycle.py",
    "tests/e2e/test_demo_partitions.py",
)


def _xdist_order(items: list[pytest.Item]) -> None:
    """SLOW_MODULES first, then the other modules by number of tests (xdist's own heuristic),
    each module's tests in their order. Deterministic: every worker must collect the same list."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(path: str) -> tuple[int, int]:
        if path in SLOW_MODULES:
            return (0, SLOW_MODULES.index(path))
        return (1, -len(modules[path]))

    items[:] = [item for path in sorted(modules, key=rank) for item in modules[path]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `stack` every test whose fixtures (transitively) include the local stack."""
    for item in items:
        if STACK_FIXTURE in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
                "stack"):
            item.add_marker(pytest.mark.stack)
    if _XDIST_WORKER:
        _xdist_order(items)


@contextmanager
def _stack_lock() -> Iterator[None]:
    """Serialises start/stop of the test stack between pytest sessions running at the same time
    (one lock per stack: xdist workers start theirs side by side)."""
    TEST_STATE_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(TEST_STATE_DIR.with_name(TEST_STATE_DIR.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _shared_test_stack() -> Iterator[None]:
    """Registers this session as a user of the test stack while the body runs; the last session
    to leave stops it (PostgreSQL and, if started, the emulator and Lambda endpoint)."""
    # One token per fixture (pid.n): local_stack and postgres_server of one session each hold
    # their own, so the first of them torn down does not count the session as gone.
    me = TEST_USERS_DIR / f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    with _stack_lock():
        TEST_USERS_DIR.mkdir(parents=True, exist_ok=True)
        me.touch()
    try:
        yield
    finally:
        _leave(me)


def _leave(me: Path) -> None:
    from s3vl_local import procs, stack

    with _stack_lock():
        me.unlink(missing_ok=True)
        others = []
        for user in TEST_USERS_DIR.iterdir():
            pid = user.name.split(".", 1)[0]
            if pid.isdigit() and procs.pid_alive(int(pid)):
                others.append(user)
            else:
                user.unlink(missing_ok=True)
        if not others and os.environ.get("S3VL_KEEP_STACK") != "1":
            stack.down(TEST_STATE_DIR, remove=True)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[StackInfo]:
    """The running local stack: emulator + Lambda endpoint + PostgreSQL, s3vl configured.

    Sessions that run at the same time share it; the last one to finish stops it.
    """
    from s3vl_local import stack

    with _shared_test_stack():
        with _stack_lock():
            info = stack.up(TEST_STATE_DIR)
        yield info


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Callable[[str], str]]:
    """Factory: the superuser DSN of a database on the test stack's PostgreSQL, started alone.

    The same cluster `local_stack` uses (it reuses a running one), so a session that needs both
    runs one server. With S3VL_DSN or S3VL_POSTGRES=docker the whole stack provides it.
    """
    from s3vl_local import pg, stack

    with _shared_test_stack():
        with _stack_lock():
            factory: Callable[[str], str]
            if pg.select_backend(stack.postgres_env({})) == "cluster":
                factory = partial(pg.cluster_dsn, pg.start_cluster(
                    TEST_STATE_DIR, cron_database=stack.DATABASE))
            else:
                factory = stack.up(TEST_STATE_DIR).admin_dsn
        yield factory


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
