"""Runs the handler like the Lambda Python runtime: context, timeout, error shape, log lines."""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency of s3vl; the stdlib parser is the fallback
    orjson = None  # type: ignore[assignment]

from s3vl_local.lambda_endpoint.context import ClientContext, LambdaContext, function_arn
from s3vl_local.lambda_endpoint.logs import InvocationLog, install_routing

LOG_TAIL_BYTES = 4096
DEFAULT_HANDLER = "s3vl_lambda.handler:lambda_handler"

Handler = Callable[[Any, LambdaContext], Any]


@dataclass(frozen=True)
class FunctionConfig:
    function_name: str
    region: str
    timeout_seconds: float
    handler_spec: str = DEFAULT_HANDLER
    memory_mb: int = 512
    max_concurrency: int = 10
    # Aliases the function answers to (all point at $LATEST: there are no published versions).
    aliases: tuple[str, ...] = ()

    @property
    def qualifiers(self) -> tuple[str, ...]:
        return ("$LATEST", *self.aliases)


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes
    function_error: str | None
    log_tail: bytes


class Throttled(Exception):
    """Every execution environment is busy (Lambda's TooManyRequestsException)."""


class InvalidRequestContent(ValueError):
    """The body is not UTF-8 JSON (Lambda answers 400 InvalidRequestContentException)."""


_NOT_PARSED = object()
# orjson reads an integer past 64 bits as a float (json gives an int): such a float is at least
# 2**63 in magnitude.
_INT64_BOUND = 2.0 ** 63


def _has_huge_number(value: Any) -> bool:
    """True if a number in `value` is a float of magnitude >= 2**63 (maybe an integer orjson
    could not hold). Lists of numbers are checked by min/max in C: a 4,000-vector batch takes
    milliseconds, where a regular expression over its text took longer than parsing it."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)  # exact types: orjson builds only these
        if kind is dict:
            extend(item.values())
        elif kind is list:
            if item:
                try:
                    if max(item) >= _INT64_BOUND or min(item) <= -_INT64_BOUND:
                        return True
                except TypeError:  # not all numbers: look inside
                    extend(item)
        elif kind is float and (item >= _INT64_BOUND or item <= -_INT64_BOUND):
            return True
    return False


def _parse_fast(body: bytes) -> Any:
    """The event parsed by orjson (a 6 MB batch of vectors in a third of json's time), or
    _NOT_PARSED where its answer could differ from json's: a number orjson could not hold as
    json does, NaN or Infinity (orjson refuses them), invalid input (json words the error)."""
    if orjson is None:
        return _NOT_PARSED
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_PARSED
    return _NOT_PARSED if _has_huge_number(event) else event


def parse_event(body: bytes) -> Any:
    """The event a handler gets; an empty body is `{}`. Never raises anything but
    InvalidRequestContent, whose message carries no traceback."""
    if not body.strip():
        return {}
    fast = _parse_fast(body)
    if fast is not _NOT_PARSED:
        return fast
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        reason = f"Invalid UTF-8 byte 0x{body[exc.start]:02x} at offset {exc.start}"
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    except RecursionError:
        reason = "JSON nested too deeply"
    raise InvalidRequestContent(
        f"Could not parse request body into json: Could not parse payload into json: {reason}")


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body the Python runtime returns for an exception the handler raised."""
    # Only the function's own frames, as the Lambda runtime reports them.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.StackSummary.from_list(frames)),
    }


class FunctionRuntime:
    """A bounded pool of execution environments (threads) running one handler."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self.latency_ms = 0
        self._pool = ThreadPoolExecutor(max_workers=config.max_concurrency,
                                        thread_name_prefix="lambda-env")
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        # Invocations answered 429 so far (reported by GET /_s3vl/health).
        self.throttled = 0
        self._throttled_lock = threading.Lock()
        self._handler: Handler | None = None
        self._import_lock = threading.Lock()
        install_routing()

    @property
    def arn(self) -> str:
        return function_arn(self.config.region, self.config.function_name)

    def _load_handler(self) -> Handler:
        with self._import_lock:
            if self._handler is None:
                module_name, _, attr = self.config.handler_spec.partition(":")
                module = importlib.import_module(module_name)
                self._handler = getattr(module, attr or "lambda_handler")
            return self._handler

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def invoke(self, event_bytes: bytes, qualifier: str | None,
               client_context: ClientContext | None, wait: bool = True) -> InvocationResult:
        """Run one invocation. With wait=False (Event) the result is dropped when it ends.

        Raises InvalidRequestContent for a body that is not UTF-8 JSON, and Throttled at once
        when max_concurrency invocations are running (as a reserved concurrency does)."""
        event = parse_event(event_bytes)
        if not self._slots.acquire(blocking=False):
            with self._throttled_lock:
                self.throttled += 1
            raise Throttled("Rate Exceeded.")
        request_id = str(uuid.uuid4())
        deadline = time.monotonic() + self.config.timeout_seconds
        context = LambdaContext(
            function_name=self.config.function_name,
            function_version="$LATEST",
            invoked_function_arn=function_arn(self.config.region, self.config.function_name,
                                              qualifier),
            memory_limit_in_mb=self.config.memory_mb,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{self.config.function_name}",
            log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
            deadline_monotonic=deadline,
            client_context=client_context,
        )
        future = self._pool.submit(self._run, event, context)
        # The slot is freed when the handler really returns, even after a timeout answer:
        # like a timed-out Lambda environment, it is busy until it is torn down.
        future.add_done_callback(lambda _f: self._slots.release())
        if not wait:
            return InvocationResult(request_id, b"", None, b"")
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            message = (f"RequestId: {request_id} Error: Task timed out after "
                       f"{self.config.timeout_seconds:.2f} seconds")
            body = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            log = f"START RequestId: {request_id}\n{message}\nEND RequestId: {request_id}\n"
            return InvocationResult(request_id, json.dumps(body).encode(), "Unhandled",
                                    log.encode()[-LOG_TAIL_BYTES:])

    def _run(self, event: Any, context: LambdaContext) -> InvocationResult:
        request_id = context.aws_request_id
        started = time.monotonic()
        function_error: str | None = None
        with InvocationLog() as log:
            log.write(f"START RequestId: {request_id} Version: $LATEST\n")
            if self.latency_ms:
                time.sleep(self.latency_ms / 1000)
            try:
                handler = self._load_handler()
            except Exception as exc:
                body: Any = error_payload(exc, request_id)
                body["errorType"] = "Runtime.ImportModuleError"
                function_error = "Unhandled"
            else:
                try:
                    body = handler(event, context)
                except Exception as exc:
                    body = error_payload(exc, request_id)
                    function_error = "Unhandled"
                    log.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n")
            try:
                payload = json.dumps(body).encode()
            except (TypeError, ValueError) as exc:
                body = {"errorMessage": f"Unable to marshal response: {exc}",
                        "errorType": "Runtime.MarshalError", "requestId": request_id,
                        "stackTrace": []}
                payload, function_error = json.dumps(body).encode(), "Unhandled"
            elapsed_ms = (time.monotonic() - started) * 1000
            log.write(f"END RequestId: {request_id}\n")
            log.write(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
                      f"Memory Size: {self.config.memory_mb} MB\n")
        return InvocationResult(request_id, payload, function_error, log.tail(LOG_TAIL_BYTES))


