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
