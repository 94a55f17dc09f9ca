"""The package installs alone into a fresh virtualenv (`pip install <folder>`, pip's cache on)
and its three entry points work there: the server module, `mock_s3vectors()` and the pytest
plugin's fixtures. Nothing of s3vl is on that venv's path, so an import of it would fail."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

MOCK_SCRIPT = """
import boto3
from s3vectors_emulator import mock_s3vectors

@mock_s3vectors()
def run():
    client = boto3.client("s3vectors", region_name="us-east-1")
    client.create_vector_bucket(vectorBucketName="alone")
    ref = {"vectorBucketName": "alone", "indexName": "idx"}
    client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="cosine")
    client.put_vectors(**ref, vectors=[{"key": "a", "data": {"float32": [1.0, 0.0]}},
                                       {"key": "b", "data": {"float32": [0.0, 1.0]}}])
    found = client.query_vectors(**ref, topK=1, queryVector={"float32": [0.9, 0.1]})
    print("nearest", found["vectors"][0]["key"])

run()
with mock_s3vectors():
    fresh = boto3.client("s3vectors", region_name="us-east-1")
    print("fresh", fresh.list_vector_buckets()["vectorBuckets"])
"""

PLUGIN_TEST = """
def test_fixtures(s3vectors_client, s3vectors_endpoint):
    assert s3vectors_endpoint.startswith("http://127.0.0.1:")
    assert s3vectors_client.list_vector_buckets()["vectorBuckets"] == []
    s3vectors_client.create_vector_bucket(vectorBucketName="first")

def test_state_is_fresh_per_test(s3vectors_client):
    assert s3vectors_client.list_vector_buckets()["vectorBuckets"] == []
"""


def test_the_package_imports_nothing_of_s3vl() -> None:
    for path in (PACKAGE_ROOT / "s3vectors_emulator").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            assert not [n for n in names if n.split(".")[0].startswith("s3vl")], (path, names)


@pytest.mark.slow
def test_installs_alone_and_its_three_entry_points_work(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # A copy: building from the source folder would leave build files in the checkout.
    source = tmp_path / "s3vectors-emulator"
    shutil.copytree(
        PACKAGE_ROOT, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--progress-bar", "off", str(source), "pytest"],
        check=True, timeout=600, env=env, cwd=tmp_path,
    )
    # 1. python -m s3vectors_emulator
    server = subprocess.Popen(
        [python, "-m", "s3vectors_emulator", "--host", "127.0.0.1", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.fullmatch(r"s3vectors-emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        probe = (
            "import boto3, sys; c = boto3.client('s3vectors', region_name='us-east-1', "
            "endpoint_url=sys.argv[1], aws_access_key_id='x', aws_secret_access_key='x'); "
            "c.create_vector_bucket(vectorBucketName='served'); "
            "print([b['vectorBucketName'] for b in c.list_vector_buckets()['vectorBuckets']])"
        )
        out = subprocess.run([python, "-c", probe, match[1]], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
        assert out.stdout.strip() == "['served']", out.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert (tmp_path / "data").is_dir()  # --data-dir: the state was saved on exit
    # 2. mock_s3vectors(), as a decorator and a context manager, with no endpoint URL.
    script = tmp_path / "mock_use.py"
    script.write_text(MOCK_SCRIPT)
    out = subprocess.run([python, str(script)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["nearest a", "fresh []"]
    # 3. The pytest plugin, found through its entry point (no conftest, no -p).
    tests = tmp_path / "plugin_use"
    tests.mkdir()
    (tests / "test_plugin_use.py").write_text(textwrap.dedent(PLUGIN_TEST))
    (tests / "pytest.ini").write_text("[pytest]\n")
    out = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True, text=True, env=env, cwd=tests, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
