"""Recording fakes of the `aws` and `psql` command-line tools for the deploy-script tests.

`python fake_cli.py aws ARGS...` / `python fake_cli.py psql ARGS...`, installed as shims on PATH.
Each call is appended to `$FAKE_DIR/calls.jsonl` (argv, stdin, PG* environment); answers come
from a small model of the AWS account in `$FAKE_DIR/state.json` (stack, cluster roles, buckets),
so re-runs see what earlier runs did. `$FAKE_FAIL` (patterns separated by ";") makes matching
calls fail like the real tool: "aws rds add-role-to-db-cluster" matches the service and
operation, "psql install.sql" matches any psql call whose arguments or SQL contain the text.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import jmespath

AWS_GLOBAL_OPTIONS = {"--region", "--endpoint-url", "--output", "--query", "--profile"}
AWS_ERROR_EXIT = 254  # what AWS CLI v1/v2 return for a service error
PSQL_ERROR_EXIT = 3  # psql with ON_ERROR_STOP after an SQL error


class CommandError(Exception):
    def __init__(self, message: str, status: int = AWS_ERROR_EXIT) -> None:
        super().__init__(message)
        self.status = status


def fake_dir() -> Path:
    return Path(os.environ["FAKE_DIR"])


def load_state() -> dict[str, Any]:
    state: dict[str, Any] = json.loads((fake_dir() / "state.json").read_text())
    return state


def save_state(state: dict[str, Any]) -> None:
    (fake_dir() / "state.json").write_text(json.dumps(state, indent=1))


def record(tool: str, argv: list[str], stdin: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("PG")}
    entry = {"tool": tool, "argv": argv, "stdin": stdin, "env": env}
    with (fake_dir() / "calls.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def injected_failure(tool: str, words: list[str], text: str) -> str | None:
    for pattern in filter(None, (p.strip() for p in os.environ.get("FAKE_FAIL", "").split(";"))):
        parts = pattern.split(" ", 1)
        if parts[0] != tool:
            continue
        rest = parts[1] if len(parts) > 1 else ""
        if tool == "aws" and words[: len(rest.split())] == rest.split():
            return pattern
        if tool == "psql" and rest in text:
            return pattern
    return None


# ----------------------------------------------------------------------------- aws

def parse_aws(argv: list[str]) -> tuple[dict[str, str], list[str], dict[str, list[str]], list[str]]:
    """Global options, [service, operation], operation options, positionals."""
    globals_: dict[str, str] = {}
    words: list[str] = []
    options: dict[str, list[str]] = {}
    positionals: list[str] = []
    current: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in AWS_GLOBAL_OPTIONS:
            globals_[arg] = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--"):
            current = arg
            options.setdefault(arg, [])
        elif len(words) < 2:
            words.append(arg)
        elif current is None:
            positionals.append(arg)
        else:
            options[current].append(arg)
        i += 1
    return globals_, words, options, positionals


def one(options: dict[str, list[str]], name: str) -> str:
    values = options.get(name)
    if not values:
        raise CommandError(f"aws: error: the following arguments are required: {name}", 252)
    return values[0]


def stack_outputs(state: dict[str, Any]) -> list[dict[str, str]]:
    stack = state["stack"]
    p = stack["params"]
    region, account = state["region"], state["account"]
    prefix = p.get("ResourcePrefix", "s3vl")
    cluster = p["AuroraClusterArn"].split(":")[6]
    bucket = f"{prefix}-{account}-{region}"
    function = f"{prefix}-s3vectors-bridge"
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{function}"
    index = p.get("IndexName", "embeddings")
    index_arn = f"arn:aws:s3vectors:{region}:{account}:bucket/{bucket}/index/{index}"
    role = state["stack_role_arn"]
    values = {
        "Region": region,
        "AuroraClusterIdentifier": cluster,
        "VectorBucketName": bucket,
        "VectorBucketArn": f"arn:aws:s3vectors:{region}:{account}:bucket/{bucket}",
        "IndexName": p.get("IndexName", "embeddings"),
        "IndexArn": index_arn,
        "IndexDimension": p.get("IndexDimension", "1024"),
        "DistanceMetric": p.get("DistanceMetric", "cosine"),
        "FunctionName": function,
        "FunctionArn": function_arn,
        "FunctionAliasArn": f"{function_arn}:live",
        "FunctionVersion": str(stack["version"]),
        "LambdaTimeoutSeconds": p.get("LambdaTimeout", "30"),
        "FunctionSecurityGroupId": "sg-0f00000000000000f",
        "LogGroupName": f"/aws/lambda/{function}",
        "DeadLetterQueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{function}-dlq",
        "DeadLetterQueueArn": f"arn:aws:sqs:{region}:{account}:{function}-dlq",
        "AuroraInvokeRoleArn": role,
        "AddRoleToDbClusterCommand": f"aws rds add-role-to-db-cluster ... {cluster} ...",
        "AlarmTopicArn": f"arn:aws:sns:{region}:{account}:{prefix}-s3vl-alarms",
    }
    values.update(state.get("output_overrides", {}))
    missing = set(state.get("missing_outputs", []))
    # Only the outputs the real template declares, so scripts cannot rely on invented ones.
    values["TextSearch"] = p.get("TextSearch") or "none"
    return [{"OutputKey": k, "OutputValue": values[k]} for k in state["template_outputs"]
            if k not in missing]


def require_stack(state: dict[str, Any], name: str, operation: str) -> dict[str, Any]:
    stack: dict[str, Any] | None = state.get("stack")
    if not stack or stack["name"] != name:
        raise CommandError(f"An error occurred (ValidationError) when calling the {operation} "
                           f"operation: Stack with id {name} does not exist")
    return stack


def cluster_view(state: dict[str, Any], identifier: str) -> dict[str, Any]:
    cluster = state["cluster"]
    if identifier != cluster["id"]:
        raise CommandError("An error occurred (DBClusterNotFoundFault) when calling the "
                           f"DescribeDBClusters operation: DBCluster {identifier} not found.")
    return {
        "DBClusterIdentifier": cluster["id"], "Engine": cluster["engine"],
        "EngineVersion": cluster["version"], "Status": "available",
        "Endpoint": f"{cluster['id']}.cluster-abc.{state['region']}.rds.amazonaws.com",
        "Port": 5432, "DatabaseName": None, "MasterUsername": "postgres",
        "DBSubnetGroup": "aurora-subnets",
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0db0000000000000d", "Status": "active"}],
        "AssociatedRoles": cluster["roles"],
    }


def aws(state: dict[str, Any], words: list[str], options: dict[str, list[str]],
        positionals: list[str]) -> Any:
    service, operation = [*words, "", ""][:2]
    key = f"{service} {operation}"
    if key == "sts get-caller-identity":
        return {"Account": state["account"], "Arn": f"arn:aws:iam::{state['account']}:user/dev"}

    # --- S3 artifacts
    buckets: dict[str, list[str]] = state["buckets"]
    owners: dict[str, str] = state.setdefault("bucket_owners", {})
    if "--expected-bucket-owner" in options and service == "s3api":
        bucket = one(options, "--bucket")
        if owners.get(bucket, state["account"]) != one(options, "--expected-bucket-owner"):
            raise CommandError(f"An error occurred (403) when calling the {operation} operation: "
                               "Forbidden")
    if key == "s3api list-buckets":
        return {"Buckets": [{"Name": b} for b in sorted(buckets)
                            if owners.get(b, state["account"]) == state["account"]]}
    if key == "s3api head-bucket":
        if one(options, "--bucket") not in buckets:
            raise CommandError("An error occurred (404) when calling the HeadBucket operation: "
                               "Not Found")
        return None
    if key == "s3api create-bucket":
        buckets.setdefault(one(options, "--bucket"), [])
        return {"Location": "/" + one(options, "--bucket")}
    if key == "s3api put-public-access-block":
        return None
    if key == "s3api head-object":
        if one(options, "--key") not in buckets.get(one(options, "--bucket"), []):
            raise CommandError("An error occurred (404) when calling the HeadObject operation: "
                               "Not Found")
        return {"ContentLength": 1}
    if key == "s3api put-object":
        bucket, obj = one(options, "--bucket"), one(options, "--key")
        source = one(options, "--body")
        if bucket not in buckets:
            raise CommandError("An error occurred (NoSuchBucket) when calling the PutObject "
                               "operation: The specified bucket does not exist")
        if not Path(source).is_file():
            raise CommandError(f"Error parsing parameter '--body': {source} does not exist", 255)
        buckets[bucket].append(obj)
        return {"ETag": '"0"'}
    # The scripts no longer use the high-level s3 commands (no --expected-bucket-owner in
    # AWS CLI v1); kept so that older scripts can be run against this fake for comparison.
    if key == "s3 cp":
        bucket, obj = positionals[1][5:].split("/", 1)
        if bucket not in buckets:
            raise CommandError("upload failed: An error occurred (NoSuchBucket)", 1)
        buckets[bucket].append(obj)
        return None
    if key == "s3 rm":
        bucket, prefix = positionals[0][5:].split("/", 1)
        buckets[bucket] = [o for o in buckets.get(bucket, []) if not o.startswith(prefix)]
        return None
    if key == "s3api list-objects-v2":
        prefix = options.get("--prefix", [""])[0]
        keys = [o for o in buckets.get(one(options, "--bucket"), []) if o.startswith(prefix)]
        return {"Contents": [{"Key": k} for k in keys]} if keys else {}
    if key == "s3api delete-object":
        bucket = one(options, "--bucket")
        buckets[bucket] = [o for o in buckets.get(bucket, []) if o != one(options, "--key")]
        return None
    if key == "s3 rm":
        bucket, prefix = positionals[0][5:].split("/", 1)
        buckets[bucket] = [o for o in buckets.get(bucket, []) if not o.startswith(prefix)]
        return None

    # --- CloudFormation
    if key == "cloudformation deploy":
        name = one(options, "--stack-name")
        if "CAPABILITY_IAM" not in options.get("--capabilities", []):
            raise CommandError("Requires capabilities : [CAPABILITY_IAM]", 255)
        overrides = dict(o.split("=", 1) for o in options.get("--parameter-overrides", []))
        stack = state.get("stack")
        if stack is None:
            missing = [p for p in state["required_parameters"] if p not in overrides]
            if missing:
                raise CommandError("An error occurred (ValidationError) when calling the "
                                   f"CreateChangeSet operation: Parameters: {missing} must "
                                   "have values")
            stack = state["stack"] = {"name": name, "params": {}, "version": 0, "code": None,
                                      "status": "CREATE_COMPLETE"}
        params = {**stack["params"], **overrides}
        code = (params.get("CodeS3Bucket"), params.get("CodeS3Key"))
        if code[1] not in buckets.get(code[0] or "", []):
            raise CommandError("Failed to create/update the stack: Error occurred while GetObject. "
                               "S3 Error Code: NoSuchKey", 255)
        if params == stack["params"]:
            print(f"\nNo changes to deploy. Stack {name} is up to date")
            return None
        # The template publishes a new version when the code hash or the config digest changes.
        published = (params.get("CodeSha256"), params.get("ConfigDigest"))
        if published != (stack["code"], stack.get("config")):
            stack["version"] += 1
            stack["code"], stack["config"] = published
        stack["params"] = params
        stack["status"] = "UPDATE_COMPLETE"
        print(f"Successfully created/updated stack - {name}")
        return None
    if key == "cloudformation describe-stacks":
        stack = require_stack(state, one(options, "--stack-name"), "DescribeStacks")
        described = {
            "StackName": stack["name"], "StackStatus": stack["status"],
            "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                           for k, v in stack["params"].items()],
            "Outputs": stack_outputs(state),
        }
        if stack["status"] == "ROLLBACK_COMPLETE":  # a failed create: no outputs at all
            del described["Outputs"]
        return {"Stacks": [described]}
    if key == "cloudformation list-change-sets":
        return {"Summaries": state.get("change_sets", [])}
    if key == "cloudformation delete-stack":
        stack = state.get("stack")
        if stack and stack["status"] == "ROLLBACK_COMPLETE":
            state["stack"] = None
            return None
        if stack and stack["name"] == one(options, "--stack-name") and not state.get("delete_noop"):
            # A bucket with indexes the stack does not own cannot be deleted.
            stack["status"] = "DELETE_FAILED" if state["extra_indexes"] else "DELETE_COMPLETE"
            if stack["status"] == "DELETE_COMPLETE":
                state["stack"] = None
        return None
    if key == "cloudformation wait":
        stack = state.get("stack")
        if stack is not None and stack["status"] == "DELETE_FAILED":
            raise CommandError("Waiter StackDeleteComplete failed: Waiter encountered a terminal "
                               "failure state", 255)
        return None

    # --- RDS
    if key == "rds describe-db-clusters":
        view = cluster_view(state, one(options, "--db-cluster-identifier"))
        # A new association stays PENDING for `pending_polls` more looks, then turns ACTIVE.
        for role in state["cluster"]["roles"]:
            if role["Status"] == "PENDING":
                state["cluster"]["pending_polls"] -= 1
                if state["cluster"]["pending_polls"] <= 0:
                    role["Status"] = "ACTIVE"
        return {"DBClusters": [view]}
    if key == "rds describe-db-subnet-groups":
        return {"DBSubnetGroups": [{"DBSubnetGroupName": one(options, "--db-subnet-group-name"),
                                    "VpcId": state["cluster"]["vpc"]}]}
    if key == "rds add-role-to-db-cluster":
        cluster_view(state, one(options, "--db-cluster-identifier"))
        role = one(options, "--role-arn")
        if any(r["RoleArn"] == role for r in state["cluster"]["roles"]):
            raise CommandError("An error occurred (DBClusterRoleAlreadyExists) when calling the "
                               "AddRoleToDBCluster operation: Role is already associated")
        status = "PENDING" if state["cluster"].get("pending_polls", 0) > 0 else "ACTIVE"
        state["cluster"]["roles"].append(
            {"RoleArn": role, "FeatureName": one(options, "--feature-name"), "Status": status})
        return None
    if key == "rds remove-role-from-db-cluster":
        role = one(options, "--role-arn")
        roles = state["cluster"]["roles"]
        if not any(r["RoleArn"] == role for r in roles):
            raise CommandError("An error occurred (DBClusterRoleNotFound) when calling the "
                               "RemoveRoleFromDBCluster operation")
        state["cluster"]["roles"] = [r for r in roles if r["RoleArn"] != role]
        return None

    # --- Lambda
    if key == "lambda get-function":
        stack = require_stack(state, state["stack"]["name"] if state.get("stack") else "-",
                              "GetFunction")
        return {"Configuration": {"CodeSha256": stack["code"], "Version": str(stack["version"])}}
    if key == "lambda invoke":
        require_stack(state, state["stack"]["name"] if state.get("stack") else "-", "Invoke")
        outfile = positionals[-1] if positionals else options["--payload"][-1]
        Path(outfile).write_text(json.dumps({"success": True, "result": {
            "status": "available", "protocol_version": 1, "region": state["region"]}}))
        return {"StatusCode": 200, "ExecutedVersion": str(state["stack"]["version"])}

    # --- S3 Vectors
    index_state: dict[str, Any] = state.setdefault(
        "index", {"indexMode": "CLASSIC", "textSearchConfigurations": []})
    if key == "s3vectors update-index-mode":
        index_state["indexMode"] = one(options, "--index-mode")
        return None
    if key == "s3vectors update-metadata-configuration":
        if index_state["indexMode"] != "ENHANCED":
            raise CommandError("An error occurred (ValidationException) when calling the "
                               "UpdateMetadataConfiguration operation: the index is not ENHANCED")
        for entry in json.loads(one(options, "--add"))["textSearchConfigurations"]:
            if any(c["metadataKey"] == entry["metadataKey"]
                   for c in index_state["textSearchConfigurations"]):
                raise CommandError("An error occurred (ConflictException): already configured")
            index_state["textSearchConfigurations"].append({**entry, "status": "BUILDING"})
        return None
    if key == "s3vectors list-indexes":
        if not state.get("stack"):
            raise CommandError("An error occurred (NotFoundException): vector bucket not found")
        own = next(o["OutputValue"] for o in stack_outputs(state) if o["OutputKey"] == "IndexName")
        return {"indexes": [{"indexName": n} for n in [own, *state["extra_indexes"]]]}
    if key == "s3vectors delete-index":
        state["extra_indexes"].remove(one(options, "--index-name"))
        return None
    if key == "s3vectors get-index":
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack_outputs(state)}
        return {"index": {"indexArn": one(options, "--index-arn"),
                          "dimension": int(outputs["IndexDimension"]),
                          "indexMode": index_state["indexMode"],
                          "metadataConfiguration": {
                              "textSearchConfigurations": index_state["textSearchConfigurations"]}}}
    if key == "s3vectors put-vectors":
        vectors = json.loads(Path(one(options, "--vectors").removeprefix("file://")).read_text())
        state["vectors_written"] = state.get("vectors_written", 0) + len(vectors)
        return None
    if key == "s3vectors list-vectors":
        return {"vectors": [{"key": str(i)} for i in range(state.get("vectors_written", 0))]}
    if key == "s3vectors get-vector-bucket":
        if not state.get("stack"):
            raise CommandError("An error occurred (NotFoundException) when calling the "
                               "GetVectorBucket operation: The specified vector bucket could "
                               "not be found")
        return {"vectorBucket": {"vectorBucketName": one(options, "--vector-bucket-name")}}

    raise CommandError(f"fake aws: no answer for '{key}' (add it to tests/infra/fake_cli.py)", 99)


def to_text(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, list):
        if all(not isinstance(v, list | dict) for v in value):
            return "\t".join(to_text(v) for v in value)
        return "\n".join(to_text(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(to_text(v) for v in value.values())
    if isinstance(value, bool):
        return str(value)
    return str(value)


def run_aws(argv: list[str]) -> int:
    globals_, words, options, positionals = parse_aws(argv)
    failing = injected_failure("aws", words, " ".join(argv))
    if failing:
        print(f"\nAn error occurred (InjectedFailure) when calling the {words[1]} operation: "
              f"fake failure for '{failing}'", file=sys.stderr)
        return AWS_ERROR_EXIT
    state = load_state()
    try:
        answer = aws(state, words, options, positionals)
    except CommandError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return exc.status
    save_state(state)
    if answer is None:
        return 0
    if "--query" in globals_:
        answer = jmespath.search(globals_["--query"], answer)
    if globals_.get("--output") == "text":
        print(to_text(answer))
    else:
        print(json.dumps(answer, indent=4))
    return 0


# ----------------------------------------------------------------------------- psql

def run_psql(argv: list[str], stdin: str | None) -> int:
    text = " ".join(argv) + " " + (stdin or "")
    failing = injected_failure("psql", [], text)
    if not os.environ.get("PGHOST"):
        print("psql: error: connection to server on socket failed", file=sys.stderr)
        return 2
    if failing:
        print(f"psql:<stdin>:1: ERROR:  fake failure for '{failing}'", file=sys.stderr)
        return PSQL_ERROR_EXIT
    state = load_state()
    answers = state["psql"]
    if "install.sql" in text and "uninstall.sql" not in text:
        answers["schema"] = True
    if "uninstall.sql" in text or "DROP SCHEMA" in text:
        answers["schema"] = False
    save_state(state)
    for needle, answer in (("validate_config", answers["validate_failures"]),
                           ("query_vectors", "0"), ("s3vl.version()", "0.1.0")):
        if needle in text:
            print(answer)
    return 0


def main() -> int:
    tool, argv = sys.argv[1], sys.argv[2:]
    stdin = None
    if tool == "psql" and "-f" in argv and argv[argv.index("-f") + 1] == "-":
        stdin = sys.stdin.read()
    record(tool, argv, stdin)
    return run_aws(argv) if tool == "aws" else run_psql(argv, stdin)


if __name__ == "__main__":
    sys.exit(main())
