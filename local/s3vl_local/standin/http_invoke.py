"""The stand-in's one HTTP call: Lambda's Invoke API at the local endpoint, answered as a row.

PL/Python runs this file's text, not this file: `s3vl_local.standin.install` embeds the source in
`aws_lambda._http_invoke` (PostgreSQL's OS user may not be able to read the checkout), which
executes it once per session and calls `run`. Hence: standard library only (PL/Python runs the
system python3), nothing imported from s3vl_local, and no database access except through the two
readers `run` is handed. `run` never raises for an expected failure: it returns the error in the
error_* columns, which aws_lambda._invoke raises with Aurora's texts (a PL/Python raise would
prefix "plpy.Error: ").
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import NamedTuple

TIMEOUT_RANGE_MS = (1, 900000)
TIMEOUT_DEFAULTS_MS = {"aws_lambda.connect_timeout_ms": 1000,
                       "aws_lambda.request_timeout_ms": 3000}
# arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:([^:]+):[0-9]{12}:function:[^:]+(?::([^:]+))?$")
NO_ENDPOINT = ("Unable to connect to endpoint: aws_lambda.endpoint_override is not set at "
               "database or server level (the local stand-in needs the local Lambda endpoint "
               "URL there; a session's own value is ignored)")

# One OUT row of aws_lambda._http_invoke, keyed by column name.
Row = dict[str, "int | str | None"]
ReadEndpoint = Callable[[], "str | None"]
ReadSetting = Callable[[str], "str | None"]


class Call(NamedTuple):
    """The arguments of aws_lambda._http_invoke, as SQL passed them (any may be NULL)."""

    fn_name: str | None
    payload: str | None
    region: str | None
    invocation_type: str | None
    log_type: str | None
    context: str | None
    qualifier: str | None


class Request(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


class Failure(Exception):
    """An error for SQL to raise: Aurora's message, DETAIL or HINT, and SQLSTATE."""

    def __init__(self, message: str, detail: str | None = None, hint: str | None = None,
                 sqlstate: str = "XX000") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        self.sqlstate = sqlstate

    def row(self) -> Row:
        return {"status_code": None, "payload": None, "executed_version": None,
                "log_result": None, "error_message": self.message, "error_detail": self.detail,
                "error_hint": self.hint, "error_sqlstate": self.sqlstate}


def api_failed(reason: str) -> Failure:
    return Failure("invoke API failed", detail=f"AWS Lambda client returned '{reason}'.")


def check_call(call: Call) -> None:
    """Refuses a missing function name, and a region or qualifier its ARN contradicts."""
    if not call.fn_name:
        raise Failure("invoke API failed", detail="function_name must not be NULL or empty",
                      sqlstate="22023")
    arn = FUNCTION_ARN.match(call.fn_name)
    if arn and call.region and call.region != arn.group(1):
        raise Failure("invoke API failed",
                      detail=f'region "{call.region}" conflicts with the region '
                             f'"{arn.group(1)}" in the function ARN', sqlstate="22023")
    if arn and call.qualifier and arn.group(2) and call.qualifier != arn.group(2):
        raise Failure("invoke API failed",
                      detail=f'qualifier "{call.qualifier}" conflicts with the qualifier '
                             f'"{arn.group(2)}" in the function ARN', sqlstate="22023")


def timeout_ms(name: str, raw: str | None) -> int:
    """The timeout setting `name` whose text is `raw` (unset or empty: its default)."""
    if raw is None or raw == "":
        return TIMEOUT_DEFAULTS_MS[name]
    try:
        value: int | None = int(raw)
    except ValueError:
        value = None
    low, high = TIMEOUT_RANGE_MS
    if value is None or not low <= value <= high:
        raise Failure(f'invalid value for parameter "{name}": "{raw}"',
                      hint=f"{name} must be an integer between {low} and {high} (milliseconds)",
                      sqlstate="22023")
    return value


def build_request(call: Call) -> Request:
    """The Invoke API request: the function name or ARN quoted whole into the path."""
    name = urllib.parse.quote(call.fn_name or "", safe="")
    path = f"/2015-03-31/functions/{name}/invocations"
    if call.qualifier:
        path += "?Qualifier=" + urllib.parse.quote(call.qualifier, safe="")
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Invocation-Type": call.invocation_type or "RequestResponse",
        "X-Amz-Log-Type": call.log_type or "None",
    }
    if call.context is not None:
        headers["X-Amz-Client-Context"] = base64.b64encode(call.context.encode()).decode()
    return Request(path, headers, (call.payload or "").encode("utf-8"))


def send(endpoint: str, request: Request, connect_s: float, request_s: float) -> Response:
    """POSTs `request` to `endpoint`; connect and transfer failures as curl-worded Failures."""
    url = urllib.parse.urlsplit(endpoint)
    if not url.hostname:
        raise api_failed("Unable to connect to endpoint")
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=connect_s)
    try:
        try:
            conn.connect()
        except OSError:
            raise api_failed("Unable to connect to endpoint") from None
        conn.sock.settimeout(request_s)
        try:
            # Lambda answers an oversized body (413) before reading it all: read that answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request("POST", request.path, body=request.body, headers=request.headers)
            resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError:  # socket.timeout since 3.10
            raise api_failed("curlCode: 28, Timeout was reached") from None
        except OSError as exc:
            raise api_failed(f"Unable to connect to endpoint: {exc}") from None
    finally:
        conn.close()
    headers: dict[str, str] = {}
    for name, value in resp.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Response(resp.status, headers, raw)


def answer(call: Call, response: Response) -> Row:
    """The row for Lambda's answer: API errors and function errors as Aurora words them."""
    text = response.body.decode("utf-8", "replace")
    if response.status >= 300:
        try:
            message = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            message = text
        kind = response.headers.get("x-amzn-errortype") or f"HTTP {response.status}"
        raise api_failed(f"{kind.split(':')[0]}: {message}")
    function_error = response.headers.get("x-amz-function-error")
    if function_error:
        raise Failure("lambda invocation failed",
                      detail=f'"{call.fn_name}" returned error "{function_error}", '
                             f'details: "{text}".')
    return {
        "status_code": response.status,
        "payload": text if text != "" else None,
        "executed_version": response.headers.get("x-amz-executed-version"),
        "log_result": response.headers.get("x-amz-log-result"),
        "error_message": None, "error_detail": None, "error_hint": None, "error_sqlstate": None,
    }


def invoke(call: Call, read_endpoint: ReadEndpoint, read_setting: ReadSetting) -> Row:
    """The whole call; raises Failure. `read_endpoint` must give only the database- or
    server-level aws_lambda.endpoint_override (never a session's), `read_setting` a setting's
    current text."""
    check_call(call)
    endpoint = read_endpoint() or ""
    if not endpoint:
        raise api_failed(NO_ENDPOINT)
    connect_s = timeout_ms("aws_lambda.connect_timeout_ms",
                           read_setting("aws_lambda.connect_timeout_ms")) / 1000.0
    request_s = timeout_ms("aws_lambda.request_timeout_ms",
                           read_setting("aws_lambda.request_timeout_ms")) / 1000.0
    return answer(call, send(endpoint, build_request(call), connect_s, request_s))


def run(call: Call, read_endpoint: ReadEndpoint, read_setting: ReadSetting) -> Row:
    """What aws_lambda._http_invoke returns: the answer, or the failure in error_* columns."""
    try:
        return invoke(call, read_endpoint, read_setting)
    except Failure as failure:
        return failure.row()
