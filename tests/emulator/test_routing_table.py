"""The emulator's routing table (urls.py) against botocore's S3 Vectors model: the same
operations, the same HTTP method and path, read-only exactly where the model marks an operation
`readonly`, and a vector body exactly where the input carries vector data."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.loaders import Loader
from botocore.model import ListShape, Shape, StructureShape

from s3vl_local.emulator import urls

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
    from s3vl_local.emulator.exceptions import UnknownOperationError

    with pytest.raises(UnknownOperationError, match="not an S3 Vectors operation"):
        urls.resolve(method, path, {})
