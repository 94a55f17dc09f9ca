"""`make local-up` / `make local-down` on a stack of their own: idempotent, nothing left behind."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from s3vl_local import pg, procs, stack
from s3vl_local.ports import is_listening
from s3vl_local.stack import REPO_ROOT, read_info

STATE_DIR = REPO_ROOT / ".local" / "test-lifecycle"
ENV_KEYS = {"S3VL_DSN", "AWS_ENDPOINT_URL_S3VECTORS", "S3VL_LAMBDA_ENDPOINT", "S3VL_LAMBDA_ARN",
            "S3VL_DEMO_INDEX_ARN", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def make(target: str, sourced: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`make -s target` on this test's stack; `sourced`: variables of a stack.env the shell had
    sourced (as the README tells users to do)."""
    env = dict(os.environ, S3VL_STATE_DIR=str(STATE_DIR), **(sourced or {}))
    proc = subprocess.run(["make", "-s", target], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"make {target} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def ports_and_pids() -> tuple[list[int], list[int]]:
    info = read_info(STATE_DIR)
    assert info is not None
    pg_port = pg.cluster_port(pg.cluster_paths(STATE_DIR))
    assert pg_port is not None
    ports = [int(info.s3vectors_endpoint.rsplit(":", 1)[1]),
             int(info.lambda_endpoint.rsplit(":", 1)[1]), pg_port]
    pids = [procs.read_pid(STATE_DIR / f"{name}.pid") or -1 for name in ("emulator", "lambda")]
    return ports, pids


@pytest.mark.stack  # starts a stack of its own with make local-up
def test_local_up_is_idempotent_and_local_down_leaves_nothing() -> None:
    try:
        make("local-up")
        env = read_env_file(STATE_DIR / "stack.env")
        assert set(env) >= ENV_KEYS
        assert env["AWS_ACCESS_KEY_ID"] == "testing"
        ports, pids = ports_and_pids()
        assert all(is_listening(p) for p in ports)

        make("local-up")  # again: same processes, same ports
        assert ports_and_pids() == (ports, pids)
        report = stack.status(STATE_DIR)
        assert report["emulator"]["healthy"] and report["lambda"]["healthy"]
        assert report["postgres"]["port"] == ports[2]

        down = make("local-down")
        for what in ("S3 Vectors emulator", "Lambda endpoint", f"PostgreSQL (port {ports[2]})"):
            assert f"[stack] stopped {what}" in down.stderr, down.stderr
        assert not any(is_listening(p) for p in ports), "a port is still listening"
        assert not any(procs.pid_alive(pid) for pid in pids), "a process survived"
        assert pg.cluster_port(pg.cluster_paths(STATE_DIR)) is None
        assert not (STATE_DIR / "stack.env").exists()

        again = make("local-down")  # again: nothing to stop, no error
        assert "[stack] nothing was running" in again.stderr, again.stderr
    finally:
        subprocess.run(["make", "-s", "local-down"], cwd=REPO_ROOT, check=False,
                       env=dict(os.environ, S3VL_STATE_DIR=str(STATE_DIR)),
                       capture_output=True)
        pg.stop_cluster(STATE_DIR, remove=True)


@pytest.mark.stack  # starts a stack of its own with make local-up
def test_a_shell_that_sourced_stack_env_manages_the_same_stack() -> None:
    """README: `source .local/stack.env`. `make local-up` / `local-down` from that shell must still
    start and stop the stack's own PostgreSQL (its S3VL_DSN is not a server of the user's), and
    the PostgreSQL port stays the same across down/up, so the sourced DSN keeps working."""
    try:
        make("local-up")
        sourced = read_env_file(STATE_DIR / "stack.env")
        assert sourced["S3VL_STACK_DSN"] == sourced["S3VL_DSN"]
        make("local-up", sourced)
        ports, _ = ports_and_pids()
        assert stack._load_state(STATE_DIR)["postgres_backend"] == "cluster"

        down = make("local-down", sourced)
        assert f"[stack] stopped PostgreSQL (port {ports[2]})" in down.stderr, down.stderr
        assert pg.cluster_port(pg.cluster_paths(STATE_DIR)) is None
        assert not is_listening(ports[2])

        # An older stack.env, without the marker: recognised by the DSN the state dir recorded.
        older = {k: v for k, v in sourced.items() if k != "S3VL_STACK_DSN"}
        up = make("local-up", older)
        assert up.stderr.count("[stack] up") == 1, up.stderr
        assert pg.cluster_port(pg.cluster_paths(STATE_DIR)) == ports[2], "PostgreSQL moved"
        assert read_env_file(STATE_DIR / "stack.env")["S3VL_DSN"] == sourced["S3VL_DSN"]
        down = make("local-down", older)
        assert f"[stack] stopped PostgreSQL (port {ports[2]})" in down.stderr, down.stderr
        assert not is_listening(ports[2])
    finally:
        subprocess.run(["make", "-s", "local-down"], cwd=REPO_ROOT, check=False,
                       env=dict(os.environ, S3VL_STATE_DIR=str(STATE_DIR)),
                       capture_output=True)
        pg.stop_cluster(STATE_DIR, remove=True)


def test_stale_pid_file_of_another_program_is_not_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        pidfile = tmp_path / "emulator.pid"
        pidfile.write_text(f"{other.pid}\n")
        assert procs.running_pid(pidfile) is None
        assert procs.stop_pidfiles([pidfile]) == []
        assert other.poll() is None  # still running
    finally:
        other.kill()
        other.wait()
