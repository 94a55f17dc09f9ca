"""moto's server mode, extended just enough to run the real deploy scripts against it.

`start()` applies the patches below (in this process only: ThreadedMotoServer serves from a
thread of the test process, so nothing outside the test sees them) and starts a server on a free
loopback port. Each patch names the moto 5.2.5 behaviour it works around; none changes what the
template asks for. The S3 Vectors resources are backed by moto's own s3vectors backend, so the
scripts' `aws s3vectors ...` calls see what CloudFormation created.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import moto
from moto.awslambda import models as lambda_models
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cfn_responses
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult, EmptyResult
from moto.iam import models as iam_models
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.s3vectors import responses as vectors_responses
from moto.s3vectors import urls as vectors_urls
from moto.s3vectors.exceptions import ValidationError as S3VectorsValidationError
from moto.s3vectors.models import s3vectors_backends
from moto.server import ThreadedMotoServer
from moto.utilities.utils import get_partition

MOTO_VERSION = "5.2.5"  # the patches below are written against this version


def vectors_backend(account_id: str, region: str) -> Any:
    """moto keeps one s3vectors backend per partition (the service's `region` is a field)."""
    return s3vectors_backends[account_id][get_partition(region)]


# ---------------------------------------------------------------- AWS::S3Vectors::*
# moto has no CloudFormation support for AWS::S3Vectors::VectorBucket / Index ("No Moto
# CloudFormation support"): these models create them in moto's s3vectors backend.

class CfnVectorBucket(CloudFormationModel):
    def __init__(self, account_id: str, region: str, name: str) -> None:
        self.account_id, self.region, self.name = account_id, region, name
        backend = vectors_backend(account_id, region)
        self.arn = backend.get_vector_bucket(vector_bucket_name=name).vector_bucket_arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "VectorBucketName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3Vectors::VectorBucket"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"VectorBucketArn", "CreationTime"}

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
            region_name: str, **kwargs: Any) -> CfnVectorBucket:
        props = cloudformation_json["Properties"]
        encryption = props.get("EncryptionConfiguration") or {}
        vectors_backend(account_id, region_name).create_vector_bucket(
            region=region_name, vector_bucket_name=resource_name,
            encryption_configuration={k[0].lower() + k[1:]: v for k, v in encryption.items()})
        return cls(account_id, region_name, resource_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str,
            region_name: str) -> CfnVectorBucket:
        if original_resource.name == new_resource_name:
            return original_resource  # type: ignore[no-any-return]
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @property
    def physical_resource_id(self) -> str:
        return self.arn  # Ref on AWS::S3Vectors::VectorBucket is its ARN

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "VectorBucketArn":
            return self.arn
        raise NotImplementedError(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        vectors_backend(account_id, region_name).delete_vector_bucket(self.name)

    def is_created(self) -> bool:
        return True


class CfnVectorIndex(CloudFormationModel):
    def __init__(self, arn: str) -> None:
        self.arn = arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "IndexName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3Vectors::Index"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"IndexArn", "CreationTime"}

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
            region_name: str, **kwargs: Any) -> CfnVectorIndex:
        props = cloudformation_json["Properties"]
        backend = vectors_backend(account_id, region_name)
        # moto's create_index has no metadata configuration (NonFilterableMetadataKeys is not
        # stored); the tests do not read it back.
        backend.create_index(
            vector_bucket_name=props.get("VectorBucketName"),
            vector_bucket_arn=props.get("VectorBucketArn"), index_name=resource_name,
            data_type=props["DataType"], dimension=int(props["Dimension"]),
            distance_metric=props["DistanceMetric"])
        bucket = backend.get_vector_bucket(vector_bucket_name=props.get("VectorBucketName"),
                                           vector_bucket_arn=props.get("VectorBucketArn"))
        return cls(f"{bucket.vector_bucket_arn}/index/{resource_name}")

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str,
            region_name: str) -> CfnVectorIndex:
        if original_resource.arn.endswith(f"/index/{new_resource_name}"):
            return original_resource  # type: ignore[no-any-return]
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "IndexArn":
            return self.arn
        raise NotImplementedError(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        vectors_backend(account_id, region_name).delete_index(None, None, self.arn)

    def is_created(self) -> bool:
        return True


# ---------------------------------------------------------------- AWS::Lambda::Version / Alias
# moto's AWS::Lambda::Version has no GetAtt Version and no update (a replacement publishes
# nothing), it ignores CodeSha256, and moto has no CloudFormation model for AWS::Lambda::Alias
# at all. These publish a version on create and on replacement, refuse a CodeSha256 that is not
# the deployed code's (as Lambda does), and keep an alias in moto's Lambda backend.

class CfnLambdaVersion(CloudFormationModel):
    def __init__(self, function_name: str, version: str) -> None:
        self.function_name, self.version = function_name, version

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Version"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
            region_name: str, **kwargs: Any) -> CfnLambdaVersion:
        props = cloudformation_json["Properties"]
        backend = lambda_models.lambda_backends[account_id][region_name]
        function = backend.get_function(props["FunctionName"])
        wanted = props.get("CodeSha256")
        if wanted and function.code_sha_256 != wanted:
            raise ValueError(f"CodeSha256 {wanted} does not match the function's code "
                             f"{function.code_sha_256}")
        # Every CloudFormation replacement publishes (Lambda publishes when code or config, here
        # the description with the config digest, differ from the last version).
        function.code_or_config_updated = True
        published = backend.publish_version(props["FunctionName"], props.get("Description", ""))
        assert published is not None
        return cls(props["FunctionName"], str(published.version))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str,
            region_name: str) -> CfnLambdaVersion:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.version}"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Version":
            return self.version
        raise NotImplementedError(attribute_name)

    def is_created(self) -> bool:
        return True


class CfnLambdaAlias(CloudFormationModel):
    def __init__(self, function_name: str, name: str, arn: str) -> None:
        self.function_name, self.name, self.arn = function_name, name, arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "AliasArn"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
            region_name: str, **kwargs: Any) -> CfnLambdaAlias:
        props = cloudformation_json["Properties"]
        backend = lambda_models.lambda_backends[account_id][region_name]
        function = props["FunctionName"].split(":")[-1] if props["FunctionName"].startswith(
            "arn:") else props["FunctionName"]
        try:
            alias = backend.update_alias(props["Name"], function, props["FunctionVersion"],
                                         props.get("Description", ""), None)
        except Exception:  # moto raises its own not-found type
            alias = backend.create_alias(props["Name"], function, props["FunctionVersion"],
                                         props.get("Description", ""), None)
        return cls(function, props["Name"], alias.arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str,
            region_name: str) -> CfnLambdaAlias:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @property
    def physical_resource_id(self) -> str:
        return self.arn  # Ref on AWS::Lambda::Alias is the alias ARN

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "AliasArn":
            return self.arn
        raise NotImplementedError(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = lambda_models.lambda_backends[account_id][region_name]
        # The function (and with it its aliases) may be gone already.
        with contextlib.suppress(Exception):
            backend.delete_alias(self.name, self.function_name)

    def is_created(self) -> bool:
        return True


# ---------------------------------------------------------------- RDS RemoveRoleFromDBCluster
# moto implements AddRoleToDBCluster but not RemoveRoleFromDBCluster (the action is unknown).

def remove_role_from_db_cluster(self: Any, db_cluster_identifier: str, role_arn: str,
                                feature_name: str) -> None:
    if db_cluster_identifier not in self.clusters:
        raise rds_models.DBClusterNotFoundError(db_cluster_identifier)
    cluster = self.clusters[db_cluster_identifier]
    kept = [r for r in cluster._associated_roles if r.role_arn != role_arn]
    if len(kept) == len(cluster._associated_roles):
        raise rds_models.DBClusterRoleNotFoundFault(  # type: ignore[attr-defined]
            f"Role {role_arn} is not associated with {db_cluster_identifier}")
    cluster._associated_roles = kept


def remove_role_response(self: Any) -> EmptyResult:
    self.backend.remove_role_from_db_cluster(
        db_cluster_identifier=self.params.get("DBClusterIdentifier"),
        role_arn=self.params.get("RoleArn"), feature_name=self.params.get("FeatureName"))
    return EmptyResult()


# ---------------------------------------------------------------- Lambda Invoke
# moto runs functions only in Docker (or answers a canned "Simple Lambda happy path OK"). This
# runs the deployed zip's handler in a child process of this Python, with the function's
# environment: the code that was uploaded is the code that answers.

def invoke_without_docker(self: Any, body: str, request_headers: Any,
                          response_headers: Any) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        code = Path(folder) / "code.zip"
        code.write_bytes(self.code_bytes)
        handler_module, handler_name = self.handler.rsplit(".", 1)
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(code),
               "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
               "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
               **(self.environment_vars or {})}
        program = (f"import json, sys\nfrom {handler_module} import {handler_name} as h\n"
                   "print(json.dumps(h(json.loads(sys.stdin.read()), None)))")
        result = subprocess.run([sys.executable, "-c", program], input=body or "{}",
                                capture_output=True, text=True, env=env, timeout=60)
    if result.returncode != 0:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorMessage": result.stderr[-2000:],
                           "errorType": "HarnessError"}).encode()
    return result.stdout.strip().splitlines()[-1].encode()


# ---------------------------------------------------------------- IAM Role Policies
# moto resolves `!If [cond, {...}, !Ref AWS::NoValue]` inside a role's Policies list to None and
# then fails on None["PolicyName"]; CloudFormation drops such entries. Drop them first.

def role_without_novalue_policies(original: Any) -> Any:
    def create(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
               account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json.get("Properties", {})
        if "Policies" in props:
            props["Policies"] = [p for p in props["Policies"] if p is not None]
        return original.__func__(cls, resource_name, cloudformation_json, account_id,
                                 region_name, **kwargs)
    return classmethod(create)


# ---------------------------------------------------------------- change-set outputs
# Executing a change set updates moto's resources but not the stack's template or its output
# map, which stay those of the (empty) stack the change set was created for: a stack made by
# `aws cloudformation deploy` has no outputs. Rebuild both after the change set applies.

def apply_with_outputs(original: Any) -> Any:
    def apply(self: Any) -> None:
        original(self)
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()
    return apply


# ---------------------------------------------------------------- empty change sets
# moto's CreateChangeSet raises "ValidationError: No updates are to be performed" when the
# template and parameters are unchanged (UpdateStack's behaviour). CloudFormation creates a
# FAILED change set ("didn't contain changes") instead, which `aws cloudformation deploy
# --no-fail-on-empty-changeset` treats as success; moto's model does exactly that when the
# response layer lets the request through.

def change_set_without_update_check(original: Any) -> Any:
    def create_change_set(self: Any) -> Any:
        self._validate_different_update = lambda *args, **kwargs: None
        return original(self)
    return create_change_set


# ---------------------------------------------------------------- UsePreviousValue of lists
# For UsePreviousValue moto takes the stack's resolved parameters, where a List<...> parameter
# is already a Python list; the update then fails on list.split(",") (HTTP 500). CloudFormation
# keeps the value as given (comma-separated): give it back as a string.

# moto then compares a change set's parameters with those the stack was created with (not its
# current ones), so an unchanged update after a change looks like a change: compare with the
# current values, as strings.

def as_given(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def stack_parameters_as_given(self: Any) -> dict[str, Any]:
    return {k: as_given(v) for k, v in self.resource_map.resolved_parameters.items()}


def has_same_parameters(self: Any, other: dict[str, Any]) -> bool:
    return bool(stack_parameters_as_given(self) == {k: as_given(v) for k, v in other.items()})


# ---------------------------------------------------------------- dependent updates
# On a parameter change moto updates the resources that reference the parameter, but not the
# ones that reference those resources (Ref / GetAtt): a new CodeSha256 replaces FunctionVersion,
# yet FunctionAlias keeps pointing at the old version. CloudFormation updates dependents.

def references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def diff_with_dependents(original: Any) -> Any:
    def build_resource_diff(self: Any, other_template: dict[str, Any],
                            parameters: dict[str, Any] | None = None) -> dict[str, list[str]]:
        actions: dict[str, list[str]] = original(self, other_template, parameters)
        new = other_template["Resources"]
        modified = set(actions["Modify"])
        grown = True
        while grown:
            grown = False
            for name, resource in new.items():
                # Only resources that exist (a resource whose Condition is false was never made).
                if self._parsed_resources.get(name) is not None and name not in modified and \
                        references(resource) & modified:
                    modified.add(name)
                    grown = True
        actions["Modify"] = [name for name in new if name in modified]
        return actions
    return build_resource_diff


# ---------------------------------------------------------------- S3 Vectors text search
# moto's s3vectors has no UpdateIndexMode / UpdateMetadataConfiguration (404) and no index mode
# or text search configuration on GetIndex. Minimal versions on moto's own Index model, enough
# for scripts/configure-text-search.sh: the mode, and configurations added as ACTIVE.

def update_index_mode_response(self: Any) -> ActionResult:
    index = self.s3vectors_backend.get_index(self._get_param("vectorBucketName"),
                                             self._get_param("indexName"),
                                             self._get_param("indexArn"))
    index.index_mode = self._get_param("indexMode")
    return EmptyResult()


def update_metadata_configuration_response(self: Any) -> ActionResult:
    index = self.s3vectors_backend.get_index(self._get_param("vectorBucketName"),
                                             self._get_param("indexName"),
                                             self._get_param("indexArn"))
    if getattr(index, "index_mode", "CLASSIC") != "ENHANCED":
        raise S3VectorsValidationError("text search needs an ENHANCED index")
    configuration = getattr(index, "metadata_configuration", None) or {
        "textSearchConfigurations": []}
    present = {c["metadataKey"] for c in configuration["textSearchConfigurations"]}
    for entry in (self._get_param("add") or {}).get("textSearchConfigurations", []):
        if entry["metadataKey"] in present:
            raise S3VectorsValidationError(f"{entry['metadataKey']} is already searchable")
        configuration["textSearchConfigurations"].append({**entry, "status": "ACTIVE"})
    index.metadata_configuration = configuration
    return EmptyResult()


# ---------------------------------------------------------------- server

def patch_moto() -> None:
    assert moto.__version__ == MOTO_VERSION, f"patches written for moto {MOTO_VERSION}"
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    model_map = parsing.get_model_map()
    for model in (CfnVectorBucket, CfnVectorIndex, CfnLambdaVersion, CfnLambdaAlias):
        model_map[model.cloudformation_type()] = model
    parsing.get_name_type_map()[CfnLambdaVersion.cloudformation_type()] = ""
    if not hasattr(rds_models.RDSBackend, "remove_role_from_db_cluster"):
        rds_models.RDSBackend.remove_role_from_db_cluster = (  # type: ignore[attr-defined]
            remove_role_from_db_cluster)
        rds_responses.RDSResponse.remove_role_from_db_cluster = (  # type: ignore[attr-defined]
            remove_role_response)
    if not hasattr(rds_models, "DBClusterRoleNotFoundFault"):
        from moto.rds.exceptions import RDSClientError

        class DBClusterRoleNotFoundFault(RDSClientError):
            def __init__(self, message: str) -> None:
                super().__init__("DBClusterRoleNotFound", message)

        rds_models.DBClusterRoleNotFoundFault = DBClusterRoleNotFoundFault  # type: ignore[attr-defined]
    lambda_models.LambdaFunction.invoke = invoke_without_docker  # type: ignore[method-assign]
    if not getattr(cfn_models.ChangeSet, "_s3vl_patched", False):
        cfn_models.ChangeSet.apply = apply_with_outputs(cfn_models.ChangeSet.apply)  # type: ignore[method-assign]
        cfn_models.ChangeSet._s3vl_patched = True  # type: ignore[attr-defined]
    if not getattr(cfn_responses.CloudFormationResponse, "_s3vl_patched", False):
        cfn_responses.CloudFormationResponse.create_change_set = (  # type: ignore[method-assign]
            change_set_without_update_check(cfn_responses.CloudFormationResponse.create_change_set))
        cfn_responses.CloudFormationResponse._s3vl_patched = True  # type: ignore[attr-defined]
    cfn_models.Stack.stack_parameters = property(stack_parameters_as_given)  # type: ignore[method-assign,assignment]
    cfn_models.Stack.has_parameters = has_same_parameters  # type: ignore[method-assign]
    if not getattr(parsing.ResourceMap, "_s3vl_patched", False):
        parsing.ResourceMap.build_resource_diff = diff_with_dependents(  # type: ignore[method-assign]
            parsing.ResourceMap.build_resource_diff)
        parsing.ResourceMap._s3vl_patched = True  # type: ignore[attr-defined]
    vectors_responses.S3VectorsResponse.update_index_mode = (  # type: ignore[attr-defined]
        update_index_mode_response)
    vectors_responses.S3VectorsResponse.update_metadata_configuration = (  # type: ignore[attr-defined]
        update_metadata_configuration_response)
    for operation in ("UpdateIndexMode", "UpdateMetadataConfiguration"):
        vectors_urls.url_paths["{0}/" + operation + "$"] = (
            vectors_responses.S3VectorsResponse.dispatch)
    if not getattr(iam_models.Role, "_s3vl_patched", False):
        iam_models.Role.create_from_cloudformation_json = role_without_novalue_policies(  # type: ignore[method-assign]
            iam_models.Role.create_from_cloudformation_json)
        iam_models.Role._s3vl_patched = True  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start() -> tuple[ThreadedMotoServer, str]:
    patch_moto()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def small_function_zip(path: Path, marker: str) -> bytes:
    """The s3vl_lambda package alone (its dependencies come from this virtualenv when the
    harness runs it), with fixed timestamps: packaging is tested in test_package.py."""
    package = Path(__file__).resolve().parents[2] / "lambda" / "s3vl_lambda"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(package.rglob("*.py")):
            info = zipfile.ZipInfo(str(source.relative_to(package.parent)), (1980, 1, 1, 0, 0, 0))
            archive.writestr(info, source.read_bytes())
        archive.writestr(zipfile.ZipInfo("s3vl_build.txt", (1980, 1, 1, 0, 0, 0)), marker)
    return path.read_bytes()
