"""Conformance generated from the installed botocore S3 Vectors model (the API's source of truth).

(a) every operation of the model is called with a minimal valid request; the raw JSON answer is
    checked against the operation's output shape (required members, types, enums, no members
    the model does not declare);
(b) for every input constraint of the model (required, min/max, length, pattern, enum) a request
    breaking exactly that constraint is sent with botocore's own validation off, and must be a
    400 ValidationException whose fieldList names the member;
(c) an operation of the model that the emulator does not serve fails, listed by name.
A new model (a new operation, member or constraint) changes what these tests generate.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

import botocore.session
import pytest
from botocore import xform_name
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from emulator_helpers import make_client, unique
from s3vectors_emulator import ServerHandle

MODEL = botocore.session.get_session().get_service_model("s3vectors")
REMOVE = object()
PathStep = str | int  # member name or list position; "<key>"/"<value>" for a map entry
DIM = 3


# ---- valid samples ------------------------------------------------------------------------------


@dataclass
class Names:
    bucket: str
    index: str
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3vectors:{self.region}:{self.account}:bucket/{self.bucket}"

    @property
    def index_arn(self) -> str:
        return f"{self.bucket_arn}/index/{self.index}"


def sample(shape: Shape, names: Names) -> Any:
    """A valid value for `shape` (names point at real resources where the shape names one)."""
    strings = {
        "VectorBucketName": names.bucket,
        "IndexName": names.index,
        "VectorBucketArn": names.bucket_arn,
        "IndexArn": names.index_arn,
        "ResourceARN": names.bucket_arn,
        "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k1",
        "TagKey": "team",
        "TagValue": "search",
        "MetadataKey": "title",
        "QueryTextString": "trail shoes",
        "VectorKey": "a",
        "IndexMode": "ENHANCED",
        "VectorBucketPolicy": json.dumps({"Version": "2012-10-17", "Statement": []}),
    }
    kind = shape.type_name
    if kind == "string":
        if shape.name in strings:
            return strings[shape.name]
        if shape.metadata.get("enum"):
            return shape.metadata["enum"][0]
        assert "pattern" not in shape.metadata, f"add a valid sample for {shape.name}"
        return "a" * max(shape.metadata.get("min", 1), 1)
    if kind == "integer":
        return {"Dimension": DIM, "TopK": 1}.get(shape.name, max(shape.metadata.get("min", 1), 1))
    if kind == "boolean":
        return False
    if kind == "float":
        return 1.0
    if kind == "list":
        assert isinstance(shape, ListShape)
        if shape.member.type_name == "float":
            return [1.0] + [0.0] * (DIM - 1)
        return [sample(shape.member, names)]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {sample(shape.key, names): sample(shape.value, names)}
    assert isinstance(shape, StructureShape), shape.type_name
    if shape.metadata.get("document"):
        return {}
    if shape.metadata.get("union"):
        first, member = next(iter(shape.members.items()))
        return {first: sample(member, names)}
    return {m: sample(shape.members[m], names) for m in shape.required_members}


# ---- the minimal valid request of every operation, in an order that works ----------------------


def minimal_requests(n: Names) -> list[tuple[str, dict[str, Any]]]:
    bucket = {"vectorBucketName": n.bucket}
    index = {"vectorBucketName": n.bucket, "indexName": n.index}
    vector = {"float32": [1.0, 0.0, 0.0]}
    return [
        ("CreateVectorBucket", dict(bucket)),
        ("GetVectorBucket", dict(bucket)),
        ("ListVectorBuckets", {}),
        (
            "PutVectorBucketPolicy",
            {**bucket, "policy": sample(MODEL.shape_for("VectorBucketPolicy"), n)},
        ),
        ("GetVectorBucketPolicy", dict(bucket)),
        ("DeleteVectorBucketPolicy", dict(bucket)),
        ("PutVectorBucketDefaultIndexMode", {**bucket, "defaultIndexMode": "ENHANCED"}),
        (
            "CreateIndex",
            {**index, "dataType": "float32", "dimension": DIM, "distanceMetric": "cosine"},
        ),
        ("GetIndex", dict(index)),
        ("ListIndexes", dict(bucket)),
        ("UpdateIndexMode", {**index, "indexMode": "ENHANCED"}),
        (
            "UpdateMetadataConfiguration",
            {**index, "add": {"textSearchConfigurations": [{"metadataKey": "title"}]}},
        ),
        ("PutVectors", {**index, "vectors": [{"key": "a", "data": vector}]}),
        ("GetVectors", {**index, "keys": ["a"]}),
        ("ListVectors", dict(index)),
        ("QueryVectors", {**index, "topK": 1, "queryVector": vector}),
        ("DeleteVectors", {**index, "keys": ["a"]}),
        ("TagResource", {"resourceArn": n.bucket_arn, "tags": {"team": "search"}}),
        ("ListTagsForResource", {"resourceArn": n.bucket_arn}),
        ("UntagResource", {"resourceArn": n.bucket_arn, "tagKeys": ["team"]}),
        ("DeleteIndex", dict(index)),
        ("DeleteVectorBucket", dict(bucket)),
    ]


def _python_name(operation: str) -> str:
    return xform_name(operation)


# ---- output checking ----------------------------------------------------------------------------


def output_problems(shape: Shape | None, value: Any, path: str = "") -> list[str]:
    """Where a raw JSON answer departs from the model's output shape."""
    where = path or "<answer>"
    if shape is None:
        return [] if value in ({}, None) else [f"{where}: the model declares no output"]
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if shape.metadata.get("document"):
            return [] if isinstance(value, dict) else [f"{where}: not an object"]
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        problems = [
            f"{where}: required member {m} missing"
            for m in shape.required_members
            if value.get(m) is None
        ]
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                problems.append(f"{where}: member {key} is not in the model")
            else:
                problems += output_problems(member, item, f"{path}.{key}" if path else key)
        return problems
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [
            p
            for i, item in enumerate(value)
            for p in output_problems(shape.member, item, f"{where}[{i}]")
        ]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        return [
            p
            for k, v in value.items()
            for p in output_problems(shape.key, k, where) + output_problems(shape.value, v, where)
        ]
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "timestamp": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }
    if not checks[kind](value):
        return [f"{where}: {value!r} is not a {kind}"]
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        return [f"{where}: {value!r} is not one of {enum}"]
    return []


def test_every_operation_answers_its_output_shape(server: ServerHandle) -> None:
    names = Names(unique("conf"), "idx-a")
    client = make_client(server.url)
    raw: dict[str, Any] = {}

    def keep(http_response: Any, model: OperationModel, **_: Any) -> None:
        raw["body"] = http_response.content

    client.meta.events.register("after-call.s3vectors", keep)
    requests = minimal_requests(names)
    assert sorted(op for op, _ in requests) == sorted(MODEL.operation_names), (
        "minimal_requests must cover exactly the model's operations"
    )
    problems: list[str] = []
    for operation, kwargs in requests:
        raw.clear()
        getattr(client, _python_name(operation))(**kwargs)
        body = json.loads(raw["body"]) if raw.get("body") else {}
        shape = MODEL.operation_model(operation).output_shape
        problems += [f"{operation}: {p}" for p in output_problems(shape, body)]
    assert problems == []


def test_answers_with_every_optional_member_match_the_model(server: ServerHandle) -> None:
    """Scores, distances, metadata, modes and text configurations are in the model's shapes."""
    client = make_client(server.url)
    raw: dict[str, Any] = {}
    client.meta.events.register(
        "after-call.s3vectors", lambda http_response, **_: raw.update(body=http_response.content)
    )
    bucket = unique("conf")
    client.create_vector_bucket(vectorBucketName=bucket)
    ref = {"vectorBucketName": bucket, "indexName": "idx-full"}
    client.create_index(
        **ref,
        dataType="float32",
        dimension=DIM,
        distanceMetric="cosine",
        metadataConfiguration={
            "nonFilterableMetadataKeys": ["body"],
            "textSearchConfigurations": [{"metadataKey": "title", "language": "en"}],
        },
    )
    client.put_vectors(
        **ref,
        vectors=[{"key": "a", "data": {"float32": [1, 0, 0]}, "metadata": {"title": "red shoes"}}],
    )
    calls = [
        ("GetIndex", lambda: client.get_index(**ref)),
        ("GetVectorBucket", lambda: client.get_vector_bucket(vectorBucketName=bucket)),
        ("ListIndexes", lambda: client.list_indexes(vectorBucketName=bucket)),
        (
            "GetVectors",
            lambda: client.get_vectors(**ref, keys=["a"], returnData=True, returnMetadata=True),
        ),
        ("ListVectors", lambda: client.list_vectors(**ref, returnData=True, returnMetadata=True)),
        (
            "QueryVectors",
            lambda: client.query_vectors(
                **ref,
                topK=2,
                queryVector={"float32": [1, 0, 0]},
                returnDistance=True,
                returnMetadata=True,
                returnScores=True,
                queryTexts=[{"metadataKey": "title", "text": "shoes"}],
            ),
        ),
        (
            "QueryVectors",
            lambda: client.query_vectors(
                **ref,
                topK=2,
                returnScores=True,
                returnMetadata=True,
                queryTexts=[{"metadataKey": "title", "text": "shoes"}],
            ),
        ),
    ]
    problems: list[str] = []
    for operation, call in calls:
        call()
        shape = MODEL.operation_model(operation).output_shape
        problems += [f"{operation}: {p}" for p in output_problems(shape, json.loads(raw["body"]))]
    assert problems == []


# ---- constraint violations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    operation: str
    path: tuple[PathStep, ...]
    value: Any
    member: str  # the member the fieldList must name
    constraint: str

    def __str__(self) -> str:
        return f"{self.operation}:{'.'.join(map(str, self.path))}:{self.constraint}"


def _bad_strings(shape: Shape, names: Names) -> Iterator[tuple[str, str]]:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    good = sample(shape, names)
    if low:
        yield "min-length", good[: low - 1] if len(good) >= low else "a" * (low - 1)
    if high is not None:
        yield "max-length", good + "a" * (high + 1 - len(good))
    if meta.get("pattern"):
        yield "pattern", "#" * max(low or 0, 3)
    if meta.get("enum"):
        yield "enum", "NOT_A_MODEL_VALUE"


def violations_of(
    shape: Shape, names: Names, path: tuple[PathStep, ...], member: str, seen: frozenset[str]
) -> Iterator[tuple[tuple[PathStep, ...], Any, str, str]]:
    kind, meta = shape.type_name, shape.metadata
    if kind == "string":
        for constraint, bad in _bad_strings(shape, names):
            yield path, bad, member, constraint
    elif kind == "integer":
        if "min" in meta:
            yield path, meta["min"] - 1, member, "min"
        if "max" in meta:
            yield path, meta["max"] + 1, member, "max"
    elif kind == "list":
        assert isinstance(shape, ListShape)
        if meta.get("min"):
            yield path, [], member, "min-items"
        if "max" in meta:
            yield path, [sample(shape.member, names)] * (meta["max"] + 1), member, "max-items"
        yield from violations_of(shape.member, names, (*path, 0), member, seen)
    elif kind == "map":
        assert isinstance(shape, MapShape)
        yield from violations_of(shape.key, names, (*path, "<key>"), member, seen)
        yield from violations_of(shape.value, names, (*path, "<value>"), member, seen)
    elif kind == "structure" and not meta.get("document") and shape.name not in seen:
        assert isinstance(shape, StructureShape)
        for name in shape.required_members:
            yield (*path, name), REMOVE, name, "required"
        for name, child in shape.members.items():
            yield from violations_of(child, names, (*path, name), name, seen | {shape.name})


def _set(
    request: dict[str, Any],
    shape: StructureShape,
    path: tuple[PathStep, ...],
    value: Any,
    names: Names,
) -> None:
    """Put `value` at `path`, creating valid parents where the minimal request has none."""
    container: Any = request
    current: Shape = shape
    for step, nxt in zip(path, (*path[1:], None), strict=True):
        if isinstance(current, StructureShape):
            assert isinstance(step, str)
            child = current.members[step]
            if nxt is None:
                if value is REMOVE:
                    container.pop(step, None)
                else:
                    container[step] = value
                return
            if container.get(step) is None:
                container[step] = sample(child, names)
            container, current = container[step], child
        elif isinstance(current, ListShape):
            assert step == 0
            if nxt is None:
                container[0] = value
                return
            container, current = container[0], current.member
        else:
            assert isinstance(current, MapShape)
            good_key, good_value = next(iter(container.items()))
            container.clear()
            if step == "<key>":
                container[value] = good_value
            else:
                container[good_key] = value
            return


def all_violations() -> list[Violation]:
    names = Names("conf-bucket", "conf-index")
    out = []
    for operation in MODEL.operation_names:
        shape = MODEL.operation_model(operation).input_shape
        assert isinstance(shape, StructureShape)
        for path, value, member, constraint in violations_of(shape, names, (), "", frozenset()):
            out.append(Violation(operation, path, value, member, constraint))
    return out


VIOLATIONS = all_violations()


def test_the_model_has_constraints_to_check() -> None:
    kinds = {v.constraint for v in VIOLATIONS}
    assert {"required", "min-length", "max-length", "pattern", "enum", "min", "max"} <= kinds
    assert {"min-items", "max-items"} <= kinds
    assert len(VIOLATIONS) > 100


@pytest.fixture(scope="module")
def conformance_names(server: ServerHandle) -> Names:
    """A real bucket and index, so a request is wrong only by the violation it carries."""
    client = make_client(server.url)
    names = Names(unique("viol"), "viol-index")
    client.create_vector_bucket(vectorBucketName=names.bucket)
    client.create_index(
        vectorBucketName=names.bucket,
        indexName=names.index,
        dataType="float32",
        dimension=DIM,
        distanceMetric="cosine",
    )
    return names


@pytest.mark.parametrize("violation", VIOLATIONS, ids=str)
def test_each_model_constraint_is_a_validation_error(
    server: ServerHandle, conformance_names: Names, violation: Violation
) -> None:
    client = make_client(server.url, validate=False)
    operation = violation.operation
    request = dict(next(kw for op, kw in minimal_requests(conformance_names) if op == operation))
    request = copy.deepcopy(request)
    shape = MODEL.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    _set(request, shape, violation.path, violation.value, conformance_names)
    member = shape.members.get(str(violation.path[0]))
    if member is not None and member.serialization.get("location") == "uri":
        # botocore cannot build the URL without it: send what a hand-made client would.
        status, body = _raw(server.url, operation, request)
        assert status == 400 and body["__type"] == "ValidationException", body
        fields = body.get("fieldList", [])
        message = body["message"]
    else:
        with pytest.raises(client.exceptions.ValidationException) as caught:
            getattr(client, _python_name(operation))(**request)
        response = caught.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        fields = response.get("fieldList", [])
        message = response["Error"]["Message"]
    paths = [field["path"] for field in fields]
    last = [p.split(".")[-1].split("[")[0] for p in paths]
    assert violation.member in last, (paths, message)
    assert re.fullmatch(message_form(violation), message), (violation.constraint, message)


_BOUNDS = r"(between \d+ and \d+, inclusive|greater than or equal to \d+|less than or equal to \d+)"
# The service's form (s3vectors-facts 1.4a): "1 validation error detected. Value [with length N]
# at '/path/to/member' failed to satisfy constraint: Member must ...".
_MUST = {
    "required": ("Value", "not be null"),
    "min-length": ("Value with length \\d+", f"have length {_BOUNDS}"),
    "max-length": ("Value with length \\d+", f"have length {_BOUNDS}"),
    "min-items": ("Value with length \\d+", f"have length {_BOUNDS}"),
    "max-items": ("Value with length \\d+", f"have length {_BOUNDS}"),
    "min": ("Value", f"be {_BOUNDS}"),
    "max": ("Value", f"be {_BOUNDS}"),
    "enum": ("Value", r"satisfy enum value set: \[[^\]]+\]"),
    "pattern": ("Value", "satisfy regular expression pattern: .+"),
}


def message_form(violation: Violation) -> str:
    value, must = _MUST[violation.constraint]
    return (
        f"1 validation error detected\\. {value} at "
        f"'(/[^/']+)*/{re.escape(violation.member)}(/\\d+)?' "
        f"failed to satisfy constraint: Member must {must}"
    )


def test_message_form_is_the_services() -> None:
    """The form above matches the service's own texts (facts 1.4a)."""
    known = {
        "min-length": "1 validation error detected. Value with length 2 at '/vectorBucketName' "
        "failed to satisfy constraint: Member must have length between 3 and 63, inclusive",
        "max": "1 validation error detected. Value at '/dimension' failed to satisfy constraint: "
        "Member must be between 1 and 4096, inclusive",
        "enum": "1 validation error detected. Value at '/distanceMetric' failed to satisfy "
        "constraint: Member must satisfy enum value set: [euclidean, cosine]",
    }
    members = {"min-length": "vectorBucketName", "max": "dimension", "enum": "distanceMetric"}
    for constraint, text in known.items():
        violation = Violation("CreateIndex", (), None, members[constraint], constraint)
        assert re.fullmatch(message_form(violation), text), text


def _raw(url: str, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    http = MODEL.operation_model(operation).http
    arn = request.get("resourceArn")
    uri = http["requestUri"].replace("{resourceArn}", quote(arn, safe="") if arn else "")
    keys = request.get("tagKeys")
    if http["method"] == "DELETE" and keys is not None:  # UntagResource: keys in the query
        uri = uri.split("?")[0] + "?" + urlencode([("tagKeys", key) for key in keys])
    data = None if http["method"] in ("GET", "DELETE") else json.dumps(request).encode()
    try:
        with urlopen(Request(f"{url}{uri}", data=data, method=http["method"])) as answer:
            status, headers, raw = answer.status, answer.headers, answer.read()
    except HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    body = json.loads(raw)
    body["__type"] = headers.get("x-amzn-ErrorType", "")
    return status, body


# ---- operations served --------------------------------------------------------------------------


def test_every_model_operation_is_served(server: ServerHandle) -> None:
    unserved = []
    for operation in MODEL.operation_names:
        http = MODEL.operation_model(operation).http
        uri = http["requestUri"].replace("{resourceArn}", "arn%3Aaws%3As3vectors")
        request = Request(f"{server.url}{uri}", data=b"{}", method=http["method"])
        if http["method"] == "GET":
            request = Request(f"{server.url}{uri}", method="GET")
        try:
            with urlopen(request) as answer:
                code = answer.headers.get("x-amzn-ErrorType", "")
        except HTTPError as error:
            code = error.headers.get("x-amzn-ErrorType", "")
        if code == "UnknownOperationException":
            unserved.append(operation)
    assert unserved == [], (
        f"operations of the botocore model the emulator does not serve: {unserved}"
    )
