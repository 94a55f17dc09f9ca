"""The `context` object a Python Lambda handler receives, built the way the Lambda runtime does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from s3vl_local.identity import ACCOUNT_ID


def function_arn(region: str, function_name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
    return f"{arn}:{qualifier}" if qualifier else arn


@dataclass
class ClientContext:
    """Decoded `X-Amz-Client-Context` (base64 JSON), as `context.client_context`."""

    client: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    env: dict[str, Any] | None = None


@dataclass
class LambdaContext:
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    client_context: ClientContext | None = None
    identity: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))
