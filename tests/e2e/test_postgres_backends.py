"""How the local stack chooses its PostgreSQL, and the clear error when Docker is absent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from s3vl_local import pg, stack
from s3vl_local.stack import REPO_ROOT, StackInfo


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "cluster"),
    ({"S3VL_POSTGRES": "local"}, "cluster"),
    ({"S3VL_POSTGRES": "docker"}, "docker"),
    ({"S3VL_POSTGRES": "Docker "}, "docker"),
    ({"S3VL_DSN": "postgresql://u@db.example/x"}, "dsn"),
    ({"S3VL_DSN": "postgresql://u@db.example/x", "S3VL_POSTGRES": "docker"}, "dsn"),
])
def test_backend_selection(env: dict[str, str], expected: str) -> None:
    assert pg.select_backend(env) == expected


def test_unknown_backend_is_named() -> None:
    with pytest.raises(pg.PostgresUnavailable, match="S3VL_POSTGRES='podman'"):
        pg.select_backend({"S3VL_POSTGRES": "podman"})


def test_docker_absent_fails_before_anything_starts(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("S3VL_POSTGRES", "docker")
    monkeypatch.delenv("S3VL_DSN", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(pg.PostgresUnavailable, match="Docker is not reachable"):
        stack.up(tmp_path / "state")
    # Nothing was started: no pid files, no state.
    assert list((tmp_path / "state").glob("*.pid")) == []
    assert stack.main(["up", "--state-dir", str(tmp_path / "state")]) == 1


def test_cluster_files_live_where_the_cluster_user_can_reach(tmp_path: Path) -> None:
    paths = pg.cluster_paths(tmp_path / "state")
    if pg.running_as_root():
        assert str(paths.root).startswith("/tmp/s3vl-")
        assert paths == pg.cluster_paths(tmp_path / "state")  # stable per state dir
        assert paths != pg.cluster_paths(tmp_path / "other")
    else:
        assert paths.root == (tmp_path / "state").resolve() / "pg"
    assert pg.find_bindir().name == "bin"
    assert (pg.find_bindir().parent / "lib" / "plpython3.so").exists()


def test_existing_server_from_s3vl_dsn_is_used_and_left_running(
        monkeypatch: pytest.MonkeyPatch, fresh_database: Callable[[], str],
        local_stack: StackInfo) -> None:
    dsn = fresh_database()
    monkeypatch.setenv("S3VL_DSN", dsn)
    state_dir = REPO_ROOT / ".local" / "test-dsn-backend"
    try:
        info = stack.up(state_dir)
        assert info.dsn == dsn
        assert info.lambda_endpoint != local_stack.lambda_endpoint  # its own endpoint
        with psycopg.connect(dsn, autocommit=True) as conn:
            answer = conn.execute("SELECT payload FROM aws_lambda.invoke(%s, "
                                  "'{\"operation\": \"availability_check\"}'::jsonb)",
                                  (info.lambda_arn,)).fetchone()
            assert answer is not None and answer[0]["success"] is True
            assert conn.execute("SELECT s3vl.resolve_index_arn('products')").fetchone() == (
                info.index_arn,)
    finally:
        stack.down(state_dir, remove=True)
    # The server named by S3VL_DSN is not ours to stop.
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
