"""The real deploy scripts, run as a user would with the real AWS CLI, against moto's server
(CloudFormation, IAM, Lambda, S3, SQS, EC2, RDS, S3 Vectors; tests/infra/moto_harness.py says
what is patched and why). psql is the recording fake: the SQL steps have their own tests against
the local PostgreSQL (test_sql_steps_local.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from moto.cloudformation.models import cloudformation_backends

from infra import moto_harness
from infra.conftest import FAKE_CLI, REPO_ROOT, SCRIPTS, isolated_aws_env

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server, url = moto_harness.start()
    yield url
    server.stop()


@dataclass
class Account:
    """A user's AWS account in moto (a VPC, subnets, an Aurora PostgreSQL cluster) and a folder
    from which to run the scripts against it."""

    root: Path
    endpoint: str
    env: dict[str, str]
    parameters: Path
    zip_path: Path
    cluster: str
    stack: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPTS / script), "--parameters", str(self.parameters),
                               "--stack-name", self.stack, *args],
                              capture_output=True, text=True, env=self.env, timeout=120,
                              cwd=self.root)

    def write_zip(self, marker: str) -> str:
        """A small function zip (the real package's code); returns its base64 SHA-256."""
        content = moto_harness.small_function_zip(self.zip_path, marker)
        return base64.b64encode(hashlib.sha256(content).digest()).decode()

    def outputs(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def stack_names(self) -> list[str]:
        summaries = self.client("cloudformation").list_stacks()["StackSummaries"]
        return [s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"]

    def roles(self) -> list[dict[str, Any]]:
        cluster = self.client("rds").describe_db_clusters(
            DBClusterIdentifier=self.cluster)["DBClusters"][0]
        return list(cluster.get("AssociatedRoles", []))

    def psql_calls(self) -> list[dict[str, Any]]:
        log = self.root / "fake" / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def code_objects(self, bucket: str) -> list[str]:
        answer = self.client("s3").list_objects_v2(Bucket=bucket)
        return sorted(o["Key"] for o in answer.get("Contents", []))


def make_account(root: Path, url: str, name: str, **parameters: str) -> Account:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for i, zone in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName=f"{name}-db", Description="Aurora",
                                      VpcId=vpc)["GroupId"]
    rds = boto3.client("rds", region_name=REGION, endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    rds.create_db_subnet_group(DBSubnetGroupName=f"{name}-subnets",
                               DBSubnetGroupDescription="Aurora", SubnetIds=subnets)
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=f"{name}-db", Engine="aurora-postgresql", EngineVersion="16.4",
        MasterUsername="postgres", MasterUserPassword="not-a-secret-1",
        DBSubnetGroupName=f"{name}-subnets", VpcSecurityGroupIds=[group])["DBCluster"]
    example = json.loads((REPO_ROOT / "parameters.example.json").read_text())
    values = {"AuroraClusterArn": cluster["DBClusterArn"], "VpcId": vpc,
              "SubnetIds": ",".join(subnets), "DatabaseSecurityGroupId": group,
              "IndexDimension": "8", "ResourcePrefix": name, **parameters}
    parameters = root / "parameters.json"
    parameters.write_text(json.dumps([
        {"ParameterKey": e["ParameterKey"],
         "ParameterValue": values.get(e["ParameterKey"], e["ParameterValue"])} for e in example]))
    fake = root / "fake"
    fake.mkdir()
    (fake / "state.json").write_text(json.dumps({"psql": {"schema": False,
                                                          "validate_failures": "0"}}))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "psql"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CLI}" psql "$@"\n')
    shim.chmod(0o755)
    ca_bundle = root / "rds-ca.pem"
    ca_bundle.write_text("(test bundle)\n")
    env = isolated_aws_env(root)
    # The venv's AWS CLI v1 bundles a botocore whose s3vectors model predates UpdateIndexMode and
    # UpdateMetadataConfiguration: it reads the current one (botocore's) from AWS_DATA_PATH.
    shutil.copytree(Path(botocore.__file__).parent / "data" / "s3vectors",
                    root / "models" / "s3vectors")
    env["AWS_DATA_PATH"] = str(root / "models")
    # The venv's AWS CLI first on PATH; credentials are moto's dummy ones, endpoint loopback.
    env.update(PATH=f"{bin_dir}:{VENV_BIN}:{env['PATH']}", AWS_ENDPOINT_URL=url,
               FAKE_DIR=str(fake), S3VL_LAMBDA_ZIP=str(root / "s3vl-lambda.zip"),
               S3VL_RDS_CA_BUNDLE=str(ca_bundle), S3VL_POLL_SECONDS="0",
               PYTHON=sys.executable, TMPDIR=str(root))
    return Account(root, url, env, parameters, root / "s3vl-lambda.zip", f"{name}-db",
                   f"{name}-stack")


def test_deploy_rerun_update_and_cleanup(tmp_path: Path, endpoint: str) -> None:
    account = make_account(tmp_path, endpoint, "full", TextSearch="name:en,sku")
    first_sha = account.write_zip("v1")
    result = account.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    outputs = account.outputs()
    alias = outputs["FunctionAliasArn"]
    assert alias.endswith(":live") and outputs["FunctionVersion"] == "1"
    lam = account.client("lambda")
    assert lam.get_function(FunctionName=alias)["Configuration"]["CodeSha256"] == first_sha
    environment = lam.get_function(FunctionName=alias)["Configuration"]["Environment"]
    assert environment["Variables"]["S3VL_ALLOW_INDEX_ADMIN"] == "false"
    assert environment["Variables"]["S3VL_ALLOWED_INDEX_ARNS"] == outputs["IndexArn"]
    # The index exists in moto's S3 Vectors, where the scripts' s3vectors calls go.
    index = account.client("s3vectors").get_index(indexArn=outputs["IndexArn"])["index"]
    assert index["dimension"] == 8
    # configure-text-search made TextSearch's keys searchable.
    assert index["indexMode"] == "ENHANCED"
    assert index["metadataConfiguration"]["textSearchConfigurations"] == [
        {"metadataKey": "name", "language": "en", "status": "ACTIVE"},
        {"metadataKey": "sku", "status": "ACTIVE"}]
    assert account.roles() == [{"RoleArn": outputs["AuroraInvokeRoleArn"],
                                "FeatureName": "Lambda", "Status": "ACTIVE"}]
    configure = [c for c in account.psql_calls() if "s3vl.configure" in (c["stdin"] or "")]
    assert f"lambda_arn={alias}" in configure[0]["argv"]
    assert "function answers directly" in result.stderr  # the uploaded handler answered
    bucket = account.client("cloudformation").describe_stacks(StackName=account.stack)[
        "Stacks"][0]["Parameters"]
    artifact_bucket = next(p["ParameterValue"] for p in bucket
                           if p["ParameterKey"] == "CodeS3Bucket")
    uploaded = account.code_objects(artifact_bucket)
    assert len(uploaded) == 1

    # A re-run changes nothing: same object, same version, role not associated again.
    again = account.run("deploy.sh")
    assert again.returncode == 0, again.stderr
    assert "already uploaded" in again.stderr and "already associated" in again.stderr
    assert "key name is already searchable" in again.stderr
    assert "update-metadata-configuration" not in again.stderr
    assert account.outputs()["FunctionVersion"] == "1"
    assert account.code_objects(artifact_bucket) == uploaded

    # Unchanged code: update-function-code is a no-op. New code: a new version behind the alias.
    same = account.run("update-function-code.sh")
    assert same.returncode == 0, same.stderr
    assert account.outputs()["FunctionVersion"] == "1"
    second_sha = account.write_zip("v2")
    updated = account.run("update-function-code.sh")
    assert updated.returncode == 0, updated.stderr
    assert account.outputs()["FunctionVersion"] == "2"
    assert lam.get_function(FunctionName=alias)["Configuration"]["CodeSha256"] == second_sha

    # Another stack's code in the same bucket must survive this stack's cleanup.
    other = f"s3vl/lambda/{REGION}/another-stack/{'0' * 64}.zip"
    account.client("s3").put_object(Bucket=artifact_bucket, Key=other, Body=b"PK other")
    cleaned = account.run("cleanup.sh", "--yes")
    assert cleaned.returncode == 0, cleaned.stderr
    assert account.stack not in account.stack_names()
    assert account.roles() == []
    assert account.code_objects(artifact_bucket) == [other]
    buckets = account.client("s3vectors").list_vector_buckets()["vectorBuckets"]
    assert outputs["VectorBucketName"] not in [b["vectorBucketName"] for b in buckets]
    assert "checked stack,role association,vector bucket" in cleaned.stderr
    twice = account.run("cleanup.sh", "--yes")
    assert twice.returncode == 0, twice.stderr
    assert "does not exist" in twice.stderr


def test_cleanup_of_a_stack_that_failed_to_create(tmp_path: Path, endpoint: str) -> None:
    account = make_account(tmp_path, endpoint, "failed")
    # What a failed create leaves on AWS: the stack in ROLLBACK_COMPLETE, without outputs.
    account.client("cloudformation").create_stack(
        StackName=account.stack, TemplateBody=json.dumps({"Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"}}}))
    backend = cloudformation_backends[ACCOUNT][REGION]
    (stack,) = [s for s in backend.stacks.values() if s.name == account.stack]
    stack.status = "ROLLBACK_COMPLETE"
    result = account.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    assert account.stack not in account.stack_names()
    assert "no role to remove" in result.stderr


def test_role_conflict_then_cleanup_after_the_cluster_is_gone(tmp_path: Path,
                                                             endpoint: str) -> None:
    account = make_account(tmp_path, endpoint, "gone", CreateVpcEndpoints="true",
                           AllowIndexAdministration="true")
    account.write_zip("v1")
    # The cluster already has a role for the Lambda feature: associate-role stops and names it.
    other = f"arn:aws:iam::{ACCOUNT}:role/existing-lambda-role"
    account.client("rds").add_role_to_db_cluster(DBClusterIdentifier=account.cluster,
                                                 RoleArn=other, FeatureName="Lambda")
    deployed = account.run("deploy-stack.sh")
    assert deployed.returncode == 0, deployed.stderr
    outputs = account.outputs()
    # The other branch of the template: endpoints with their policies, index administration on.
    endpoints = account.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    # (moto hands the policy back in its own notation, so the values are looked up as text.)
    policies = {e["ServiceName"].rsplit(".", 1)[1]: str(e["PolicyDocument"])
                for e in endpoints if e["VpcId"] in account.parameters.read_text()}
    assert sorted(policies) == ["lambda", "s3vectors"]
    assert outputs["FunctionAliasArn"] in policies["lambda"]
    assert outputs["IndexArn"] in policies["s3vectors"]
    assert all("aws:PrincipalAccount" in policy for policy in policies.values())
    config = account.client("lambda").get_function(FunctionName=outputs["FunctionAliasArn"])
    assert config["Configuration"]["Environment"]["Variables"]["S3VL_ALLOW_INDEX_ADMIN"] == "true"
    conflict = account.run("associate-role.sh")
    assert conflict.returncode != 0
    assert 'step "associate-role" failed' in conflict.stderr and other in conflict.stderr
    assert "remove-role-from-db-cluster" in conflict.stderr
    assert [r["RoleArn"] for r in account.roles()] == [other]
    # The cluster is deleted before the stack: cleanup still removes the stack.
    account.client("rds").delete_db_cluster(DBClusterIdentifier=account.cluster,
                                            SkipFinalSnapshot=True)
    result = account.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    assert "no longer exists" in result.stderr
    assert account.stack not in account.stack_names()
