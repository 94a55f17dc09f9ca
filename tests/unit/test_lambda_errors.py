"""S3 Vectors and botocore failures map to stable protocol error types."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as bx
from botocore.stub import Stubber

from s3vl_lambda.errors import from_exception

from .conftest import INDEX_ARN, Invoke


@pytest.mark.parametrize(
    ("code", "status", "error_type", "retryable"),
    [
        ("ValidationException", 400, "ValidationError", False),
        ("NotFoundException", 404, "NotFound", False),
        ("AccessDeniedException", 403, "AccessDenied", False),
        ("ConflictException", 409, "Conflict", False),
        ("TooManyRequestsException", 429, "Throttled", True),
        ("RequestTimeoutException", 408, "Timeout", True),
        ("ServiceQuotaExceededException", 402, "ServiceError", False),
        ("InternalServerException", 500, "ServiceError", True),
        ("ServiceUnavailableException", 503, "ServiceError", True),
        ("KmsDisabledException", 400, "ServiceError", False),
        ("SomethingNew", 502, "ServiceError", True),
        ("404", 404, "NotFound", False),
    ],
)
def test_service_errors_map_through_the_handler(
    invoke: Invoke, stubbed: Stubber, code: str, status: int, error_type: str, retryable: bool
) -> None:
    stubbed.add_client_error(
        "get_index", service_error_code=code, service_message=f"the service says {code}",
        http_status_code=status,
    )
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert env["success"] is False
    err = env["error"]
    assert err["type"] == error_type
    assert err["code"] == code
    assert err["retryable"] is retryable
    assert f"the service says {code}" in err["message"]


def test_index_cache_is_dropped_when_the_service_says_not_found(
    invoke: Invoke, stubbed: Stubber
) -> None:
    from .conftest import index_response

    query = {"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": [1.0] * 4}
    stubbed.add_response("get_index", index_response(dimension=4))
    stubbed.add_client_error("query_vectors", "NotFoundException", "index gone", 404)
    stubbed.add_response("get_index", index_response(dimension=2))
    assert invoke(query)["error"]["type"] == "NotFound"
    # The recreated index has dimension 2: the cached dimension 4 must not be used any more.
    env = invoke({**query, "query_vector": [1.0] * 4})
    assert env["error"]["message"].endswith("index dimension 2")
    stubbed.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("exc", "error_type", "retryable"),
    [
        (bx.ReadTimeoutError(endpoint_url="http://x"), "Timeout", True),
        (bx.ConnectTimeoutError(endpoint_url="http://x"), "Timeout", True),
        (bx.EndpointConnectionError(endpoint_url="http://x"), "ServiceError", True),
        (bx.NoCredentialsError(), "AccessDenied", False),
        (bx.ParamValidationError(report="bad"), "ValidationError", False),
        (KeyError("vectors"), "InternalError", False),
    ],
)
def test_transport_failures_map(exc: Exception, error_type: str, retryable: bool) -> None:
    err = from_exception(exc, "query_vectors")
    assert (err.error_type, err.retryable) == (error_type, retryable)
    assert err.message.startswith("query_vectors") or "query_vectors" in err.message


def test_read_timeout_through_the_handler(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3vl_lambda import clients

    class TimingOutClient:
        def get_index(self, **_: Any) -> Any:
            raise bx.ReadTimeoutError(endpoint_url="https://s3vectors.us-east-1.api.aws")

    monkeypatch.setattr(clients, "_create", lambda region, tier, retries=True: TimingOutClient())
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert env["error"]["type"] == "Timeout" and env["error"]["retryable"] is True
