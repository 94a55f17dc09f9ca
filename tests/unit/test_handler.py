"""The envelope: every failure is data, never an exception."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3vl_lambda import PROTOCOL_VERSION, __version__
from s3vl_lambda.errors import ERROR_TYPES
from s3vl_lambda.handler import lambda_handler
from s3vl_lambda.operations import OPERATIONS

from .conftest import INDEX_ARN, REGION, Invoke, LambdaContext


def _check_failure(env: dict[str, Any], error_type: str, field: str | None) -> dict[str, Any]:
    assert env["success"] is False
    err = env["error"]
    assert set(err) == {"type", "message", "code", "retryable", "field"}
    assert err["type"] == error_type
    assert err["type"] in ERROR_TYPES
    assert err["field"] == field
    assert isinstance(env["request_id"], str) and env["request_id"]
    assert isinstance(env["execution_time_ms"], int)
    return err


def test_availability_check_reports_versions_and_region(invoke: Invoke) -> None:
    env = invoke({"operation": "availability_check"})
    assert env["success"] is True
    assert env["result"] == {
        "status": "available",
        "function_version": __version__,
        "package_version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "region": REGION,
    }


def test_request_id_comes_from_the_context() -> None:
    ctx = LambdaContext(aws_request_id="req-123")
    env = lambda_handler({"operation": "availability_check"}, ctx)
    assert env["request_id"] == "req-123"


def test_no_context_still_answers() -> None:
    env = lambda_handler({"operation": "availability_check"}, None)
    assert env["success"] is True and env["request_id"]


@pytest.mark.parametrize(
    "event",
    [
        json.dumps({"operation": "availability_check"}),
        json.dumps(json.dumps({"operation": "availability_check"})),
        json.dumps({"operation": "availability_check"}).encode(),
    ],
    ids=["json-string", "double-encoded", "bytes"],
)
def test_event_may_arrive_as_json_text(invoke: Invoke, event: Any) -> None:
    assert invoke(event)["result"]["status"] == "available"


@pytest.mark.parametrize(
    ("event", "field", "needle"),
    [
        ("{not json", None, "not valid JSON"),
        ([1, 2], None, "JSON object"),
        ({}, "operation", "required"),
        ({"operation": "drop_everything"}, "operation", "unsupported operation"),
        ({"operation": 7}, "operation", "unsupported operation"),
    ],
)
def test_malformed_events_are_validation_errors(
    invoke: Invoke, event: Any, field: str | None, needle: str
) -> None:
    err = _check_failure(invoke(event), "ValidationError", field)
    assert needle in err["message"]
    assert err["retryable"] is False


def test_unknown_operation_lists_the_supported_ones(invoke: Invoke) -> None:
    err = _check_failure(invoke({"operation": "nope"}), "ValidationError", "operation")
    for name in OPERATIONS:
        assert name in err["message"]


def test_unexpected_exception_becomes_internal_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(req: Any, deadline: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(OPERATIONS, "availability_check", broken)
    err = _check_failure(invoke({"operation": "availability_check"}), "InternalError", None)
    assert "ZeroDivisionError" in err["message"] and "boom" in err["message"]
    assert err["retryable"] is False


def test_envelope_is_json_serialisable(invoke: Invoke) -> None:
    env = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "vector_ids": "k1"})
    _check_failure(env, "ValidationError", "vector_ids")
    assert json.loads(json.dumps(env)) == env


def test_both_index_forms_at_once_are_refused(invoke: Invoke) -> None:
    env = invoke(
        {
            "operation": "get_index",
            "index_arn": INDEX_ARN,
            "vector_bucket_name": "abc",
            "index_name": "def",
        }
    )
    assert "not both" in _check_failure(env, "ValidationError", "index_arn")["message"]


def test_missing_index_is_a_validation_error(invoke: Invoke) -> None:
    env = invoke({"operation": "query_vectors", "query_vector": [1.0]})
    _check_failure(env, "ValidationError", "index_arn")


def test_even_a_failing_error_path_answers(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vl_lambda import handler

    def broken_mapping(exc: BaseException, operation: str) -> Any:
        raise RuntimeError("mapping broke")

    monkeypatch.setattr(handler, "from_exception", broken_mapping)
    env = invoke({"operation": "nope"})
    assert env["success"] is False and env["error"]["type"] == "InternalError"
    assert "RuntimeError" in env["error"]["message"]


def test_deeply_nested_event_does_not_raise(invoke: Invoke) -> None:
    env = invoke("[" * 100_000 + "]" * 100_000)
    assert env["success"] is False and env["error"]["type"] == "ValidationError"
    assert "nested too deeply" in env["error"]["message"]


@pytest.mark.parametrize(
    ("value", "name"),
    [(None, "null"), (1.5, "number"), (True, "boolean"), ([1], "array"), ({"a": 1}, "object")],
)
def test_type_errors_use_json_type_names(invoke: Invoke, value: Any, name: str) -> None:
    env = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "vector_ids": [value]})
    assert env["error"]["field"] == "vector_ids[0]"
    assert env["error"]["message"].endswith(f"got {name}")
