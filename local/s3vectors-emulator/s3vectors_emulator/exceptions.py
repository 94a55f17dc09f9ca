"""Service errors as S3 Vectors returns them: HTTP status plus the `x-amzn-ErrorType` name."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the emulator answers with; botocore maps `code` to the client's exception class."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"message": self.message}
        if self.field is not None:
            body["fieldList"] = [{"path": self.field, "message": self.message}]
        return body


class ValidationError(ServiceError):
    code = "ValidationException"
    status = 400


def member_pointer(path: str) -> str:
    """`vectors[0].key` -> `/vectors/0/key`: how the service names a member in its texts."""
    return "/" + path.replace("[", ".").replace("]", "").replace(".", "/").lstrip("/")


def constraint_error(path: str, constraint: str, length: int | None = None) -> ValidationError:
    """The service's text for a member that breaks a constraint (facts 1.4a), e.g.
    `1 validation error detected. Value with length 2 at '/vectorBucketName' failed to satisfy
    constraint: Member must have length between 3 and 63, inclusive`."""
    value = "Value" if length is None else f"Value with length {length}"
    return ValidationError(
        f"1 validation error detected. {value} at '{member_pointer(path)}' failed to satisfy "
        f"constraint: Member must {constraint}",
        path,
    )


def between(low: int | None, high: int | None) -> str:
    """The bounds part of a constraint text: `between 1 and 4096, inclusive`, ..."""
    if low is not None and high is not None:
        return f"between {low} and {high}, inclusive"
    if low is not None:
        return f"greater than or equal to {low}"
    return f"less than or equal to {high}"


class NotFoundError(ServiceError):
    code = "NotFoundException"
    status = 404


class ConflictError(ServiceError):
    code = "ConflictException"
    status = 409


class TooManyRequestsError(ServiceError):
    code = "TooManyRequestsException"
    status = 429


class InternalServerError(ServiceError):
    code = "InternalServerException"
    status = 500


class ServiceUnavailableError(ServiceError):
    code = "ServiceUnavailableException"
    status = 503


class UnknownOperationError(ServiceError):
    # What API Gateway-style AWS front ends answer for an unknown route.
    code = "UnknownOperationException"
    status = 404
