"""The deploy scripts run against recording fakes of `aws` and `psql`: which commands, in which
order, with which arguments; re-runs; and a failure at every step."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.conftest import (
    ACCOUNT,
    CLUSTER,
    REGION,
    STACK,
    STACK_ROLE,
    TEMPLATE,
    Sandbox,
    describe,
    option,
)

FUNCTION_ALIAS = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:s3vl-s3vectors-bridge:live"
INDEX_ARN = (f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/s3vl-{ACCOUNT}-{REGION}"
             "/index/embeddings")
ARTIFACT_BUCKET_PREFIX = f"s3vl-artifacts-{REGION}-"
CODE_PREFIX = f"s3vl/lambda/{REGION}/{STACK}/"


def artifact_bucket(sandbox: Sandbox) -> str:
    (bucket,) = sandbox.state["buckets"]
    assert re.fullmatch(re.escape(ARTIFACT_BUCKET_PREFIX) + "[0-9a-f]{12}", bucket), bucket
    return str(bucket)

# The commands that change something, in the order deploy.sh must run them.
DEPLOY_ORDER = [
    "aws s3api create-bucket",
    "aws s3api put-object",
    "aws cloudformation deploy",
    "aws rds add-role-to-db-cluster",
    "CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE",
    "psql -f install.sql",
    "psql SELECT s3vl.configure(",
    "psql SELECT s3vl.register_index(",
    "aws lambda invoke",
    "psql SELECT count(*) FROM s3vl.validate_config()",
    "psql SELECT count(*) FROM s3vl.query_vectors(",
]


def positions(commands: list[str], wanted: list[str]) -> list[int]:
    found = []
    for want in wanted:
        matches = [i for i, c in enumerate(commands) if want in c]
        assert matches, f"{want!r} never ran; ran: {commands}"
        found.append(matches[0])
    return found


def calls_named(sandbox: Sandbox, prefix: str) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls() if describe(c).startswith(prefix)]


def sha256_b64(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def test_deploy_runs_every_step_in_order_with_stack_values(sandbox: Sandbox) -> None:
    result = sandbox.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    order = positions(commands, DEPLOY_ORDER)
    assert order == sorted(order), commands

    # Every AWS call goes to the cluster's Region.
    for call in sandbox.calls():
        if call["tool"] == "aws":
            assert option(call, "--region") == REGION, call

    (deploy,) = calls_named(sandbox, "aws cloudformation deploy")
    argv = deploy["argv"]
    assert isinstance(argv, list)
    assert option(deploy, "--template-file") == str(TEMPLATE)
    assert option(deploy, "--stack-name") == STACK
    assert "CAPABILITY_IAM" in argv and "--no-fail-on-empty-changeset" in argv
    overrides = dict(a.split("=", 1) for a in argv[argv.index("--parameter-overrides") + 1:])
    given = {e["ParameterKey"]: e["ParameterValue"]
             for e in json.loads(sandbox.parameters.read_text())}
    code = sandbox.zip_path.read_bytes()
    assert overrides["CodeSha256"] == sha256_b64(code)
    assert overrides["CodeS3Key"] == f"{CODE_PREFIX}{hashlib.sha256(code).hexdigest()}.zip"
    assert overrides["CodeS3Bucket"] == artifact_bucket(sandbox)
    for key, value in given.items():
        if not key.startswith("Code") and key != "ConfigDigest":
            assert overrides[key] == value, key
    assert re.fullmatch(r"[0-9a-f]{16}", overrides["ConfigDigest"])

    (upload,) = calls_named(sandbox, "aws s3api put-object")
    assert option(upload, "--bucket") == artifact_bucket(sandbox)
    assert option(upload, "--key") == overrides["CodeS3Key"]
    # Every call on the artifact bucket names its owner (a same-named bucket of another account
    # is refused).
    for call in sandbox.calls():
        if describe(call).startswith("aws s3api") and "--bucket" in call["argv"] and \
                not describe(call).endswith("create-bucket"):
            assert option(call, "--expected-bucket-owner") == ACCOUNT, call

    (add_role,) = calls_named(sandbox, "aws rds add-role-to-db-cluster")
    assert option(add_role, "--db-cluster-identifier") == CLUSTER
    assert option(add_role, "--feature-name") == "Lambda"
    assert option(add_role, "--role-arn") == STACK_ROLE

    (configure,) = calls_named(sandbox, "psql SELECT s3vl.configure(")
    argv = configure["argv"]
    assert f"lambda_arn={FUNCTION_ALIAS}" in argv
    assert f"aws_region={REGION}" in argv and "timeout_seconds=30" in argv
    (register,) = calls_named(sandbox, "psql SELECT s3vl.register_index(")
    assert f"index_arn={INDEX_ARN}" in register["argv"]
    assert "index_name=embeddings" in register["argv"]
    (invoke,) = calls_named(sandbox, "aws lambda invoke")
    assert option(invoke, "--function-name") == FUNCTION_ALIAS

    # psql talks to the cluster's writer endpoint, stops on the first SQL error.
    for call in sandbox.calls():
        if call["tool"] == "psql":
            env = call["env"]
            assert isinstance(env, dict)
            assert env["PGHOST"].startswith(f"{CLUSTER}.cluster-")
            assert "ON_ERROR_STOP=1" in call["argv"]
            # TLS that verifies the server against the RDS CA bundle.
            assert env["PGSSLMODE"] == "verify-full"
            assert env["PGSSLROOTCERT"] == sandbox.env["S3VL_RDS_CA_BUNDLE"]
    assert sandbox.state["cluster"]["roles"] == [
        {"RoleArn": STACK_ROLE, "FeatureName": "Lambda", "Status": "ACTIVE"}]
    assert "deploy.sh: done" in result.stderr


def test_deploy_rerun_is_idempotent(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    sandbox.clear_calls()
    again = sandbox.run("deploy.sh")
    assert again.returncode == 0, again.stderr
    commands = sandbox.commands()
    for skipped in ("aws s3api create-bucket", "aws s3api put-object",
                    "aws rds add-role-to-db-cluster"):
        assert not any(c.startswith(skipped) for c in commands), commands
    assert "already associated" in again.stderr
    assert "already uploaded" in again.stderr
    assert sandbox.state["stack"]["version"] == 1  # same code: no new version
    assert len(sandbox.state["cluster"]["roles"]) == 1


# (pattern that makes the fake fail, step the script must name)
FAILURES = [
    ("aws rds describe-db-clusters", "gather-cluster-details"),
    ("aws s3api create-bucket", "deploy-stack"),
    ("aws s3api put-object", "deploy-stack"),
    ("aws cloudformation deploy", "deploy-stack"),
    ("aws rds add-role-to-db-cluster", "associate-role"),
    ("psql install.sql", "install-schema"),
    ("psql s3vl.configure", "configure"),
    ("psql s3vl.register_index", "register-index"),
    ("aws lambda invoke", "validate"),
    ("psql validate_config", "validate"),
]


@pytest.mark.parametrize(("pattern", "step"), FAILURES, ids=[p for p, _ in FAILURES])
def test_deploy_stops_at_the_failing_step(sandbox: Sandbox, pattern: str, step: str) -> None:
    sandbox.fail.append(pattern)
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0
    assert f'ERROR: step "{step}" failed' in result.stderr, result.stderr
    assert "Check: " in result.stderr
    # Nothing ran after the failing command (but reading why a change set failed).
    last = [c for c in sandbox.commands() if c != "aws cloudformation list-change-sets"][-1]
    tool, _, what = pattern.partition(" ")
    assert last.startswith(tool) and (what in last or what in json.dumps(sandbox.calls()[-1])), last
    assert "deploy.sh: done" not in result.stderr


def test_a_parameter_change_publishes_a_new_version(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    first = sandbox.state["stack"]
    assert sandbox.run("deploy-stack.sh").returncode == 0
    assert sandbox.state["stack"]["version"] == first["version"]  # nothing changed
    params = json.loads(sandbox.parameters.read_text())
    for entry in params:
        if entry["ParameterKey"] == "LambdaMemorySize":
            entry["ParameterValue"] = "2048"
    sandbox.parameters.write_text(json.dumps(params))
    assert sandbox.run("deploy-stack.sh").returncode == 0
    after = sandbox.state["stack"]
    assert after["params"]["LambdaMemorySize"] == "2048"
    assert after["params"]["ConfigDigest"] != first["params"]["ConfigDigest"]
    assert after["version"] == first["version"] + 1


@pytest.mark.parametrize(("pending_polls", "succeeds"), [(2, True), (10, False)])
def test_associate_role_waits_for_active(sandbox: Sandbox, pending_polls: int,
                                         succeeds: bool) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    state = sandbox.state
    state["cluster"]["pending_polls"] = pending_polls
    sandbox.set_state(cluster=state["cluster"])
    sandbox.clear_calls()
    result = sandbox.run("associate-role.sh")
    polls = calls_named(sandbox, "aws rds describe-db-clusters")[1:]  # after the first look
    if succeeds:
        assert result.returncode == 0, result.stderr
        assert len(polls) == 2 and "role associated and ACTIVE" in result.stderr
    else:
        assert result.returncode != 0
        assert len(polls) == 3  # S3VL_POLL_ATTEMPTS
        assert 'step "associate-role" failed' in result.stderr
        assert "did not become ACTIVE" in result.stderr


def test_deploy_stops_when_the_cluster_has_another_lambda_role(sandbox: Sandbox) -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/existing-lambda-role"
    state = sandbox.state
    state["cluster"]["roles"] = [{"RoleArn": other, "FeatureName": "Lambda", "Status": "ACTIVE"}]
    sandbox.set_state(cluster=state["cluster"])
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0
    assert 'step "associate-role" failed' in result.stderr
    assert other in result.stderr and "remove-role-from-db-cluster" in result.stderr
    assert "--skip-associate-role" not in result.stderr or "skip" in result.stderr
    assert not calls_named(sandbox, "aws rds add-role-to-db-cluster")
    assert not calls_named(sandbox, "psql")

    skipped = sandbox.run("deploy.sh", "--skip-associate-role")
    assert skipped.returncode == 0, skipped.stderr
    assert sandbox.state["cluster"]["roles"] == state["cluster"]["roles"]


def test_deploy_fails_when_validate_config_reports_a_problem(sandbox: Sandbox) -> None:
    sandbox.set_state(psql={"schema": False, "validate_failures": "1"})
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0
    assert 'step "validate" failed' in result.stderr
    assert "validate_config() reports 1 failed check" in result.stderr


def test_dry_run_prints_every_command_and_runs_none(sandbox: Sandbox) -> None:
    env = {k: v for k, v in sandbox.env.items() if k != "S3VL_LAMBDA_ZIP"}
    sandbox.env = env
    result = sandbox.run("deploy.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert sandbox.calls() == []
    text = result.stderr
    for expected in ("package-lambda.sh --arch arm64", "s3api put-object", "cloudformation deploy",
                     "rds add-role-to-db-cluster", "psql", "install.sql", "s3vl.configure",
                     "lambda invoke", "validate_config", "rds describe-db-subnet-groups"):
        assert expected in text, expected


def test_dry_run_says_what_it_would_check_not_made_up_answers(sandbox: Sandbox) -> None:
    """A dry run runs nothing, so it knows no engine, version, VPC, schema version or row count:
    each step says what it would check or do, and no step reports a result."""
    sandbox.env = {k: v for k, v in sandbox.env.items() if k != "S3VL_LAMBDA_ZIP"}
    result = sandbox.run("deploy.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    logged = [ln for ln in result.stderr.splitlines() if ln.startswith("==> ")]
    for made_up in ("available", "matches", "is up", "installed: version", "configured to call",
                    "registered", "validated", "answers (", "creating artifact bucket",
                    "deploy.sh: done"):
        assert not any(made_up in ln for ln in logged if "would" not in ln), (made_up, logged)
    would = [ln for ln in logged if ln.startswith("==> dry run: would ")]
    assert len(would) >= 7, logged
    assert any("aurora-postgresql 13 or later" in ln and "VpcId" in ln for ln in would), would
    assert logged[-1] == "==> deploy.sh: dry run done; nothing was run or checked"


def test_gather_cluster_details_rejects_a_vpc_mismatch(sandbox: Sandbox) -> None:
    state = sandbox.state
    state["cluster"]["vpc"] = "vpc-0ffffffffffffffff"
    sandbox.set_state(cluster=state["cluster"])
    result = sandbox.run("gather-cluster-details.sh")
    assert result.returncode != 0
    assert "vpc-0ffffffffffffffff" in result.stderr and "VpcId" in result.stderr


def test_gather_cluster_details_rejects_old_or_other_engines(sandbox: Sandbox) -> None:
    state = sandbox.state
    state["cluster"]["version"] = "12.16"
    sandbox.set_state(cluster=state["cluster"])
    result = sandbox.run("gather-cluster-details.sh")
    assert result.returncode != 0
    assert "12.16 is too old: s3vl needs Aurora PostgreSQL 13 or later" in result.stderr
    state["cluster"].update(version="8.0.mysql_aurora.3.05.2", engine="aurora-mysql")
    sandbox.set_state(cluster=state["cluster"])
    result = sandbox.run("gather-cluster-details.sh")
    assert result.returncode != 0 and "needs Aurora PostgreSQL" in result.stderr


STEP_SCRIPTS = ["gather-cluster-details.sh", "deploy-stack.sh", "associate-role.sh",
                "update-function-code.sh", "install-schema.sh", "configure.sh",
                "register-index.sh", "validate.sh"]


def test_step_scripts_run_in_order_and_rerun(sandbox: Sandbox) -> None:
    for script in STEP_SCRIPTS:
        for attempt in (1, 2):
            result = sandbox.run(script)
            assert result.returncode == 0, f"{script} run {attempt}: {result.stderr}"
            assert f"{script}: done" in result.stderr
    assert len(calls_named(sandbox, "aws rds add-role-to-db-cluster")) == 1
    assert len(calls_named(sandbox, "aws s3api put-object")) == 1


def test_step_scripts_need_the_stack(sandbox: Sandbox) -> None:
    for script in ("associate-role.sh", "configure.sh", "register-index.sh", "validate.sh",
                   "update-function-code.sh"):
        result = sandbox.run(script)
        assert result.returncode != 0, script
        assert f"stack {STACK}" in result.stderr and "deploy" in result.stderr, result.stderr
        assert not calls_named(sandbox, "psql"), script


def test_update_function_code_moves_the_alias_to_new_code(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    params_before = dict(sandbox.state["stack"]["params"])
    sandbox.write_zip(b"PK fake function code v2")
    sandbox.clear_calls()
    result = sandbox.run("update-function-code.sh")
    assert result.returncode == 0, result.stderr
    new_sha = sha256_b64(b"PK fake function code v2")
    (deploy,) = calls_named(sandbox, "aws cloudformation deploy")
    argv = deploy["argv"]
    assert isinstance(argv, list)
    overrides = argv[argv.index("--parameter-overrides") + 1:]
    # Only the code parameters change; the rest keep their deployed values.
    assert sorted(o.split("=", 1)[0] for o in overrides) == [
        "CodeS3Bucket", "CodeS3Key", "CodeSha256"]
    stack = sandbox.state["stack"]
    assert stack["version"] == 2 and stack["code"] == new_sha
    assert {k: v for k, v in stack["params"].items() if not k.startswith("Code")} == \
        {k: v for k, v in params_before.items() if not k.startswith("Code")}
    assert calls_named(sandbox, "aws lambda get-function")
    assert new_sha in result.stderr


def test_cleanup_removes_only_this_stacks_things(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    other = f"arn:aws:iam::{ACCOUNT}:role/s3-import-role"
    state = sandbox.state
    state["cluster"]["roles"].append(
        {"RoleArn": other, "FeatureName": "s3Import", "Status": "ACTIVE"})
    sandbox.set_state(cluster=state["cluster"], extra_indexes=["scratch-index"])
    sandbox.clear_calls()

    bucket = artifact_bucket(sandbox)
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    order = positions(commands, ["psql -f uninstall.sql", "aws rds remove-role-from-db-cluster",
                                 "aws s3vectors delete-index", "aws s3api delete-object",
                                 "aws cloudformation delete-stack", "aws cloudformation wait"])
    assert order == sorted(order), commands
    (remove,) = calls_named(sandbox, "aws rds remove-role-from-db-cluster")
    assert option(remove, "--role-arn") == STACK_ROLE
    (delete_index,) = calls_named(sandbox, "aws s3vectors delete-index")
    assert option(delete_index, "--index-name") == "scratch-index"
    final = sandbox.state
    assert final["stack"] is None
    assert final["cluster"]["roles"] == [{"RoleArn": other, "FeatureName": "s3Import",
                                          "Status": "ACTIVE"}]
    assert final["buckets"][bucket] == []
    assert final["psql"]["schema"] is False
    assert "nothing left" in result.stderr

    sandbox.clear_calls()
    again = sandbox.run("cleanup.sh", "--yes")
    assert again.returncode == 0, again.stderr
    assert "does not exist" in again.stderr
    assert not any(c.startswith(("aws rds remove", "aws cloudformation delete"))
                   for c in sandbox.commands())


def test_cleanup_verifies_that_nothing_is_left(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    sandbox.set_state(delete_noop=True)  # the delete "succeeds" but the stack stays
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode != 0
    assert 'step "verify" failed' in result.stderr
    assert f"stack {STACK} still exists" in result.stderr


def test_cleanup_asks_before_deleting(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    sandbox.set_state(extra_indexes=["scratch-index"])
    result = sandbox.run("cleanup.sh", stdin="n\n")
    assert result.returncode != 0
    assert "not confirmed" in result.stderr
    assert sandbox.state["stack"] is not None
    assert sandbox.state["extra_indexes"] == ["scratch-index"]


def test_cleanup_reports_a_stack_that_cannot_be_deleted(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    sandbox.set_state(extra_indexes=["scratch-index"])
    sandbox.fail.append("aws s3vectors delete-index")
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode != 0
    assert 'step "empty-vector-bucket" failed' in result.stderr
    assert not calls_named(sandbox, "aws cloudformation delete-stack")


def test_bad_parameters_are_reported_before_any_call(sandbox: Sandbox) -> None:
    sandbox.parameters.write_text(json.dumps([
        {"ParameterKey": "AuroraClusterArn", "ParameterValue": "my-cluster"}]))
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0
    assert "AuroraClusterArn" in result.stderr and "not a cluster ARN" in result.stderr
    assert sandbox.calls() == []

    sandbox.parameters.unlink()
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0 and "parameters.example.json" in result.stderr


def test_region_must_be_the_clusters(sandbox: Sandbox) -> None:
    result = sandbox.run("deploy.sh", "--region", "us-west-2")
    assert result.returncode != 0
    assert "us-west-2" in result.stderr and REGION in result.stderr
    assert sandbox.calls() == []


def test_unknown_argument_is_rejected(sandbox: Sandbox) -> None:
    result = sandbox.run("deploy.sh", "--frobnicate")
    assert result.returncode == 2
    assert "unknown argument: --frobnicate" in result.stderr
    assert sandbox.calls() == []


@pytest.mark.parametrize("script", ["cleanup.sh", "update-function-code.sh", "validate.sh",
                                    "load-sample-data.sh"])
def test_other_scripts_dry_run_without_calls(sandbox: Sandbox, script: str) -> None:
    args = ["--random", "10"] if script == "load-sample-data.sh" else []
    result = sandbox.run(script, "--dry-run", *args)
    assert result.returncode == 0, result.stderr
    assert sandbox.calls() == []
    assert "+ aws " in result.stderr


# ------------------------------------------------------------------ issue 15: real-run failures

def test_a_missing_stack_output_stops_the_run_once(sandbox: Sandbox) -> None:
    """`$(output X)` as a command argument used to print an error and run on with ''."""
    sandbox.set_state(missing_outputs=["FunctionAliasArn"])
    result = sandbox.run("deploy.sh")
    assert result.returncode != 0
    assert result.stderr.count("has no output FunctionAliasArn") == 1, result.stderr
    assert result.stderr.count("ERROR:") == 1, result.stderr
    assert 'step "deploy-stack" failed' in result.stderr
    assert "is up: function" not in result.stderr
    assert "deploy.sh: done" not in result.stderr
    # Nothing after the stack: no role association, no psql (no empty lambda_arn stored).
    assert not calls_named(sandbox, "aws rds add-role-to-db-cluster")
    assert not calls_named(sandbox, "psql")


def test_configure_never_stores_an_empty_value(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    sandbox.set_state(missing_outputs=["LambdaTimeoutSeconds"])
    sandbox.clear_calls()
    result = sandbox.run("configure.sh")
    assert result.returncode != 0
    assert 'step "configure" failed' in result.stderr
    assert result.stderr.count("ERROR:") == 1, result.stderr
    assert not calls_named(sandbox, "psql SELECT s3vl.configure(")


def test_a_die_inside_command_substitution_is_reported_once(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    sandbox.set_state(missing_outputs=["AuroraInvokeRoleArn"])
    result = sandbox.run("associate-role.sh")
    assert result.returncode != 0
    assert "has no output AuroraInvokeRoleArn" in result.stderr
    assert result.stderr.count("ERROR:") == 1, result.stderr


def test_cleanup_cleans_a_stack_that_never_finished_creating(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    stack = sandbox.state["stack"]
    stack["status"] = "ROLLBACK_COMPLETE"  # a failed create: the stack has no outputs
    sandbox.set_state(stack=stack)
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    assert sandbox.state["stack"] is None
    assert calls_named(sandbox, "aws cloudformation delete-stack")
    assert "no role to remove" in result.stderr
    # It says what it checked, and not what it did not.
    assert "nothing left: checked stack" in result.stderr
    assert "vector bucket" not in result.stderr.split("nothing left")[1]
    assert "role association" not in result.stderr.split("nothing left")[1]


def test_cleanup_tolerates_a_deleted_cluster(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    state = sandbox.state
    state["cluster"]["id"] = "some-other-cluster"  # ours is gone: DBClusterNotFoundFault
    sandbox.set_state(cluster=state["cluster"])
    sandbox.clear_calls()
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    assert "no longer exists" in result.stderr
    assert sandbox.state["stack"] is None
    assert not calls_named(sandbox, "psql")
    assert not calls_named(sandbox, "aws rds remove-role-from-db-cluster")
    again = sandbox.run("cleanup.sh", "--yes")
    assert again.returncode == 0, again.stderr


def test_cleanup_deletes_only_this_stacks_code(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    bucket = artifact_bucket(sandbox)
    buckets = sandbox.state["buckets"]
    others = [f"s3vl/lambda/{REGION}/other-stack/{'a' * 64}.zip", f"s3vl/lambda/{'b' * 64}.zip",
              "unrelated/file.txt"]
    buckets[bucket] += others
    sandbox.set_state(buckets=buckets)
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    assert sandbox.state["buckets"][bucket] == others


def test_drop_schema_failure_mentions_keep_schema(sandbox: Sandbox) -> None:
    assert sandbox.run("deploy.sh").returncode == 0
    sandbox.fail.append("psql uninstall.sql")
    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode != 0
    assert 'step "drop-schema" failed' in result.stderr and "--keep-schema" in result.stderr


def test_a_change_set_failure_prints_its_reason(sandbox: Sandbox) -> None:
    reason = "Template error: instance of Fn::GetAtt references undefined resource Nope"
    sandbox.set_state(change_sets=[
        {"ChangeSetName": "old", "Status": "FAILED", "StatusReason": "older reason",
         "CreationTime": "2000-01-01T00:00:00Z"},  # an earlier run's: not this failure
        {"ChangeSetName": "empty", "Status": "FAILED", "CreationTime": "2999-01-01T00:00:00Z",
         "StatusReason": "The submitted information didn't contain changes."},
        {"ChangeSetName": "new", "Status": "FAILED", "StatusReason": reason,
         "CreationTime": "2998-02-01T00:00:00Z"}])
    sandbox.fail.append("aws cloudformation deploy")
    result = sandbox.run("deploy-stack.sh")
    assert result.returncode != 0
    assert reason in result.stderr and "older reason" not in result.stderr
    assert "didn't contain changes" not in result.stderr
    assert "describe-change-set" in result.stderr


# ------------------------------------------------------------------ issue 16: artifact bucket

def test_artifact_bucket_name_is_unpredictable_and_reused(sandbox: Sandbox, tmp_path: Any) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    first = artifact_bucket(sandbox)
    assert ACCOUNT not in first  # nothing another account could guess from ours
    # A re-run (stack present) and a run without the stack both reuse it.
    assert sandbox.run("deploy-stack.sh").returncode == 0
    state = sandbox.state
    state["stack"] = None
    sandbox.set_state(stack=None)
    assert sandbox.run("deploy-stack.sh").returncode == 0
    assert list(sandbox.state["buckets"]) == [first]


def test_a_bucket_of_another_account_is_refused(sandbox: Sandbox) -> None:
    squatted = "s3vl-artifacts-shared"
    sandbox.set_state(buckets={squatted: []}, bucket_owners={squatted: "999999999999"})
    result = sandbox.run("deploy-stack.sh", extra_env={"S3VL_ARTIFACT_BUCKET": squatted})
    assert result.returncode != 0
    assert "not usable by account" in result.stderr and squatted in result.stderr
    assert not calls_named(sandbox, "aws s3api put-object")
    assert not calls_named(sandbox, "aws cloudformation deploy")


def test_pgsslmode_verify_full_fetches_the_rds_bundle_when_missing(sandbox: Sandbox) -> None:
    missing = sandbox.root / "no-such" / "bundle.pem"
    result = sandbox.run("install-schema.sh", "--dry-run",
                         extra_env={"S3VL_RDS_CA_BUNDLE": str(missing)})
    assert result.returncode == 0, result.stderr
    assert "curl -fsS --proto =https" in result.stderr
    assert "truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in result.stderr
    assert "sslmode verify-full" in result.stderr


# ------------------------------------------------------------------ issue 11: text search

def set_parameter(sandbox: Sandbox, key: str, value: str) -> None:
    params = json.loads(sandbox.parameters.read_text())
    for entry in params:
        if entry["ParameterKey"] == key:
            entry["ParameterValue"] = value
    sandbox.parameters.write_text(json.dumps(params))


def test_deploy_makes_the_text_search_keys_searchable_once(sandbox: Sandbox) -> None:
    set_parameter(sandbox, "TextSearch", "name:en,description:en,sku")
    result = sandbox.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    order = positions(commands, ["aws cloudformation deploy", "aws s3vectors get-index",
                                 "aws s3vectors update-index-mode",
                                 "aws s3vectors update-metadata-configuration",
                                 "aws rds add-role-to-db-cluster"])
    assert order == sorted(order), commands
    (mode,) = calls_named(sandbox, "aws s3vectors update-index-mode")
    assert option(mode, "--index-mode") == "ENHANCED"
    assert option(mode, "--index-arn") == INDEX_ARN
    (add,) = calls_named(sandbox, "aws s3vectors update-metadata-configuration")
    assert json.loads(option(add, "--add")) == {"textSearchConfigurations": [
        {"metadataKey": "name", "language": "en"},
        {"metadataKey": "description", "language": "en"}, {"metadataKey": "sku"}]}
    # Idempotent: a re-run reads the index and changes nothing; a new key adds only itself.
    sandbox.clear_calls()
    assert sandbox.run("configure-text-search.sh").returncode == 0
    assert [c for c in sandbox.commands() if "s3vectors" in c] == ["aws s3vectors get-index"]
    set_parameter(sandbox, "TextSearch", "name:en,description:en,sku,brand:de")
    sandbox.clear_calls()
    assert sandbox.run("configure-text-search.sh").returncode == 0
    (add,) = calls_named(sandbox, "aws s3vectors update-metadata-configuration")
    assert json.loads(option(add, "--add")) == {"textSearchConfigurations": [
        {"metadataKey": "brand", "language": "de"}]}
    assert not calls_named(sandbox, "aws s3vectors update-index-mode")


def test_text_search_dry_run_prints_the_commands(sandbox: Sandbox) -> None:
    set_parameter(sandbox, "TextSearch", "name:en")
    result = sandbox.run("configure-text-search.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert sandbox.calls() == []
    assert "s3vectors update-index-mode" in result.stderr
    assert "--index-mode ENHANCED" in result.stderr
    assert "s3vectors update-metadata-configuration" in result.stderr
    assert '"metadataKey":"name","language":"en"' in result.stderr


@pytest.mark.parametrize(("spec", "message"), [
    ("name:xx", "language 'xx'"),
    ("name,name:en", "listed twice"),
    (",".join(f"k{i}" for i in range(11)), "at most 10"),
])
def test_text_search_rejects_bad_specs_before_changing_anything(
        sandbox: Sandbox, spec: str, message: str) -> None:
    assert sandbox.run("deploy-stack.sh").returncode == 0
    set_parameter(sandbox, "TextSearch", spec)
    sandbox.clear_calls()
    result = sandbox.run("configure-text-search.sh")
    assert result.returncode != 0
    assert message in result.stderr and "TextSearch" in result.stderr
    assert not [c for c in sandbox.commands() if "update-" in c]


def test_text_search_refuses_a_key_with_another_language(sandbox: Sandbox) -> None:
    set_parameter(sandbox, "TextSearch", "name:en")
    assert sandbox.run("deploy.sh").returncode == 0
    set_parameter(sandbox, "TextSearch", "name:fr")
    result = sandbox.run("configure-text-search.sh")
    assert result.returncode != 0
    assert "already searchable with language en, not fr" in result.stderr


# ------------------------------------------------------------------ issue 24: pg_tle

@pytest.mark.parametrize("how", ["flag", "environment"])
def test_install_schema_through_pg_tle(sandbox: Sandbox, how: str) -> None:
    """--pgtle (or S3VL_PGTLE=1, which deploy.sh passes on) registers the extension built by
    sql/build-pgtle.sh, then creates or updates it; install.sql is not run."""
    if how == "flag":
        result = sandbox.run("install-schema.sh", "--pgtle")
    else:
        result = sandbox.run("install-schema.sh", extra_env={"S3VL_PGTLE": "1"})
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    order = positions(commands, ["psql -f s3vl-pgtle.sql", "CREATE EXTENSION s3vl CASCADE"])
    assert order == sorted(order), commands
    assert "ALTER EXTENSION s3vl UPDATE" in commands[order[1]]  # when it exists already
    assert not [c for c in commands if c.endswith("install.sql")]
    (registered,) = calls_named(sandbox, "psql -f s3vl-pgtle.sql")
    assert Path(option(registered, "-f")).read_text().count("pgtle.install_extension(") == 1


def test_deploy_with_pgtle_installs_through_pg_tle(sandbox: Sandbox) -> None:
    result = sandbox.run("deploy.sh", "--pgtle")
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    order = positions(commands, ["aws rds add-role-to-db-cluster", "psql -f s3vl-pgtle.sql",
                                 "CREATE EXTENSION s3vl CASCADE", "psql SELECT s3vl.configure("])
    assert order == sorted(order), commands
    assert "psql -f install.sql" not in commands


def test_install_schema_without_pg_tle_is_unchanged(sandbox: Sandbox) -> None:
    result = sandbox.run("install-schema.sh")
    assert result.returncode == 0, result.stderr
    commands = sandbox.commands()
    assert "psql -f install.sql" in commands
    assert not [c for c in commands if "pgtle" in c or "CREATE EXTENSION s3vl" in c]
