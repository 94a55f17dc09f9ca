"""The handler module imports fast: boto3 is loaded on the first AWS call, not at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_handler_import_leaves_boto3_for_later() -> None:
    code = (
        "import sys, s3vl_lambda.handler as h\n"
        "assert 'boto3' not in sys.modules, 'boto3 imported eagerly'\n"
        "env = h.lambda_handler({'operation': 'availability_check'}, None)\n"
        "assert env['success'] and 'boto3' not in sys.modules\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda"), "AWS_REGION": "us-east-1"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ok")


def test_command_line_entry_point() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda"), "AWS_REGION": "eu-west-1"}
    run = subprocess.run(
        [sys.executable, "-m", "s3vl_lambda", '{"operation": "availability_check"}'],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    import json

    envelope = json.loads(run.stdout.strip().splitlines()[-1])
    assert envelope["result"]["region"] == "eu-west-1"
    bad = subprocess.run(
        [sys.executable, "-m", "s3vl_lambda"], input="{}", env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout.strip().splitlines()[-1])["error"]["field"] == "operation"
