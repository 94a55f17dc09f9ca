"""Static checks of cloudformation/template.yaml and parameters.example.json: linters, IAM
actions against the service models botocore ships, least privilege, and agreement with the
function package and the scripts."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.validate import ParamValidator

from infra.conftest import REPO_ROOT, SCRIPTS, TEMPLATE

VENV_BIN = Path(sys.executable).parent
LAMBDA_PACKAGE = REPO_ROOT / "lambda" / "s3vl_lambda"
# IAM service prefix -> botocore service name, for every prefix the template may use.
IAM_PREFIX_TO_BOTOCORE = {"s3vectors": "s3vectors", "logs": "logs", "sqs": "sqs", "ec2": "ec2",
                          "kms": "kms", "lambda": "lambda", "sts": "sts",
                          "bedrock": "bedrock-runtime"}
# IAM actions whose API operation has another name.
IAM_ACTION_TO_OPERATION = {"lambda:InvokeFunction": "lambda:Invoke"}
EMBEDDING_MODEL_ARN = {"Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::"
                                  "foundation-model/${AllowedEmbeddingModels}"}
FUNCTION_S3VECTORS_ACTIONS = {"QueryVectors", "GetVectors", "ListVectors", "PutVectors",
                              "DeleteVectors", "GetIndex"}
# Granted only with AllowIndexAdministration=true.
INDEX_ADMIN_ACTIONS = {"UpdateIndexMode", "UpdateMetadataConfiguration"}


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def flatten_if(value: Any) -> Iterator[Any]:
    """Both branches of Fn::If, recursively; plain values as they are."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from flatten_if(branch)
    elif isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return
    else:
        yield value


def policy_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        for concrete in flatten_if(policy):
            yield from concrete["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def refs_in(value: Any) -> set[str]:
    """Logical ids a value points at through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(str(inner))
            elif key == "Fn::GetAtt":
                found.add(str(inner[0] if isinstance(inner, list) else inner.split(".")[0]))
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text)))
                found |= refs_in(inner[1] if isinstance(inner, list) else None)
            else:
                found |= refs_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs_in(inner)
    return found


def test_cfn_lint_has_no_errors_or_warnings() -> None:
    result = subprocess.run([str(VENV_BIN / "cfn-lint"), "--format", "parseable", str(TEMPLATE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_checkov_passes_with_only_reasoned_skips(template: dict[str, Any]) -> None:
    result = subprocess.run(
        # Relative path from the template's folder: checkov's CKV_AWS_45 scans the file path it
        # stores beside the variables, and a checkout path with a 40-character run of letters and
        # slashes looks like an AWS secret key to it (seen in CI).
        [str(VENV_BIN / "checkov"), "-f", TEMPLATE.name, "--framework", "cloudformation",
         "--skip-download", "--output", "json"],
        cwd=TEMPLATE.parent, capture_output=True, text=True, timeout=240,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": str(VENV_BIN), "HOME": "/tmp"})
    report = json.loads(result.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 20
    # Every skip is written in the template with a reason, and every written skip is used.
    used = {(c["resource"].split(".", 1)[1], c["check_id"]) for c in results["skipped_checks"]}
    written = set()
    for name, resource in template["Resources"].items():
        for entry in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(entry["comment"]) > 30, entry
            written.add((name, entry["id"]))
    assert used == written


def every_policy_statement(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Role trust and inline policies, and VPC endpoint policies."""
    for name, role in resources_of_type(template, "AWS::IAM::Role").items():
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for statement in [*trust, *policy_statements(role)]:
            yield name, statement
    for name, endpoint in resources_of_type(template, "AWS::EC2::VPCEndpoint").items():
        for statement in endpoint["Properties"]["PolicyDocument"]["Statement"]:
            yield name, statement


def test_every_iam_action_exists_and_none_is_wildcard(template: dict[str, Any]) -> None:
    session = botocore.session.get_session()
    operations: dict[str, set[str]] = {}
    checked = 0
    for name, statement in every_policy_statement(template):
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{name}: wildcard action {action}"
            prefix, operation = IAM_ACTION_TO_OPERATION.get(action, action).split(":")
            service = IAM_PREFIX_TO_BOTOCORE[prefix]
            if service not in operations:
                operations[service] = set(session.get_service_model(service).operation_names)
            assert operation in operations[service], f"{name}: {action} is not an API action"
            checked += 1
    assert checked >= 25


def test_function_role_is_scoped_to_this_stack(template: dict[str, Any]) -> None:
    role = template["Resources"]["FunctionRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    statements = list(policy_statements(role))
    s3vectors = [s for s in statements if as_list(s["Action"])[0].startswith("s3vectors:")]
    (vector_statement, admin_statement) = s3vectors
    assert {a.split(":")[1] for a in vector_statement["Action"]} == FUNCTION_S3VECTORS_ACTIONS
    assert {a.split(":")[1] for a in admin_statement["Action"]} == INDEX_ADMIN_ACTIONS
    for statement in s3vectors:
        assert statement["Resource"] == {"Fn::GetAtt": ["VectorIndex", "IndexArn"]}
    for statement in statements:
        actions = as_list(statement["Action"])
        if any(a.startswith("logs:") for a in actions):
            assert "logs:CreateLogGroup" not in actions
            assert refs_in(statement["Resource"]) == {"FunctionLogGroup"}
        if any(a.startswith("sqs:") for a in actions):
            assert refs_in(statement["Resource"]) == {"DeadLetterQueue"}
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:") for a in actions), actions
            # Only reads go without a condition; what changes interfaces is held to the VPC.
            if "Condition" not in statement:
                assert all(a.startswith("ec2:Describe") for a in actions), actions
            else:
                vpc = statement["Condition"]["ArnEquals"]["ec2:Vpc"]
                assert refs_in(vpc) == {"VpcId", "AWS::Partition", "AWS::Region",
                                        "AWS::AccountId"}, vpc


def test_index_administration_is_off_by_default_and_scoped(template: dict[str, Any]) -> None:
    param = template["Parameters"]["AllowIndexAdministration"]
    assert param["Default"] == "false" and sorted(param["AllowedValues"]) == ["false", "true"]
    assert template["Conditions"]["IndexAdministration"] == {
        "Fn::Equals": [{"Ref": "AllowIndexAdministration"}, "true"]}
    env = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["S3VL_ALLOW_INDEX_ADMIN"] == {"Ref": "AllowIndexAdministration"}
    policies = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    conditional = [p for p in policies if isinstance(p, dict) and "Fn::If" in p]
    admin = [p for p in conditional if p["Fn::If"][0] == "IndexAdministration"]
    (policy,) = admin
    granted, otherwise = policy["Fn::If"][1:]
    assert otherwise == {"Ref": "AWS::NoValue"}
    (statement,) = granted["PolicyDocument"]["Statement"]
    assert {a.split(":")[1] for a in statement["Action"]} == INDEX_ADMIN_ACTIONS
    assert statement["Resource"] == {"Fn::GetAtt": ["VectorIndex", "IndexArn"]}
    # Nowhere else in the function role.
    unconditional = [p for p in policies if p not in conditional]
    for entry in unconditional:
        for st in entry["PolicyDocument"]["Statement"]:
            assert not {a.split(":")[1] for a in as_list(st["Action"])} & INDEX_ADMIN_ACTIONS


def test_endpoint_policies_allow_only_this_stack_and_account(template: dict[str, Any]) -> None:
    endpoints = resources_of_type(template, "AWS::EC2::VPCEndpoint")
    by_service = {e["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]: e
                  for e in endpoints.values()}
    expected = {"s3vectors": {"VectorIndex"}, "lambda": {"FunctionAlias"},
                "bedrock-runtime": {"AllowedEmbeddingModels", "AWS::Partition", "AWS::Region"}}
    for service, endpoint in by_service.items():
        statements = endpoint["Properties"]["PolicyDocument"]["Statement"]
        assert statements, service
        for statement in statements:
            assert statement["Effect"] == "Allow"
            assert refs_in(statement["Resource"]) == expected[service], statement
            assert statement["Condition"] == {
                "StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
            iam_prefix = "bedrock" if service == "bedrock-runtime" else service
            assert all(a.startswith(iam_prefix + ":") and "*" not in a
                       for a in as_list(statement["Action"]))
    lambda_actions = {a for st in by_service["lambda"]["Properties"]["PolicyDocument"]["Statement"]
                      for a in as_list(st["Action"])}
    assert lambda_actions == {"lambda:InvokeFunction"}


def test_function_role_grants_every_s3vectors_call_the_function_makes() -> None:
    session = botocore.session.get_session()
    snake = {xform_name(op): op for op in session.get_service_model("s3vectors").operation_names}
    called: set[str] = set()
    for source in LAMBDA_PACKAGE.rglob("*.py"):
        if source.name == "__init__.py":  # the protocol's dispatch table, not API calls
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value in snake:
                called.add(snake[value])
    assert "QueryVectors" in called and "PutVectors" in called, called
    allowed = FUNCTION_S3VECTORS_ACTIONS | INDEX_ADMIN_ACTIONS
    assert called <= allowed, called - allowed


def test_aurora_role_invokes_only_this_function(template: dict[str, Any]) -> None:
    role = template["Resources"]["AuroraInvokeRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == {"Ref": "AuroraClusterArn"}
    (statement,) = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statement["Action"] == "lambda:InvokeFunction"
    # The live alias only: not the unqualified function ($LATEST) nor old versions.
    assert statement["Resource"] == {"Ref": "FunctionAlias"}


def test_function_matches_the_package_script(template: dict[str, Any]) -> None:
    script = (SCRIPTS / "package-lambda.sh").read_text()
    runtime = re.search(r"^RUNTIME=(\S+)", script, re.M)
    handler = re.search(r"^HANDLER=(\S+)", script, re.M)
    assert runtime and handler
    props = template["Resources"]["Function"]["Properties"]
    assert props["Runtime"] == runtime.group(1)
    assert props["Handler"] == handler.group(1)
    module, function = handler.group(1).rsplit(".", 1)
    source = REPO_ROOT / "lambda" / (module.replace(".", "/") + ".py")
    assert f"def {function}(" in source.read_text()
    assert template["Parameters"]["LambdaArchitecture"]["Default"] == "arm64"


def test_function_deploys_real_code_and_alias_follows_it(template: dict[str, Any]) -> None:
    res = template["Resources"]
    code = res["Function"]["Properties"]["Code"]
    assert set(code) == {"S3Bucket", "S3Key"}  # no inline placeholder
    assert refs_in(code) == {"CodeS3Bucket", "CodeS3Key"}
    version = res["FunctionVersion"]["Properties"]
    assert version["CodeSha256"] == {"Ref": "CodeSha256"}
    # Both a code and a configuration change publish a new version (Description: replacement).
    assert refs_in(version["Description"]) == {"CodeSha256", "ConfigDigest"}
    alias = res["FunctionAlias"]["Properties"]
    assert alias["FunctionVersion"] == {"Fn::GetAtt": ["FunctionVersion", "Version"]}
    env = res["Function"]["Properties"]["Environment"]["Variables"]
    assert env["S3VL_ALLOWED_INDEX_ARNS"] == {"Fn::GetAtt": ["VectorIndex", "IndexArn"]}
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL"} <= set(env)


def test_log_group_exists_before_the_function(template: dict[str, Any]) -> None:
    res = template["Resources"]
    props = res["Function"]["Properties"]
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    group = res["FunctionLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["LogGroupName"]["Fn::Sub"].endswith(props["FunctionName"]["Fn::Sub"])


def test_function_network_is_https_only(template: dict[str, Any]) -> None:
    res = template["Resources"]
    assert res["Function"]["Properties"]["VpcConfig"]["SecurityGroupIds"] == [
        {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}]
    (egress,) = res["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    extra = [r for r in resources_of_type(template, "AWS::EC2::SecurityGroupEgress").values()
             if r["Properties"]["GroupId"] == {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}]
    assert extra == []
    endpoints = resources_of_type(template, "AWS::EC2::VPCEndpoint")
    services = sorted(e["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
                      for e in endpoints.values())
    assert services == ["bedrock-runtime", "lambda", "s3vectors"]
    for endpoint in endpoints.values():
        assert endpoint["Condition"] in ("CreateEndpoints", "EmbeddingEndpoint")
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    assert res["BedrockRuntimeEndpoint"]["Condition"] == "EmbeddingEndpoint"
    assert template["Conditions"]["EmbeddingEndpoint"] == {"Fn::And": [
        {"Condition": "CreateEndpoints"}, {"Condition": "HasEmbeddingModel"}]}


def test_embedding_model_is_a_setting_and_iam_names_only_it(template: dict[str, Any]) -> None:
    from s3vl_lambda import limits

    param = template["Parameters"]["AllowedEmbeddingModels"]
    assert param["Default"] == limits.TITAN_TEXT_EMBEDDINGS_V2
    assert sorted(param["AllowedValues"]) == sorted([*limits.EMBEDDING_MODEL_DIMENSIONS, ""])
    env = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["S3VL_EMBEDDING_MODELS"] == {"Ref": "AllowedEmbeddingModels"}
    policies = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    (policy,) = [p for p in policies if isinstance(p, dict) and "Fn::If" in p
                 and p["Fn::If"][0] == "HasEmbeddingModel"]
    granted, otherwise = policy["Fn::If"][1:]
    assert otherwise == {"Ref": "AWS::NoValue"}
    (statement,) = granted["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("bedrock:InvokeModel",
                                                            EMBEDDING_MODEL_ARN)
    bedrock = [st for _, st in every_policy_statement(template)
               if any(a.startswith("bedrock:") for a in as_list(st["Action"]))]
    assert len(bedrock) == 2  # the role's and the endpoint's, both on the one model
    assert all(st["Resource"] == EMBEDDING_MODEL_ARN for st in bedrock)


def test_dead_letter_queue_and_alarms(template: dict[str, Any]) -> None:
    res = template["Resources"]
    queue = res["DeadLetterQueue"]["Properties"]
    assert "KmsMasterKeyId" in queue and "SqsManagedSseEnabled" in queue
    assert res["Function"]["Properties"]["DeadLetterConfig"]["TargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    metrics = set()
    for alarm in alarms:
        props = alarm["Properties"]
        if "MetricName" in props:
            metrics.add(props["MetricName"])
        for metric in props.get("Metrics", []):
            if "MetricStat" in metric:
                metrics.add(metric["MetricStat"]["Metric"]["MetricName"])
    assert metrics == {"Errors", "Throttles", "Duration", "ApproximateNumberOfMessagesVisible"}


def test_index_dimension_and_metric_constraints(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert (params["IndexDimension"]["MinValue"], params["IndexDimension"]["MaxValue"]) == (1, 4096)
    assert sorted(params["DistanceMetric"]["AllowedValues"]) == ["cosine", "euclidean"]
    pattern = re.compile(params["AuroraClusterArn"]["AllowedPattern"])
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        assert pattern.match(f"arn:{partition}:rds:r-1:123456789012:cluster:db-1")
    assert not pattern.match("arn:aws:rds:us-east-1:123456789012:db:instance-1")


def test_outputs_cover_what_the_scripts_read(template: dict[str, Any]) -> None:
    read = set()
    for script in [*SCRIPTS.glob("*.sh"), *SCRIPTS.glob("lib/*.sh")]:
        read |= set(re.findall(r"(?:stack_output \w+|has_output) ([A-Z][a-z][A-Za-z0-9]+)",
                               script.read_text()))
    assert {"FunctionAliasArn", "IndexArn", "AuroraInvokeRoleArn"} <= read
    assert read <= set(template["Outputs"]), read - set(template["Outputs"])
    assert "add-role-to-db-cluster" in json.dumps(template["Outputs"]["AddRoleToDbClusterCommand"])


def test_parameters_example_is_create_stack_input_with_every_parameter(
        template: dict[str, Any]) -> None:
    example = json.loads((REPO_ROOT / "parameters.example.json").read_text())
    # Exactly what `aws cloudformation create-stack --parameters file://...` sends.
    model = botocore.session.get_session().get_service_model("cloudformation")
    shape = model.operation_model("CreateStack").input_shape
    assert shape is not None
    report = ParamValidator().validate({"StackName": "s3vl", "Parameters": example}, shape)
    assert not report.has_errors(), report.generate_report()
    keys = [e["ParameterKey"] for e in example]
    assert sorted(keys) == sorted(template["Parameters"]) and len(keys) == len(set(keys))
    for entry in example:
        spec = template["Parameters"][entry["ParameterKey"]]
        value = entry["ParameterValue"]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], entry
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), entry
        if "MinValue" in spec:
            assert spec["MinValue"] <= int(value) <= spec["MaxValue"], entry


@pytest.mark.parametrize("bad", ["arn:aws:rds:us-east-1:123:cluster:x", "my-cluster"])
def test_cluster_arn_pattern_rejects(template: dict[str, Any], bad: str) -> None:
    assert not re.fullmatch(template["Parameters"]["AuroraClusterArn"]["AllowedPattern"], bad)
