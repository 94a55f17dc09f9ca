"""The Lambda Invoke API over HTTP on 127.0.0.1, for one function, plus a small admin API.

`POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=q]` as AWS Lambda answers it;
`GET /_s3vl/health`; `POST /_s3vl/config {"latency_ms": N}` (extra delay before each invocation,
for fault tests of `aws_lambda.request_timeout_ms`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from s3vl_lambda.limits import MAX_EVENT_PAYLOAD_BYTES, MAX_INVOKE_PAYLOAD_BYTES
from s3vl_local.lambda_endpoint.context import ClientContext, function_arn
from s3vl_local.lambda_endpoint.naming import BadFunctionName, matches, parse_function_name
from s3vl_local.lambda_endpoint.runtime import (
    FunctionRuntime,
    InvalidRequestContent,
    InvocationResult,
    Throttled,
)

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
SYNC_PAYLOAD_LIMIT = MAX_INVOKE_PAYLOAD_BYTES  # Lambda's limits, written once in s3vl_lambda
ASYNC_PAYLOAD_LIMIT = MAX_EVENT_PAYLOAD_BYTES
CLIENT_CONTEXT_LIMIT = 3583
INVOCATION_TYPES = {"RequestResponse": 200, "Event": 202, "DryRun": 204}


class LambdaError(Exception):
    """An error Lambda answers itself (the function does not run)."""

    def __init__(self, status: int, error_type: str, message: str,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.reason = reason


class InvokeHandler(BaseHTTPRequestHandler):
    server: LambdaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            super().log_message(format, *args)

    # ---- helpers -------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_error(self, err: LambdaError, request_id: str = "") -> None:
        fields = {"Reason": err.reason} if err.reason else {}
        body = json.dumps({**fields, "Type": "User", "message": err.message}).encode()
        headers = {"x-amzn-ErrorType": err.error_type}
        if request_id:
            headers["x-amzn-RequestId"] = request_id
        self._send(err.status, body, headers)

    def _read_body(self, limit: int) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            # The unread body makes the connection unusable: answer, then close it.
            self.close_connection = True
            raise LambdaError(413, "RequestTooLargeException",
                              f"Request must be smaller than {limit} bytes for the "
                              "InvokeFunction operation")
        return self.rfile.read(length) if length else b""

    # ---- routes --------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path == "/_s3vl/health":
            cfg = self.server.runtime.config
            body = {"status": "ok", "function_name": cfg.function_name,
                    "function_arn": self.server.runtime.arn, "handler": cfg.handler_spec,
                    "timeout_seconds": cfg.timeout_seconds,
                    "latency_ms": self.server.runtime.latency_ms,
                    "max_concurrency": cfg.max_concurrency,
                    "throttled": self.server.runtime.throttled}
            self._send(200, json.dumps(body).encode())
            return
        self._send_error(LambdaError(404, "UnknownOperationException", "Unknown operation"))

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/_s3vl/config":
                self._configure()
            elif url.path.startswith(INVOKE_PREFIX) and url.path.endswith(INVOKE_SUFFIX):
                name = urllib.parse.unquote(url.path[len(INVOKE_PREFIX):-len(INVOKE_SUFFIX)])
                query = urllib.parse.parse_qs(url.query)
                qualifiers = query.get("Qualifier")
                self._invoke(name, qualifiers[0] if qualifiers else None)
            else:
                raise LambdaError(404, "UnknownOperationException", "Unknown operation")
        except LambdaError as err:
            self._send_error(err)

    def _configure(self) -> None:
        try:
            update = json.loads(self._read_body(64 * 1024) or b"{}")
            latency = int(update.get("latency_ms", self.server.runtime.latency_ms))
        except (ValueError, TypeError, AttributeError) as exc:
            raise LambdaError(400, "InvalidParameterValueException",
                              f"latency_ms must be an integer: {exc}") from exc
        if latency < 0:
            raise LambdaError(400, "InvalidParameterValueException", "latency_ms must be >= 0")
        self.server.runtime.latency_ms = latency
        self._send(200, json.dumps({"latency_ms": latency}).encode())

    def _invoke(self, raw_name: str, query_qualifier: str | None) -> None:
        runtime = self.server.runtime
        cfg = runtime.config
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            raise LambdaError(400, "InvalidParameterValueException",
                              f"1 validation error detected: Value '{invocation_type}' at "
                              "'invocationType' failed to satisfy constraint: Member must "
                              "satisfy enum value set: [Event, RequestResponse, DryRun]")
        log_type = self.headers.get("X-Amz-Log-Type") or "None"
        if log_type not in ("None", "Tail"):
            raise LambdaError(400, "InvalidParameterValueException",
                              f"1 validation error detected: Value '{log_type}' at 'logType' "
                              "failed to satisfy constraint: Member must satisfy enum value "
                              "set: [Tail, None]")
        try:
            ref = parse_function_name(raw_name)
        except BadFunctionName as exc:
            raise LambdaError(400, "ValidationException", str(exc)) from exc
        if ref.qualifier and query_qualifier and ref.qualifier != query_qualifier:
            raise LambdaError(400, "InvalidParameterValueException",
                              "The derived qualifier from the function name does not match "
                              "the specified qualifier.")
        qualifier = query_qualifier or ref.qualifier
        if not matches(ref, cfg.function_name, cfg.region) or (
            qualifier is not None and qualifier not in cfg.qualifiers
        ):
            shown = function_arn(ref.region or cfg.region, ref.name, qualifier)
            raise LambdaError(404, "ResourceNotFoundException", f"Function not found: {shown}")
        limit = SYNC_PAYLOAD_LIMIT if invocation_type != "Event" else ASYNC_PAYLOAD_LIMIT
        body = self._read_body(limit)
        client_context = self._client_context()
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if invocation_type == "DryRun":
            self._send(204, b"", headers)
            return
        try:
            result = runtime.invoke(body, qualifier, client_context,
                                    wait=invocation_type == "RequestResponse")
        except InvalidRequestContent as exc:
            raise LambdaError(400, "InvalidRequestContentException", str(exc)) from exc
        except Throttled as exc:
            raise LambdaError(429, "TooManyRequestsException", str(exc),
                              reason="ReservedFunctionConcurrentInvocationLimitExceeded") from exc
        headers["x-amzn-RequestId"] = result.request_id
        if invocation_type == "Event":
            self._send(202, b"", headers)
            return
        self._send(200, result.payload, self._result_headers(result, headers, log_type))

    @staticmethod
    def _result_headers(result: InvocationResult, headers: dict[str, str],
                        log_type: str) -> dict[str, str]:
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail).decode()
        return headers

    def _client_context(self) -> ClientContext | None:
        raw = self.headers.get("X-Amz-Client-Context")
        if not raw:
            return None
        if len(raw) > CLIENT_CONTEXT_LIMIT:
            raise LambdaError(400, "InvalidParameterValueException",
                              f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes")
        try:
            decoded = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise LambdaError(400, "InvalidParameterValueException",
                              "Client context must be a valid Base64-encoded JSON object.") from exc
        if not isinstance(decoded, dict):
            raise LambdaError(400, "InvalidParameterValueException",
                              "Client context must be a valid Base64-encoded JSON object.")
        return ClientContext(client=decoded.get("client"), custom=decoded.get("custom") or decoded,
                             env=decoded.get("env"))


def check_loopback(host: str) -> None:
    """The endpoint has no authentication (as the emulator): it serves on loopback only."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"--host must be a loopback address (127.0.0.1, localhost), got {host!r}: "
                         "the local Lambda endpoint has no authentication")


class LambdaServer(ThreadingHTTPServer):
    daemon_threads = True
    # Bounded: at most this many connections wait in the accept queue.
    request_queue_size = 64

    def __init__(self, host: str, port: int, runtime: FunctionRuntime,
                 access_log: bool = False) -> None:
        check_loopback(host)
        super().__init__((host, port), InvokeHandler)
        self.runtime = runtime
        self.access_log = access_log

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_in_thread(runtime: FunctionRuntime, host: str = "127.0.0.1",
                    port: int = 0) -> tuple[LambdaServer, threading.Thread]:
    """Serve on a daemon thread (for tests); stop with `server.shutdown()`."""
    server = LambdaServer(host, port, runtime)
    thread = threading.Thread(target=server.serve_forever, name="lambda-endpoint", daemon=True)
    thread.start()
    return server, thread
