"""Start a Lambda Invoke endpoint process with a chosen handler, for endpoint and fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from s3vl_local.ports import free_port, wait_http_healthy

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def lambda_endpoint(handler: str, timeout_seconds: float = 30.0,
                    extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Yields the endpoint URL of a fresh `python -m s3vl_local.lambda_endpoint` process."""
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        str(REPO_ROOT / p) for p in ("lambda", "local", "tests"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3vl_local.lambda_endpoint", "--port", str(port),
         "--handler", handler, "--timeout-seconds", str(timeout_seconds), *extra_args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_healthy(url + "/_s3vl/health", timeout_s=20)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
