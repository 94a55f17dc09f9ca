"""Lambda entry point: parse the event, dispatch by `operation`, always return an envelope.

The handler never raises: a raised exception would reach SQL only as Aurora's opaque
"lambda invocation failed ... Unhandled" error.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from . import PROTOCOL_VERSION
from .deadline import Deadline
from .errors import INTERNAL_ERROR, S3vlError, from_exception, validation_error
from .fields import json_type
from .index_ref import set_invoked_function_arn
from .observability import logger, record
from .operations import OPERATIONS
from .partitions import bind_fan_out_pool
from .response_size import check_response_size


def _parse_event(event: Any) -> dict[str, Any]:
    """The request object; a JSON string (even a double-encoded one) is decoded first."""
    for _ in range(2):
        if isinstance(event, (bytes, bytearray)):
            event = event.decode("utf-8")
        if not isinstance(event, str):
            break
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            raise validation_error(None, f"the event is not valid JSON: {exc.msg}") from exc
        except RecursionError as exc:
            raise validation_error(None, "the event is nested too deeply") from exc
    if not isinstance(event, dict):
        raise validation_error(
            None, f"the event must be a JSON object, got {json_type(event)}"
        )
    return event


def _operation(req: dict[str, Any]) -> str:
    op = req.get("operation")
    if op is None:
        raise validation_error("operation", "is required")
    if not isinstance(op, str) or op not in OPERATIONS:
        raise validation_error(
            "operation", f"unsupported operation {op!r}; one of: {', '.join(OPERATIONS)}"
        )
    return op


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    start = time.perf_counter()
    deadline = Deadline.from_context(context)
    request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
    set_invoked_function_arn(getattr(context, "invoked_function_arn", None))
    bind_fan_out_pool()
    operation = "unknown"
    req: Any = event
    envelope: dict[str, Any]
    try:
        try:
            req = _parse_event(event)
            operation = _operation(req)
            result = OPERATIONS[operation](req, deadline)
            check_response_size(result)
            envelope = {"success": True, "result": result}
        except Exception as exc:
            error = from_exception(exc, operation)
            if error.error_type == INTERNAL_ERROR:
                logger.exception("unexpected exception", extra={"operation": operation})
            envelope = {"success": False, "error": error.to_dict()}
    except Exception as exc:  # the error path itself failed: still answer with an envelope
        envelope = {"success": False, "error": S3vlError(
            INTERNAL_ERROR, f"unexpected {type(exc).__name__} while reporting an error"
        ).to_dict()}
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    envelope["request_id"] = request_id
    envelope["execution_time_ms"] = round(elapsed_ms)
    # On every answer, so SQL notices a function of another protocol on the first call.
    envelope["protocol_version"] = PROTOCOL_VERSION
    record(
        request_id,
        operation,
        elapsed_ms,
        req,
        result=envelope.get("result"),
        error=envelope.get("error"),
    )
    return envelope
