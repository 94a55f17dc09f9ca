"""The emulator's dispatch: the routing table (urls.py) against botocore's S3 Vectors model
(the same operations, HTTP method and path, read-only exactly where the model marks an operation
`readonly`, a vector body exactly where the input carries vector data), and the checks made
before a handler runs, on the in-process path too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.loaders import Loader
from botocore.model import ListShape, Shape, StructureShape

from s3vectors_emulator.api import urls

MODEL = botocore.session.get_session().get_service_model("s3vectors")
RAW = Loader().load_service_model("s3vectors", "service-2", MODEL.api_version)["operations"]


def _holds_vector_data(shape: Shape | None, seen: frozenset[str] = frozenset()) -> bool:
    if shape is None or shape.name in seen:
        return False
    if shape.name == "VectorData":
        return True
    seen = seen | {shape.name}
    if isinstance(shape, StructureShape):
        return any(_holds_vector_data(member, seen) for member in shape.members.values())
    if isinstance(shape, ListShape):
        return _holds_vector_data(shape.member, seen)
    return False


def test_the_table_serves_exactly_the_model_operations() -> None:
    assert sorted(urls.ROUTES) == sorted(MODEL.operation_names)


@pytest.mark.parametrize("name", sorted(urls.ROUTES))
def test_route_agrees_with_the_model(name: str) -> None:
    route, raw = urls.ROUTES[name], RAW[name]
    http: dict[str, Any] = raw["http"]
    assert route.read_only is bool(raw.get("readonly")), "read_only differs from the model"
    if route.tags_method is not None:
        assert (http["method"], http["requestUri"]) == (route.tags_method, "/tags/{resourceArn}")
    else:
        assert (http["method"], http["requestUri"]) == ("POST", f"/{name}")
    input_shape = MODEL.operation_model(name).input_shape
    assert route.body.has_vectors is _holds_vector_data(input_shape), "body kind"
    # Only QueryVectors takes a filter, the one member free to nest deeply.
    assert (route.body.too_deep_field == "filter") is ("filter" in input_shape.members)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("POST", "/QueryVectors", {}, ("QueryVectors", {})),
        ("POST", "/PutVectors?x=1", {}, ("PutVectors", {})),
        ("GET", "/tags/arn%3Aaws%3Aa", {}, ("ListTagsForResource", {"resourceArn": "arn:aws:a"})),
        ("POST", "/tags/arn", {}, ("TagResource", {"resourceArn": "arn"})),
        (
            "DELETE",
            "/tags/arn",
            {"tagKeys": ["a", "b"]},
            ("UntagResource", {"resourceArn": "arn", "tagKeys": ["a", "b"]}),
        ),
    ],
)
def test_resolve(method: str, path: str, query: dict[str, list[str]], expected: Any) -> None:
    assert urls.resolve(method, path, query) == expected


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/GetIndex"), ("PUT", "/tags/arn"), ("POST", "/Nope")]
)
def test_resolve_refuses_what_is_not_an_operation(method: str, path: str) -> None:
    from s3vectors_emulator.exceptions import UnknownOperationError

    with pytest.raises(UnknownOperationError, match="not an S3 Vectors operation"):
        urls.resolve(method, path, {})


def test_in_process_requests_meet_the_same_20_mib_limit() -> None:
    """The HTTP server refuses by Content-Length; a body handed over in-process by the
    dispatcher's check of the same limit, at the boundary and one byte past it."""
    import json

    from s3vectors_emulator import Emulator, constants

    emulator = Emulator()
    limit = constants.REQUEST_PAYLOAD_MAX_BYTES
    at_limit = emulator.handle("POST", "/ListVectorBuckets", {}, {}, b"{}" + b" " * (limit - 2))
    assert at_limit.status == 200
    past = emulator.handle("POST", "/ListVectorBuckets", {}, {}, b"{}" + b" " * (limit - 1))
    assert past.status == 400
    assert past.headers["x-amzn-ErrorType"] == "ValidationException"
    body = json.loads(past.body)
    assert body["fieldList"][0]["path"] == "request"
    assert f"payload of {limit + 1} bytes" in body["message"]
    assert "20 MiB" in body["message"]


@pytest.mark.parametrize("fast_json", [True, False])
def test_booleans_in_vector_data_are_refused_on_either_parse_path(fast_json: bool) -> None:
    """Whether vector data may hold booleans travels beside the body, not inside it: a boolean
    elsewhere in the body does not let one through, and the body gains no extra member."""
    import json

    from s3vectors_emulator import Emulator

    emulator = Emulator(fast_json=fast_json)
    ref = {"vectorBucketName": "bkt", "indexName": "idx"}

    def post(operation: str, payload: dict[str, Any]) -> tuple[int, Any]:
        answer = emulator.handle("POST", f"/{operation}", {}, {}, json.dumps(payload).encode())
        return answer.status, json.loads(answer.body)

    assert post("CreateVectorBucket", {"vectorBucketName": "bkt"})[0] == 200
    create = {**ref, "dataType": "float32", "dimension": 2, "distanceMetric": "euclidean"}
    assert post("CreateIndex", create)[0] == 200
    bad = {**ref, "vectors": [{"key": "k", "data": {"float32": [1, True]}}]}
    status, body = post("PutVectors", bad)
    assert status == 400 and "must contain only numbers" in body["message"]
    good = {**ref, "vectors": [{"key": "k", "data": {"float32": [1, 2]}, "metadata": {"b": True}}]}
    assert post("PutVectors", good)[0] == 200
    status, body = post("QueryVectors", {**ref, "topK": 1, "queryVector": {"float32": [True, 1]}})
    assert status == 400 and body["fieldList"][0]["path"] == "queryVector"
    status, body = post("GetVectors", {**ref, "keys": ["k"], "returnMetadata": True})
    assert body["vectors"] == [{"key": "k", "metadata": {"b": True}}]


def test_only_successful_writes_mark_the_state_for_a_snapshot(tmp_path: Path) -> None:
    from s3vectors_emulator import Emulator

    emulator = Emulator(data_dir=tmp_path)
    arn = "arn:aws:s3vectors:us-east-1:123456789012:bucket/bkt"

    def status(method: str, path: str, body: bytes) -> int:
        return emulator.handle(method, path, {}, {}, body).status

    assert status("POST", "/ListVectorBuckets", b"{}") == 200
    assert status("POST", "/CreateVectorBucket", b'{"vectorBucketName":"B"}') == 400
    assert not emulator.dirty
    assert status("POST", "/CreateVectorBucket", b'{"vectorBucketName":"bkt"}') == 200
    assert emulator.dirty
    assert emulator.save()
    assert not emulator.dirty
    assert status("GET", f"/tags/{arn}", b"") == 200
    assert status("POST", "/QueryVectors", b"{}") == 400
    assert not emulator.dirty
    assert status("POST", f"/tags/{arn}", b'{"tags":{"a":"b"}}') == 200
    assert emulator.dirty
