"""The AWS CLI (`aws s3vectors ...`) works unchanged against the emulator via --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulator_support import unique
from s3vl_local.emulator import ServerHandle

AWS = Path(sys.executable).with_name("aws")


def aws(server: ServerHandle, tmp_path: Path, *args: str) -> Any:
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
