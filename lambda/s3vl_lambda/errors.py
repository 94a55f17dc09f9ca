"""Protocol error types and the mapping from botocore exceptions to them (docs/protocol.md)."""

from __future__ import annotations

from typing import Any, Final

VALIDATION_ERROR: Final = "ValidationError"
NOT_FOUND: Final = "NotFound"
ACCESS_DENIED: Final = "AccessDenied"
CONFLICT: Final = "Conflict"
THROTTLED: Final = "Throttled"
SERVICE_ERROR: Final = "ServiceError"
TIMEOUT: Final = "Timeout"
INTERNAL_ERROR: Final = "InternalError"

ERROR_TYPES: Final = (
    VALIDATION_ERROR,
    NOT_FOUND,
    ACCESS_DENIED,
    CONFLICT,
    THROTTLED,
    SERVICE_ERROR,
    TIMEOUT,
    INTERNAL_ERROR,
)

# S3 Vectors exception name -> (protocol type, retryable)
_SERVICE_CODES: Final[dict[str, tuple[str, bool]]] = {
    "ValidationException": (VALIDATION_ERROR, False),
    "NotFoundException": (NOT_FOUND, False),
    "AccessDeniedException": (ACCESS_DENIED, False),
    "ConflictException": (CONFLICT, False),
    "TooManyRequestsException": (THROTTLED, True),
    "ThrottlingException": (THROTTLED, True),
    "RequestTimeoutException": (TIMEOUT, True),
    "ServiceQuotaExceededException": (SERVICE_ERROR, False),
    "InternalServerException": (SERVICE_ERROR, True),
    "ServiceUnavailableException": (SERVICE_ERROR, True),
}


class S3vlError(Exception):
    """A failure the function foresaw; becomes the `error` object of a failure envelope."""

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.code = code or error_type
        self.retryable = retryable
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.error_type,
            "message": self.message,
            "code": self.code,
            "retryable": self.retryable,
            "field": self.field,
        }


def validation_error(field: str | None, message: str) -> S3vlError:
    """Bad input: the message starts with the field name so SQL users see what to fix."""
    text = f"{field}: {message}" if field else message
    return S3vlError(VALIDATION_ERROR, text, field=field)


def from_client_error(response: dict[str, Any], operation: str) -> S3vlError:
    """Map a botocore ClientError response (already retried by botocore) to a protocol error."""
    err = response.get("Error", {})
    code = str(err.get("Code") or "Unknown")
    message = str(err.get("Message") or code)
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _SERVICE_CODES:
        error_type, retryable = _SERVICE_CODES[code]
    elif code.startswith("Kms"):
        error_type, retryable = SERVICE_ERROR, False
    elif status == 404 or code == "404":
        error_type, retryable = NOT_FOUND, False
    elif status == 403:
        error_type, retryable = ACCESS_DENIED, False
    elif status == 429:
        error_type, retryable = THROTTLED, True
    elif status >= 500:
        error_type, retryable = SERVICE_ERROR, True
    elif 400 <= status < 500:
        error_type, retryable = VALIDATION_ERROR, False
    else:
        error_type, retryable = SERVICE_ERROR, False
    return S3vlError(error_type, f"{operation}: {message}", code=code, retryable=retryable)


def from_exception(exc: BaseException, operation: str) -> S3vlError:
    """Map any exception raised around a boto3 call; unknown ones are InternalError (a bug)."""
    if isinstance(exc, S3vlError):
        return exc
    # Imported here: botocore costs ~100 ms to import and the handler imports this module eagerly.
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        return from_client_error(dict(exc.response), operation)
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return S3vlError(
            TIMEOUT, f"{operation}: {exc}", code=type(exc).__name__, retryable=True
        )
    if isinstance(exc, bx.ParamValidationError):
        return S3vlError(VALIDATION_ERROR, f"{operation}: {exc}", code="ParamValidationError")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError)):
        return S3vlError(
            SERVICE_ERROR, f"{operation}: {exc}", code=type(exc).__name__, retryable=True
        )
    if isinstance(exc, bx.NoCredentialsError):
        return S3vlError(ACCESS_DENIED, f"{operation}: {exc}", code="NoCredentialsError")
    if isinstance(exc, bx.BotoCoreError):
        return S3vlError(SERVICE_ERROR, f"{operation}: {exc}", code=type(exc).__name__)
    return S3vlError(
        INTERNAL_ERROR,
        f"unexpected {type(exc).__name__} in {operation}: {exc}",
        code=INTERNAL_ERROR,
    )
