"""The AWS CLI (`aws s3vectors ...`) works unchanged against the emulator via --endpoint-url."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore
import pytest

from emulator_helpers import unique
from s3vectors_emulator import ServerHandle, start_server

AWS = Path(sys.executable).with_name("aws")


def current_model_path(tmp_path: Path) -> Path:
    """A data path holding the installed botocore's s3vectors model. This AWS CLI vendors an
    older botocore (1.43) without the text search and index mode operations; AWS_DATA_PATH
    makes it use the current model, as a user with an up-to-date CLI would."""
    source = Path(botocore.__file__).parent / "data" / "s3vectors" / "2025-07-15"
    target = tmp_path / "models" / "s3vectors" / "2025-07-15"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "service-2.json.gz", target / "service-2.json.gz")
    return tmp_path / "models"


def run_aws(server: ServerHandle, tmp_path: Path, *args: str, data_path: Path | None = None) -> Any:
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    result = subprocess.run(
        [str(AWS), "s3vectors", *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_cli_put_and_query_vectors(server: ServerHandle, client: Any, tmp_path: Path) -> None:
    bucket = unique("cli")
    created = aws(server, tmp_path, "create-vector-bucket", "--vector-bucket-name", bucket)
    assert created["vectorBucketArn"].endswith(f":bucket/{bucket}")
    aws(
        server,
        tmp_path,
        "create-index",
        "--vector-bucket-name",
        bucket,
        "--index-name",
        "idx",
        "--data-type",
        "float32",
        "--dimension",
        "3",
        "--distance-metric",
        "cosine",
    )
    vectors = [
        {"key": "north", "data": {"float32": [0, 1, 0]}, "metadata": {"kind": "axis"}},
        {"key": "east", "data": {"float32": [1, 0, 0]}, "metadata": {"kind": "axis"}},
        {"key": "diag", "data": {"float32": [1, 1, 0]}, "metadata": {"kind": "diag"}},
    ]
    aws(
        server,
        tmp_path,
        "put-vectors",
        "--vector-bucket-name",
        bucket,
        "--index-name",
        "idx",
        "--vectors",
        json.dumps(vectors),
    )
    assert len(client.list_vectors(vectorBucketName=bucket, indexName="idx")["vectors"]) == 3
    result = aws(
        server,
        tmp_path,
        "query-vectors",
        "--vector-bucket-name",
        bucket,
        "--index-name",
        "idx",
        "--top-k",
        "2",
        "--query-vector",
        json.dumps({"float32": [1, 0.1, 0]}),
        "--filter",
        json.dumps({"kind": "axis"}),
        "--return-distance",
        "--return-metadata",
    )
    assert [v["key"] for v in result["vectors"]] == ["east", "north"]
    assert result["vectors"][0]["metadata"] == {"kind": "axis"}
    assert 0 <= result["vectors"][0]["distance"] < result["vectors"][1]["distance"]


def test_cli_index_modes_text_search_and_hybrid_queries(tmp_path: Path) -> None:
    models = current_model_path(tmp_path)
    # Its own server: a configuration added below must stay BUILDING across CLI start-ups.
    with start_server(text_build_seconds=600) as server:
        _cli_text_session(server, tmp_path, models)


def _cli_text_session(server: ServerHandle, tmp_path: Path, models: Path) -> None:

    def aws(server: ServerHandle, tmp_path: Path, *args: str) -> Any:
        return run_aws(server, tmp_path, *args, data_path=models)

    bucket = unique("clitxt")
    aws(server, tmp_path, "create-vector-bucket", "--vector-bucket-name", bucket)
    got = aws(server, tmp_path, "get-vector-bucket", "--vector-bucket-name", bucket)
    assert got["vectorBucket"]["defaultIndexMode"] == "ENHANCED"
    aws(
        server,
        tmp_path,
        "put-vector-bucket-default-index-mode",
        "--vector-bucket-name",
        bucket,
        "--default-index-mode",
        "ENHANCED",
    )
    ref = ("--vector-bucket-name", bucket, "--index-name", "docs")
    aws(
        server,
        tmp_path,
        "create-index",
        *ref,
        "--data-type",
        "float32",
        "--dimension",
        "3",
        "--distance-metric",
        "cosine",
        "--metadata-configuration",
        json.dumps({"textSearchConfigurations": [{"metadataKey": "title", "language": "en"}]}),
    )
    aws(server, tmp_path, "update-index-mode", *ref, "--index-mode", "ENHANCED")
    vectors = [
        {
            "key": "a",
            "data": {"float32": [1, 0, 0]},
            "metadata": {"title": "trail shoes", "b": "x"},
        },
        {"key": "b", "data": {"float32": [0, 1, 0]}, "metadata": {"title": "wool socks", "b": "y"}},
    ]
    aws(server, tmp_path, "put-vectors", *ref, "--vectors", json.dumps(vectors))
    updated = aws(
        server,
        tmp_path,
        "update-metadata-configuration",
        *ref,
        "--add",
        json.dumps({"textSearchConfigurations": [{"metadataKey": "b"}]}),
    )
    assert updated["indexArn"].endswith(f"bucket/{bucket}/index/docs")
    index = aws(server, tmp_path, "get-index", *ref)["index"]
    assert index["indexMode"] == "ENHANCED"
    statuses = {
        c["metadataKey"]: c["status"]
        for c in index["metadataConfiguration"]["textSearchConfigurations"]
    }
    assert statuses == {"title": "ACTIVE", "b": "BUILDING"}
    text = aws(
        server,
        tmp_path,
        "query-vectors",
        *ref,
        "--top-k",
        "2",
        "--return-scores",
        "--query-texts",
        json.dumps([{"metadataKey": "title", "text": "shoes"}]),
        "--query-mode",
        "ENHANCED",
    )
    assert [v["key"] for v in text["vectors"]] == ["a"]
    assert text["vectors"][0]["scores"]["bm25Scores"][0]["metadataKey"] == "title"
    hybrid = aws(
        server,
        tmp_path,
        "query-vectors",
        *ref,
        "--top-k",
        "2",
        "--return-scores",
        "--return-distance",
        "--query-vector",
        json.dumps({"float32": [0, 1, 0]}),
        "--query-texts",
        json.dumps([{"metadataKey": "title", "text": "shoes"}]),
    )
    assert {v["key"] for v in hybrid["vectors"]} == {"a", "b"}
    assert all("fused" in v["scores"] for v in hybrid["vectors"])
    by_key = {v["key"]: v for v in hybrid["vectors"]}
    assert by_key["b"]["scores"]["vectorDistance"] == pytest.approx(0.0, abs=1e-6)
    aws(
        server,
        tmp_path,
        "update-metadata-configuration",
        *ref,
        "--delete",
        json.dumps({"textSearchConfigurations": [{"metadataKey": "b"}]}),
    )
    index = aws(server, tmp_path, "get-index", *ref)["index"]
    assert [
        c["metadataKey"] for c in index["metadataConfiguration"]["textSearchConfigurations"]
    ] == ["title"]


def aws(server: ServerHandle, tmp_path: Path, *args: str) -> Any:
    return run_aws(server, tmp_path, *args)
