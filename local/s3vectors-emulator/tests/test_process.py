"""`python -m s3vectors_emulator`: port 0 announcement, clean SIGTERM exit, persistence."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np
import pytest

from emulator_helpers import make_client

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def emulator_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3vectors_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"s3vectors-emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, (
            f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
        yield proc, match[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=20)


def test_port_zero_health_and_clean_sigterm() -> None:
    with emulator_process() as (proc, url):
        with urlopen(f"{url}/_s3vl/health") as response:
            assert json.loads(response.read()) == {"status": "ok"}
        client = make_client(url)
        client.create_vector_bucket(vectorBucketName="alive")
        assert stop(proc) == 0


def test_sigint_also_exits_cleanly() -> None:
    with emulator_process() as (proc, _url):
        assert stop(proc, signal.SIGINT) == 0


def test_data_survives_restart_with_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "emulator-data"
    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((50, 4)).astype(np.float32)
    query = {"float32": [1.0, 0.5, -0.5, 0.0]}
    ref = {"vectorBucketName": "keep", "indexName": "idx"}
    with emulator_process("--data-dir", str(data_dir)) as (proc, url):
        client = make_client(url)
        client.create_vector_bucket(vectorBucketName="keep", tags={"t": "1"})
        client.create_index(
            **ref,
            dataType="float32",
            dimension=4,
            distanceMetric="cosine",
            metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
        )
        client.put_vectors(
            **ref,
            vectors=[
                {"key": f"k{i}", "data": {"float32": row}, "metadata": {"i": i, "body": "x" * i}}
                for i, row in enumerate(matrix.tolist())
            ],
        )
        client.delete_vectors(**ref, keys=["k3"])
        before = client.query_vectors(
            **ref, topK=10, queryVector=query, returnDistance=True, returnMetadata=True
        )["vectors"]
        assert stop(proc) == 0
    with emulator_process("--data-dir", str(data_dir)) as (proc, url):
        client = make_client(url)
        after = client.query_vectors(
            **ref, topK=10, queryVector=query, returnDistance=True, returnMetadata=True
        )["vectors"]
        assert after == before
        index = client.get_index(**ref)["index"]
        assert index["metadataConfiguration"]["nonFilterableMetadataKeys"] == ["body"]
        assert len(client.list_vectors(**ref)["vectors"]) == 49
        arn = client.get_vector_bucket(vectorBucketName="keep")["vectorBucket"]["vectorBucketArn"]
        assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"t": "1"}
        # the restored index still accepts writes and grows
        client.put_vectors(**ref, vectors=[{"key": "new", "data": {"float32": [1, 1, 1, 1]}}])
        assert len(client.list_vectors(**ref)["vectors"]) == 50
        assert stop(proc) == 0


def test_without_data_dir_nothing_survives() -> None:
    with emulator_process() as (proc, url):
        make_client(url).create_vector_bucket(vectorBucketName="gone")
        assert stop(proc) == 0
    with emulator_process() as (proc, url):
        names: list[Any] = make_client(url).list_vector_buckets()["vectorBuckets"]
        assert names == []
        assert stop(proc) == 0


def test_snapshot_endpoint_and_autosave_survive_sigkill(tmp_path: Path) -> None:
    import time
    from urllib.request import Request

    data_dir = tmp_path / "killed"
    with emulator_process("--data-dir", str(data_dir)) as (proc, url):
        client = make_client(url)
        client.create_vector_bucket(vectorBucketName="saved-now")
        with urlopen(Request(f"{url}/_s3vl/snapshot", data=b"", method="POST")) as response:
            assert json.loads(response.read()) == {"saved": True}
        client.create_vector_bucket(vectorBucketName="saved-later")
        time.sleep(3.0)  # autosave runs about 2 s after a write
        proc.kill()
        proc.wait(timeout=10)
    with emulator_process("--data-dir", str(data_dir)) as (proc, url):
        names = [
            b["vectorBucketName"] for b in make_client(url).list_vector_buckets()["vectorBuckets"]
        ]
        assert names == ["saved-later", "saved-now"]
        assert stop(proc) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--host must be a loopback address"),
        (["--throttle-rate", "1.5"], "throttle_rate"),
        (["--latency-ms", "-1"], "latency_ms"),
        (["--query-page-size", "0"], "query_page_size"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "s3vectors_emulator", "--port", "0", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_snapshots_rewrite_only_changed_indexes_and_follow_recreation(tmp_path: Path) -> None:
    from s3vectors_emulator import start_server

    data_dir = tmp_path / "incremental"
    ref = {"vectorBucketName": "inc", "indexName": "idx"}
    with start_server(data_dir=data_dir) as handle:
        client = make_client(handle.url)
        client.create_vector_bucket(vectorBucketName="inc")
        client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
        client.create_index(
            vectorBucketName="inc",
            indexName="other",
            dataType="float32",
            dimension=2,
            distanceMetric="euclidean",
        )
        client.put_vectors(**ref, vectors=[{"key": "old", "data": {"float32": [1, 1]}}])
        handle.emulator.save()
        files = {p.name: p.stat().st_ino for p in data_dir.glob("*.npy")}
        assert len(files) == 2
        client.put_vectors(
            vectorBucketName="inc",
            indexName="other",
            vectors=[{"key": "o", "data": {"float32": [2, 2]}}],
        )
        handle.emulator.save()
        after = {p.name: p.stat().st_ino for p in data_dir.glob("*.npy")}
        assert (
            sum(after[name] != files[name] for name in files) == 1
        )  # only "other" rewritten (a rewrite is a new file renamed over the old one)
        # same name, new index, same version number as before: must still be written
        client.delete_index(**ref)
        client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="euclidean")
        client.put_vectors(**ref, vectors=[{"key": "new", "data": {"float32": [3, 3]}}])
    with start_server(data_dir=data_dir) as handle:
        keys = [v["key"] for v in make_client(handle.url).list_vectors(**ref)["vectors"]]
        assert keys == ["new"]


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_classic_buckets_switch(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args: tuple[str, ...] = (
        ("--classic-buckets", "--text-build-seconds", "0") if how == "flag" else ()
    )
    if how == "environment":
        monkeypatch.setenv("S3VL_EMULATOR_CLASSIC_BUCKETS", "true")
    with emulator_process(*args) as (proc, url):
        client = make_client(url)
        client.create_vector_bucket(vectorBucketName="old-bucket")
        bucket = client.get_vector_bucket(vectorBucketName="old-bucket")["vectorBucket"]
        assert bucket["defaultIndexMode"] == "CLASSIC"
        assert bucket["creationTime"].year == 2026 and bucket["creationTime"].month <= 9
        ref = {"vectorBucketName": "old-bucket", "indexName": "idx"}
        client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="cosine")
        assert client.get_index(**ref)["index"]["indexMode"] == "CLASSIC"
        assert stop(proc) == 0
    monkeypatch.delenv("S3VL_EMULATOR_CLASSIC_BUCKETS", raising=False)
    with emulator_process() as (proc, url):
        client = make_client(url)
        client.create_vector_bucket(vectorBucketName="new-bucket")
        bucket = client.get_vector_bucket(vectorBucketName="new-bucket")["vectorBucket"]
        assert bucket["defaultIndexMode"] == "ENHANCED"
        assert stop(proc) == 0


def test_write_limit_and_latency_flags() -> None:
    with emulator_process(
        "--write-requests-per-second", "1", "--latency-ms-op", "GetIndex=1", "--latency-ms", "0"
    ) as (proc, url):
        client = make_client(url)  # one attempt: a 429 is not retried
        client.create_vector_bucket(vectorBucketName="limited")
        ref = {"vectorBucketName": "limited", "indexName": "idx"}
        client.create_index(**ref, dataType="float32", dimension=2, distanceMetric="cosine")
        throttled = 0
        start = time.monotonic()
        for i in range(10):
            try:
                client.put_vectors(**ref, vectors=[{"key": f"k{i}", "data": {"float32": [1, 0]}}])
            except client.exceptions.TooManyRequestsException:
                throttled += 1
        elapsed = time.monotonic() - start
        # One second's budget (1 request), then 1 per second: never more.
        assert 1 <= 10 - throttled <= 1 + elapsed + 1, (throttled, elapsed)
        assert throttled > 0
        assert len(client.list_vectors(**ref)["vectors"]) == 10 - throttled
        assert stop(proc) == 0


@pytest.mark.parametrize("bad", ["NoSuchOperation=5", "QueryVectors", "QueryVectors=soon"])
def test_bad_latency_flag_is_a_usage_error(bad: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "s3vectors_emulator", "--port", "0", "--latency-ms-op", bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--latency-ms-op" in done.stderr
