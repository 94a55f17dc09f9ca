"""scripts/package-lambda.sh builds a zip the Lambda runtime can load (one architecture here)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "package-lambda.sh"


def test_script_declares_runtime_and_handler() -> None:
    text = SCRIPT.read_text()
    assert re.search(r"^RUNTIME=python3\.1[2-9]$", text, re.MULTILINE)
    assert re.search(r"^HANDLER=s3vl_lambda\.handler\.lambda_handler$", text, re.MULTILINE)


def test_bad_arch_is_refused(tmp_path: Path) -> None:
    run = subprocess.run(
        ["bash", str(SCRIPT), "--arch", "sparc", "--output", str(tmp_path / "x.zip")],
        capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 2 and "arm64 or x86_64" in run.stderr
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.slow
def test_package_zip_contents(tmp_path: Path) -> None:
    out = tmp_path / "s3vl-lambda.zip"
    run = subprocess.run(
        ["bash", str(SCRIPT), "--arch", "x86_64", "--output", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr
    size = out.stat().st_size
    assert f"size: {size} bytes" in run.stdout
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert "s3vl_lambda/handler.py" in names and "s3vl_lambda/limits.py" in names
    assert any(re.match(r"botocore/data/s3vectors/[\d-]+/service-2\.json", n) for n in names)
    assert any(n.startswith("aws_lambda_powertools/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Versions in the zip are the pinned ones.
    pins = dict(
        line.split("==") for line in (ROOT / "lambda" / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    assert f"boto3-{pins['boto3']}.dist-info/METADATA" in names
    assert f"botocore-{pins['botocore']}.dist-info/METADATA" in names
    assert f"orjson-{pins['orjson']}.dist-info/METADATA" in names  # fast_body's encoder
    assert size < 50 * 1024 * 1024  # Lambda's direct-upload limit
    _run_zip_against_the_emulator(out, tmp_path / "unzipped")


def _run_zip_against_the_emulator(zip_path: Path, target: Path) -> None:
    """The handler from the zip alone (no site-packages) answers a query over real HTTP."""
    import json
    import os
    import sys

    import boto3

    from s3vectors_emulator import start_server

    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(target)
    arn = "arn:aws:s3vectors:us-east-1:123456789012:bucket/zip-bucket/index/zip-index"
    with start_server() as server:
        admin = boto3.client(
            "s3vectors", region_name="us-east-1", endpoint_url=server.url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        admin.create_vector_bucket(vectorBucketName="zip-bucket")
        admin.create_index(vectorBucketName="zip-bucket", indexName="zip-index",
                           dataType="float32", dimension=2, distanceMetric="cosine")
        code = (
            "import json, sys\n"
            "from s3vl_lambda.handler import lambda_handler as h\n"
            "put = {'operation': 'put_vectors', 'index_arn': sys.argv[1], 'vectors': "
            "[{'key': 'a', 'data': [1, 0]}, {'key': 'b', 'data': [0, 1]}]}\n"
            "assert h(put, None)['success']\n"
            "q = {'operation': 'query_vectors', 'index_arn': sys.argv[1], "
            "'query_vector': [0.1, 1.0], 'top_k': 1}\n"
            "import boto3\n"
            "print(json.dumps({'env': h(q, None), 'boto3': boto3.__file__}))\n"
        )
        env = {
            "PATH": os.environ["PATH"], "PYTHONPATH": str(target),
            "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL_S3VECTORS": server.url,
        }
        run = subprocess.run([sys.executable, "-S", "-c", code, arn], env=env,
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["boto3"].startswith(str(target))
    assert answer["env"]["result"][0]["vector_id"] == "b"
