"""Tiny Lambda handlers for endpoint and fault tests (selected with --handler module:function)."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("fake_handlers")


def echo(event: Any, context: Any) -> dict[str, Any]:
    """Returns the event and what the context says, logging a marker line."""
    marker = event.get("marker", "") if isinstance(event, dict) else ""
    print(f"echo marker={marker}")
    if isinstance(event, dict) and event.get("sleep_s"):
        time.sleep(float(event["sleep_s"]))
    print(f"echo done marker={marker}")
    client_context = getattr(context, "client_context", None)
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "custom": getattr(client_context, "custom", None),
    }


def boom(event: Any, context: Any) -> dict[str, Any]:
    log.error("about to fail")
    raise ValueError(f"boom: {event.get('why', 'no reason') if isinstance(event, dict) else ''}")


def sleepy(event: Any, context: Any) -> dict[str, Any]:
    seconds = float(event.get("sleep_s", 5)) if isinstance(event, dict) else 5.0
    time.sleep(seconds)
    return {"slept_s": seconds}


def unserializable(event: Any, context: Any) -> Any:
    return {"when": object()}


def environment(event: Any, context: Any) -> dict[str, str | None]:
    import os

    names = ("AWS_ENDPOINT_URL_S3VECTORS", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION",
             "AWS_ACCESS_KEY_ID", "S3VL_EXTRA")
    return {name: os.environ.get(name) for name in names}
