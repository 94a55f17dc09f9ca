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
    assert size < 50 * 1024 * 1024  # Lambda's direct-upload limit
