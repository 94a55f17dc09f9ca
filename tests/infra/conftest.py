"""Fixtures for the infrastructure tests: the decoded template and a sandbox in which the deploy
scripts run against the recording fakes of `aws` and `psql` (tests/infra/fake_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "cloudformation" / "template.yaml"
SCRIPTS = REPO_ROOT / "scripts"
FAKE_CLI = Path(__file__).with_name("fake_cli.py")

ACCOUNT = "123456789012"
REGION = "eu-west-1"
CLUSTER = "orders-db"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}"
VPC = "vpc-0a1b2c3d4e5f60718"
STACK = "s3vl-test"
STACK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-AuroraInvokeRole-1A2B3C4D"


def isolated_aws_env(home: Path) -> dict[str, str]:
    """Environment with dummy credentials and config files that are not the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PG"))}
    (home / "aws-config").write_text("[default]\n")
    (home / "aws-credentials").write_text("[default]\n")
    env.update(AWS_CONFIG_FILE=str(home / "aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_EC2_METADATA_DISABLED="true", HOME=str(home))
    return env


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    from cfnlint.decode import decode

    decoded, matches = decode(str(TEMPLATE))
    assert not matches, matches
    assert decoded is not None
    return dict(decoded)


@dataclass
class Sandbox:
    """One fake AWS account + database; run scripts in it and read what they called."""

    root: Path
    env: dict[str, str]
    parameters: Path
    zip_path: Path
    fail: list[str] = field(default_factory=list)

    def run(self, script: str, *args: str, stdin: str = "",
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, FAKE_FAIL=";".join(self.fail), **(extra_env or {}))
        return subprocess.run([str(SCRIPTS / script), "--parameters", str(self.parameters),
                               "--stack-name", STACK, *args],
                              input=stdin, capture_output=True, text=True, env=env, timeout=60,
                              cwd=self.root)

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.root / "fake" / "state.json").read_text()))

    def set_state(self, **changes: Any) -> None:
        state = self.state
        state.update(changes)
        (self.root / "fake" / "state.json").write_text(json.dumps(state))

    def calls(self) -> list[dict[str, Any]]:
        log = self.root / "fake" / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def clear_calls(self) -> None:
        (self.root / "fake" / "calls.jsonl").unlink(missing_ok=True)

    def commands(self) -> list[str]:
        """Each call as 'aws SERVICE OPERATION' or 'psql <what it ran>'."""
        return [describe(call) for call in self.calls()]

    def write_zip(self, content: bytes) -> None:
        self.zip_path.write_bytes(content)


def describe(call: dict[str, Any]) -> str:
    argv: list[str] = call["argv"]
    if call["tool"] == "aws":
        words: list[str] = []
        skip = False
        for arg in argv:
            if skip:
                skip = False
            elif arg in {"--region", "--endpoint-url", "--output", "--query"}:
                skip = True
            elif not arg.startswith("--") and len(words) < 2:
                words.append(arg)
        return "aws " + " ".join(words)
    if "-f" in argv and argv[argv.index("-f") + 1] != "-":
        return "psql -f " + Path(argv[argv.index("-f") + 1]).name
    if "-c" in argv:
        return "psql " + argv[argv.index("-c") + 1]
    return "psql " + (call["stdin"] or "").strip()


def option(call: dict[str, Any], name: str) -> str:
    argv: list[str] = call["argv"]
    return argv[argv.index(name) + 1]


@pytest.fixture
def sandbox(tmp_path: Path, template: dict[str, Any]) -> Iterator[Sandbox]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("aws", "psql"):
        shim = bin_dir / tool
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CLI}" {tool} "$@"\n')
        shim.chmod(0o755)
    fake = tmp_path / "fake"
    fake.mkdir()
    outputs = list(template["Outputs"])
    required = [k for k, v in template["Parameters"].items() if "Default" not in v]
    (fake / "state.json").write_text(json.dumps({
        "account": ACCOUNT, "region": REGION, "stack": None, "buckets": {},
        "extra_indexes": [], "stack_role_arn": STACK_ROLE,
        "template_outputs": outputs, "required_parameters": required,
        "cluster": {"id": CLUSTER, "engine": "aurora-postgresql", "version": "16.4", "vpc": VPC,
                    "roles": []},
        "psql": {"schema": False, "validate_failures": "0"},
    }))
    example = json.loads((REPO_ROOT / "parameters.example.json").read_text())
    values = {"AuroraClusterArn": CLUSTER_ARN, "VpcId": VPC, "IndexDimension": "8"}
    parameters = tmp_path / "parameters.json"
    parameters.write_text(json.dumps([
        {"ParameterKey": e["ParameterKey"],
         "ParameterValue": values.get(e["ParameterKey"], e["ParameterValue"])} for e in example]))
    zip_path = tmp_path / "s3vl-lambda.zip"
    zip_path.write_bytes(b"PK fake function code v1")
    ca_bundle = tmp_path / "rds-global-bundle.pem"
    ca_bundle.write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    env = isolated_aws_env(tmp_path)
    env.update(PATH=f"{bin_dir}:{env['PATH']}", FAKE_DIR=str(fake), S3VL_LAMBDA_ZIP=str(zip_path),
               S3VL_RDS_CA_BUNDLE=str(ca_bundle),
               S3VL_POLL_SECONDS="0", S3VL_POLL_ATTEMPTS="3", PYTHON=sys.executable,
               TMPDIR=str(tmp_path))
    yield Sandbox(tmp_path, env, parameters, zip_path)
