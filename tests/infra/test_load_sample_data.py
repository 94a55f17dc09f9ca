"""scripts/load-sample-data.sh for real: the AWS CLI against the project's S3 Vectors emulator
over HTTP, then the vectors counted through boto3."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.conftest import SCRIPTS, isolated_aws_env
from s3vectors_emulator import ServerHandle, start_server

REGION = "us-east-1"
BUCKET = "sample-bucket"
DIMENSION = 8


@pytest.fixture(scope="module")
def emulator() -> Iterator[ServerHandle]:
    handle = start_server(region=REGION)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def client(emulator: ServerHandle) -> Any:
    return boto3.client("s3vectors", endpoint_url=emulator.url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def index_arn(client: Any) -> str:
    name = f"idx-{uuid.uuid4().hex[:12]}"
    buckets = client.list_vector_buckets()["vectorBuckets"]
    if not any(b["vectorBucketName"] == BUCKET for b in buckets):
        client.create_vector_bucket(vectorBucketName=BUCKET)
    arn: str = client.create_index(vectorBucketName=BUCKET, indexName=name, dataType="float32",
                                   dimension=DIMENSION, distanceMetric="cosine")["indexArn"]
    return arn


def count_vectors(client: Any, arn: str) -> int:
    pages = client.get_paginator("list_vectors").paginate(indexArn=arn)
    return sum(len(page["vectors"]) for page in pages)


def load(tmp_path: Path, emulator: ServerHandle, *args: str,
         endpoint_variable: str = "S3VL_S3VECTORS_ENDPOINT") -> subprocess.CompletedProcess[str]:
    env = isolated_aws_env(tmp_path)
    venv_bin = str(Path(sys.executable).parent)  # the real AWS CLI
    env.update(PATH=f"{venv_bin}:{env['PATH']}", PYTHON=sys.executable)
    env[endpoint_variable] = emulator.url
    return subprocess.run([str(SCRIPTS / "load-sample-data.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_random_vectors_load_in_batches_of_500(tmp_path: Path, emulator: ServerHandle,
                                               client: Any, index_arn: str) -> None:
    result = load(tmp_path, emulator, "--random", "1234", "--index-arn", index_arn)
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("==> batch ")]
    assert progress == ["==> batch 1/3: 500 vectors written", "==> batch 2/3: 1000 vectors written",
                        "==> batch 3/3: 1234 vectors written"]
    assert count_vectors(client, index_arn) == 1234
    assert "the index holds 1234 vectors" in result.stderr
    got = client.get_vectors(indexArn=index_arn, keys=["random-0000007"], returnData=True,
                             returnMetadata=True)["vectors"][0]
    assert len(got["data"]["float32"]) == DIMENSION  # dimension read from GetIndex
    assert got["metadata"]["n"] == 7


def test_file_vectors_keep_metadata_and_reload_idempotently(
        tmp_path: Path, emulator: ServerHandle, client: Any, index_arn: str) -> None:
    vectors: list[dict[str, Any]] = [
        {"key": f"doc-{i}", "data": {"float32": [float(i + 1)] * DIMENSION},
         "metadata": {"title": f"Document {i}", "year": 2000 + i}} for i in range(7)]
    vectors[3]["data"] = [0.5] * DIMENSION  # a plain list is accepted too
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors))
    for _ in range(2):
        result = load(tmp_path, emulator, "--file", str(path), "--batch-size", "4", "--no-count",
                      "--index-arn", index_arn, endpoint_variable="AWS_ENDPOINT_URL_S3VECTORS")
        assert result.returncode == 0, result.stderr
        assert "batch 2/2: 7 vectors written" in result.stderr
        assert count_vectors(client, index_arn) == 7
    got = client.get_vectors(indexArn=index_arn, keys=["doc-4", "doc-3"], returnData=True,
                             returnMetadata=True)["vectors"]
    by_key = {v["key"]: v for v in got}
    assert by_key["doc-4"]["metadata"] == {"title": "Document 4", "year": 2004}
    assert by_key["doc-3"]["data"]["float32"] == [0.5] * DIMENSION


def test_wrong_dimension_stops_with_the_failing_step(tmp_path: Path, emulator: ServerHandle,
                                                     client: Any, index_arn: str) -> None:
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps([{"key": "a", "data": {"float32": [0.1, 0.2, 0.3]}}]))
    result = load(tmp_path, emulator, "--file", str(path), "--index-arn", index_arn)
    assert result.returncode != 0
    assert 'step "put-vectors" failed' in result.stderr
    assert "dimension" in result.stderr.lower()
    assert count_vectors(client, index_arn) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--random", "5", "--batch-size", "501"], "--batch-size must be between 1 and 500"),
    (["--random", "5", "--batch-size", "0"], "--batch-size must be between 1 and 500"),
    (["--random", "5", "--dimension", "4097"], "--dimension must be between 1 and 4096"),
    (["--random", "0"], "--random must be a positive count"),
    ([], "give exactly one of --file or --random"),
    (["--random", "5", "--file", "x.json"], "give exactly one of --file or --random"),
    (["--random", "5", "--index-arn", "arn:aws:s3:::bucket"], "not an S3 Vectors index ARN"),
])
def test_bad_arguments_are_named_and_change_nothing(
        tmp_path: Path, emulator: ServerHandle, client: Any, index_arn: str, args: list[str],
        message: str) -> None:
    if "--index-arn" not in args:
        args = [*args, "--index-arn", index_arn]
    result = load(tmp_path, emulator, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert count_vectors(client, index_arn) == 0
