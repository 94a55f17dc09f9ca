"""Every AWS CLI command line the scripts produce is accepted by the real AWS CLI.

The fakes answer whatever they are given, so the recorded command lines are replayed through the
AWS CLI's own driver (in-process, for speed) against an endpoint that refuses connections: a
command whose options, parameter values or --query the CLI accepts gets as far as trying to
connect; a wrong one stops earlier with a usage or validation error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import botocore

from infra.conftest import ACCOUNT, REGION, Sandbox, isolated_aws_env

REFUSING_ENDPOINT = "http://127.0.0.1:9"  # discard port: nothing listens
CONNECT_ERROR = "Could not connect to the endpoint URL"


def record_every_script(sandbox: Sandbox) -> list[list[str]]:
    params = json.loads(sandbox.parameters.read_text())
    for entry in params:
        if entry["ParameterKey"] == "TextSearch":
            entry["ParameterValue"] = "name:en,sku"
    sandbox.parameters.write_text(json.dumps(params))
    runs = [("deploy.sh",), ("update-function-code.sh",),
            ("load-sample-data.sh", "--random", "3"), ("cleanup.sh", "--yes")]
    for args in runs:
        if args[0] == "update-function-code.sh":
            sandbox.write_zip(b"PK fake function code v2")
        if args[0] == "cleanup.sh":
            sandbox.set_state(extra_indexes=["scratch-index"])
        result = sandbox.run(*args)
        assert result.returncode == 0, result.stderr
    # One command line per operation and set of options (the values vary, the syntax does not).
    unique: dict[tuple[str, ...], list[str]] = {}
    for call in sandbox.calls():
        if call["tool"] == "aws":
            argv = call["argv"]
            shape = tuple(a for i, a in enumerate(argv)
                          if a.startswith("--") or not argv[i - 1].startswith("--"))
            unique.setdefault(shape, argv)
    return list(unique.values())


def recreate_temporary_files(argv: list[str]) -> None:
    """Files the scripts deleted after the call (payloads, batches) must exist for the CLI."""
    for arg in argv:
        for scheme, content in (("fileb://", "{}"), ("file://", json.dumps(
                [{"key": "k", "data": {"float32": [0.5]}}]))):
            path = Path(arg[len(scheme):])
            if arg.startswith(scheme) and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)


# Runs in its own interpreter: the AWS CLI's driver wants a clean botocore import.
REPLAY = """
import contextlib, io, json, sys
from awscli.clidriver import create_clidriver
results = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = create_clidriver().main(argv)
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
    results.append({"argv": argv, "status": status, "stderr": err.getvalue()})
json.dump(results, sys.stdout)
"""


def test_real_aws_cli_accepts_every_command(sandbox: Sandbox, tmp_path: Path) -> None:
    commands = record_every_script(sandbox)
    operations = set()
    for argv in commands:
        words = [a for i, a in enumerate(argv)
                 if not a.startswith("-") and (i == 0 or not argv[i - 1].startswith("-"))]
        operations.add(" ".join(words[:2]))
    assert {"cloudformation deploy", "rds add-role-to-db-cluster", "lambda invoke",
            "s3api put-object", "s3vectors put-vectors", "s3vectors delete-index",
            "rds remove-role-from-db-cluster", "cloudformation wait", "s3vectors get-index",
            "s3vectors update-index-mode", "s3vectors update-metadata-configuration",
            "s3api delete-object"} <= operations, operations
    for argv in commands:
        recreate_temporary_files(argv)

    home = tmp_path / "cli-home"
    home.mkdir()
    env = isolated_aws_env(home)
    env["AWS_MAX_ATTEMPTS"] = "1"
    # The AWS CLI v1 in the virtualenv bundles a botocore whose s3vectors model predates
    # UpdateIndexMode and UpdateMetadataConfiguration: give it the current model (botocore's
    # own) the way botocore allows, a data path searched before the bundled one.
    models = home / "models" / "s3vectors"
    shutil.copytree(Path(botocore.__file__).parent / "data" / "s3vectors", models)
    env["AWS_DATA_PATH"] = str(home / "models")
    replay = subprocess.run([sys.executable, "-c", REPLAY], capture_output=True, text=True,
                            env=env, timeout=120, check=True,
                            input=json.dumps([[*a, "--endpoint-url", REFUSING_ENDPOINT]
                                              for a in commands]))
    results = json.loads(replay.stdout)
    assert len(results) == len(commands)
    for result in results:
        assert CONNECT_ERROR in result["stderr"], (
            f"aws {' '.join(result['argv'])}\n-> {result['status']}: {result['stderr'][-600:]}")
    assert f"arn:aws:iam::{ACCOUNT}" in json.dumps(commands)
    assert all(REGION in argv for argv in commands)
