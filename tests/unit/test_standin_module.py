"""The aws_lambda stand-in's Python (s3vl_local/standin/http_invoke.py) without PostgreSQL: the
request it builds, how it words Lambda's answers and errors (413, 429, function errors), and the
text the installer embeds in the PL/Python body. HTTP tests talk to a real Lambda endpoint process.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.lambda_endpoint_helpers import lambda_endpoint
from s3vl_local import standin
from s3vl_local.ports import free_port
from s3vl_local.standin import http_invoke
from s3vl_local.standin.http_invoke import Call, Failure, Response

ARN = "arn:aws:lambda:us-east-1:123456789012:function:s3vl-function"
MODULE_FILE = Path(http_invoke.__file__)


def call(fn_name: str | None = "s3vl-function", payload: str | None = "{}",
         region: str | None = None, invocation_type: str | None = "RequestResponse",
         log_type: str | None = "None", context: str | None = None,
         qualifier: str | None = None) -> Call:
    return Call(fn_name, payload, region, invocation_type, log_type, context, qualifier)


def failure_of(fn: object, *args: object) -> Failure:
    assert callable(fn)
    with pytest.raises(Failure) as info:
        fn(*args)
    return info.value


# ---- request building ------------------------------------------------------------------------

def test_request_quotes_the_whole_arn_and_qualifier_into_the_path() -> None:
    request = http_invoke.build_request(call(fn_name=f"{ARN}:live", qualifier="$LATEST"))
    assert request.path == ("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                            "123456789012%3Afunction%3As3vl-function%3Alive/invocations"
                            "?Qualifier=%24LATEST")


def test_request_headers_and_body() -> None:
    context = json.dumps({"custom": {"who": "sql"}})
    request = http_invoke.build_request(call(payload='{"q": "é"}', invocation_type="Event",
                                             log_type="Tail", context=context))
    assert request.headers == {
        "Content-Type": "application/json",
        "X-Amz-Invocation-Type": "Event",
        "X-Amz-Log-Type": "Tail",
        "X-Amz-Client-Context": base64.b64encode(context.encode()).decode(),
    }
    assert request.body == '{"q": "é"}'.encode()


def test_request_defaults_when_sql_passes_nulls() -> None:
    request = http_invoke.build_request(call(payload=None, invocation_type=None, log_type=None))
    assert request.path == "/2015-03-31/functions/s3vl-function/invocations"
    assert request.headers == {"Content-Type": "application/json",
                               "X-Amz-Invocation-Type": "RequestResponse",
                               "X-Amz-Log-Type": "None"}
    assert request.body == b""


# ---- argument and setting checks -------------------------------------------------------------

@pytest.mark.parametrize("name", [None, ""])
def test_missing_function_name(name: str | None) -> None:
    err = failure_of(http_invoke.check_call, call(fn_name=name))
    assert (err.message, err.detail, err.sqlstate) == (
        "invoke API failed", "function_name must not be NULL or empty", "22023")


@pytest.mark.parametrize(("fn_name", "region", "qualifier", "conflict"), [
    (ARN, "eu-west-1", None, 'region "eu-west-1" conflicts with the region "us-east-1" in the '
                             "function ARN"),
    (f"{ARN}:live", None, "v2", 'qualifier "v2" conflicts with the qualifier "live" in the '
                                "function ARN"),
    (ARN, "us-east-1", None, None),
    (f"{ARN}:live", "us-east-1", "live", None),
    (ARN, None, "v2", None),  # an ARN without a qualifier takes the argument's
    ("s3vl-function", "eu-west-1", "v2", None),  # a plain name carries neither
])
def test_region_and_qualifier_must_agree_with_the_arn(fn_name: str, region: str | None,
                                                      qualifier: str | None,
                                                      conflict: str | None) -> None:
    checked = call(fn_name=fn_name, region=region, qualifier=qualifier)
    if conflict is None:
        http_invoke.check_call(checked)
        return
    err = failure_of(http_invoke.check_call, checked)
    assert (err.message, err.detail, err.sqlstate) == ("invoke API failed", conflict, "22023")


@pytest.mark.parametrize(("raw", "expected"), [(None, 1000), ("", 1000), ("1", 1),
                                               ("900000", 900000), ("250", 250)])
def test_timeout_setting_accepted(raw: str | None, expected: int) -> None:
    assert http_invoke.timeout_ms("aws_lambda.connect_timeout_ms", raw) == expected


@pytest.mark.parametrize("raw", ["0", "900001", "soon", "1.5", "-3"])
def test_timeout_setting_refused_names_the_parameter_and_range(raw: str) -> None:
    err = failure_of(http_invoke.timeout_ms, "aws_lambda.request_timeout_ms", raw)
    assert err.message == f'invalid value for parameter "aws_lambda.request_timeout_ms": "{raw}"'
    assert err.hint == ("aws_lambda.request_timeout_ms must be an integer between 1 and 900000 "
                        "(milliseconds)")
    assert err.sqlstate == "22023"


# ---- answers and their error mapping ---------------------------------------------------------

def response(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, {k.replace("_", "-").lower(): v for k, v in headers.items()}, body)


def test_success_row_carries_payload_version_and_log() -> None:
    row = http_invoke.answer(call(), response(200, b'{"ok": true}',
                                              x_amz_executed_version="$LATEST",
                                              x_amz_log_result="bG9n"))
    assert row == {"status_code": 200, "payload": '{"ok": true}', "executed_version": "$LATEST",
                   "log_result": "bG9n", "error_message": None, "error_detail": None,
                   "error_hint": None, "error_sqlstate": None}


@pytest.mark.parametrize("status", [202, 204])
def test_empty_answer_is_a_null_payload(status: int) -> None:
    row = http_invoke.answer(call(), response(status))
    assert (row["status_code"], row["payload"], row["executed_version"]) == (status, None, None)


def test_function_error_is_lambda_invocation_failed() -> None:
    body = b'{"errorMessage": "boom", "errorType": "ValueError"}'
    err = failure_of(http_invoke.answer, call(fn_name=ARN),
                     response(200, body, x_amz_function_error="Unhandled"))
    assert (err.message, err.sqlstate) == ("lambda invocation failed", "XX000")
    assert err.detail == (f'"{ARN}" returned error "Unhandled", details: '
                          '"{"errorMessage": "boom", "errorType": "ValueError"}".')


@pytest.mark.parametrize(("status", "error_type", "body", "reason"), [
    (413, "RequestTooLargeException",
     b'{"Type": "User", "message": "Request must be smaller than 6291456 bytes for the '
     b'InvokeFunction operation"}',
     "RequestTooLargeException: Request must be smaller than 6291456 bytes for the "
     "InvokeFunction operation"),
    (429, "TooManyRequestsException",
     b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", '
     b'"message": "Rate Exceeded."}',
     "TooManyRequestsException: Rate Exceeded."),
    (404, "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.lambda/",
     b'{"message": "Function not found"}', "ResourceNotFoundException: Function not found"),
    (502, None, b"Bad Gateway", "HTTP 502: Bad Gateway"),
    (500, "ServiceException", b'{"Type": "Service"}', 'ServiceException: {"Type": "Service"}'),
    (500, "ServiceException", b'["not", "an", "object"]',
     'ServiceException: ["not", "an", "object"]'),
    (400, "InvalidRequestContentException", b"\xff not utf-8",
     "InvalidRequestContentException: \ufffd not utf-8"),
])
def test_api_errors_are_invoke_api_failed(status: int, error_type: str | None, body: bytes,
                                          reason: str) -> None:
    headers = {"x_amzn_ErrorType": error_type} if error_type else {}
    err = failure_of(http_invoke.answer, call(), response(status, body, **headers))
    assert (err.message, err.sqlstate, err.hint) == ("invoke API failed", "XX000", None)
    assert err.detail == f"AWS Lambda client returned '{reason}'."


# ---- run: the whole call, failures as rows ---------------------------------------------------

class Settings:
    """The readers PL/Python hands `run`, recording what the module asked for."""

    def __init__(self, endpoint: str | None, **timeouts: str) -> None:
        self.endpoint = endpoint
        self.timeouts = {f"aws_lambda.{k}": v for k, v in timeouts.items()}
        self.asked: list[str] = []

    def read_endpoint(self) -> str | None:
        self.asked.append("endpoint")
        return self.endpoint

    def read_setting(self, name: str) -> str | None:
        self.asked.append(name)
        return self.timeouts.get(name)

    def run(self, invoked: Call) -> http_invoke.Row:
        return http_invoke.run(invoked, self.read_endpoint, self.read_setting)


@pytest.mark.parametrize("endpoint", [None, ""])
def test_no_endpoint_is_a_row_not_an_exception(endpoint: str | None) -> None:
    settings = Settings(endpoint)
    row = settings.run(call())
    assert row == {"status_code": None, "payload": None, "executed_version": None,
                   "log_result": None, "error_message": "invoke API failed",
                   "error_detail": f"AWS Lambda client returned '{http_invoke.NO_ENDPOINT}'.",
                   "error_hint": None, "error_sqlstate": "XX000"}
    assert "database or server level" in http_invoke.NO_ENDPOINT
    # The endpoint comes from its own reader only, never from the session-visible settings.
    assert settings.asked == ["endpoint"]


def test_settings_read_are_only_the_two_timeouts() -> None:
    settings = Settings(f"http://127.0.0.1:{free_port()}")
    row = settings.run(call())
    assert row["error_detail"] == "AWS Lambda client returned 'Unable to connect to endpoint'."
    assert settings.asked == ["endpoint", "aws_lambda.connect_timeout_ms",
                              "aws_lambda.request_timeout_ms"]


def test_bad_argument_is_refused_before_any_setting_is_read() -> None:
    settings = Settings("http://127.0.0.1:1")
    row = settings.run(call(fn_name=ARN, region="eu-west-1"))
    assert (row["error_sqlstate"], settings.asked) == ("22023", [])


def test_bad_timeout_is_refused_before_connecting() -> None:
    row = Settings("http://127.0.0.1:1", request_timeout_ms="soon").run(call())
    assert (row["error_sqlstate"], row["error_hint"]) == (
        "22023", "aws_lambda.request_timeout_ms must be an integer between 1 and 900000 "
                 "(milliseconds)")
    assert row["error_detail"] is None


def test_endpoint_without_a_host_cannot_connect() -> None:
    row = Settings("not a url").run(call())
    assert row["error_detail"] == "AWS Lambda client returned 'Unable to connect to endpoint'."


# ---- over real HTTP: a Lambda endpoint process -----------------------------------------------

@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    """One execution environment, so a second concurrent invocation is throttled (429)."""
    with lambda_endpoint("e2e.fake_handlers:echo", timeout_seconds=10,
                         extra_args=("--max-concurrency", "1")) as url:
        yield url


def test_round_trip_with_tail_log(echo_url: str) -> None:
    row = Settings(echo_url).run(call(fn_name=ARN, payload='{"marker": "unit"}',
                                      log_type="Tail", qualifier="$LATEST"))
    assert (row["status_code"], row["executed_version"], row["error_message"]) == (
        200, "$LATEST", None)
    assert isinstance(row["payload"], str) and isinstance(row["log_result"], str)
    assert json.loads(row["payload"])["event"] == {"marker": "unit"}
    assert "echo marker=unit" in base64.b64decode(row["log_result"]).decode()


def test_oversized_payload_is_413_request_too_large(echo_url: str) -> None:
    # Lambda answers 413 before reading the body; the module still reads that answer.
    payload = json.dumps({"pad": "x" * (6 * 1024 * 1024)})
    row = Settings(echo_url).run(call(payload=payload))
    assert row["error_message"] == "invoke API failed"
    assert row["error_detail"] == (
        "AWS Lambda client returned 'RequestTooLargeException: Request must be smaller than "
        "6291456 bytes for the InvokeFunction operation'.")


def test_busy_function_is_429_too_many_requests(echo_url: str) -> None:
    throttled = ("AWS Lambda client returned 'TooManyRequestsException: Rate Exceeded.'.")
    deadline = time.monotonic() + 20
    slow_rows: list[http_invoke.Row] = []

    def occupy() -> None:
        """Holds the one execution environment for 3 s (retrying while the poller has it)."""
        while time.monotonic() < deadline:
            slow_rows.append(Settings(echo_url, request_timeout_ms="10000").run(
                call(payload='{"sleep_s": 3}')))
            if slow_rows[-1]["error_detail"] != throttled:
                return

    slow = threading.Thread(target=occupy)
    slow.start()
    try:
        row = Settings(echo_url).run(call())
        while row["error_detail"] != throttled and slow.is_alive():
            time.sleep(0.05)
            row = Settings(echo_url).run(call())
    finally:
        slow.join()
    # Only the other caller holding the environment can throttle this one.
    assert row["error_detail"] == throttled
    assert row["status_code"] is None
    assert slow_rows[-1]["status_code"] == 200


def test_slower_than_the_request_timeout(echo_url: str) -> None:
    started = time.monotonic()
    row = Settings(echo_url, request_timeout_ms="200").run(call(payload='{"sleep_s": 1}'))
    assert time.monotonic() - started < 0.9
    assert row["error_detail"] == "AWS Lambda client returned 'curlCode: 28, Timeout was reached'."
    time.sleep(1)  # let the one execution environment finish before the next test


# ---- the text the installer embeds -----------------------------------------------------------

def plpython_body(sql_text: str) -> str:
    match = re.search(r"FUNCTION aws_lambda\._http_invoke\(.*?AS \$py\$\n(.*?)\$py\$;", sql_text,
                      re.DOTALL)
    assert match is not None
    return match.group(1)


def test_installed_sql_embeds_the_module_source_exactly() -> None:
    sql_text = standin.standin_sql()
    assert standin.SOURCE_PLACEHOLDER not in sql_text
    body = plpython_body(sql_text)
    # PL/Python compiles the body as the inside of a function: so does this.
    tree = ast.parse("def _http_invoke():\n" + "".join(f"    {line}\n"
                                                      for line in body.splitlines()))
    compiles = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name) and node.func.id == "compile"]
    assert len(compiles) == 1
    assert ast.literal_eval(compiles[0].args[0]) == MODULE_FILE.read_text(encoding="utf-8")


def test_embedded_source_runs_outside_the_import_system() -> None:
    """As the PL/Python body does: exec into a bare module, then call run()."""
    source = ast.literal_eval(standin.python_literal(MODULE_FILE.read_text(encoding="utf-8")))
    module = types.ModuleType("s3vl_standin_http_invoke")
    exec(compile(source, "s3vl_local/standin/http_invoke.py", "exec"), module.__dict__)
    row = module.run(module.Call(None, "{}", None, None, None, None, None),
                     lambda: None, lambda name: None)
    assert (row["error_detail"], row["error_sqlstate"]) == (
        "function_name must not be NULL or empty", "22023")


def test_module_uses_only_the_standard_library() -> None:
    """PL/Python runs the system python3, which has none of the project's packages."""
    import sys

    tree = ast.parse(MODULE_FILE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


@pytest.mark.parametrize("text", ["", "one line", "a\nb\n", "quotes ' \" ''' \\ $py\n\n"])
def test_python_literal_round_trips(text: str) -> None:
    assert ast.literal_eval(standin.python_literal(text)) == text


def test_installer_refuses_source_that_would_end_the_dollar_quote(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = standin._read
    monkeypatch.setattr(standin, "_read", lambda name: (
        "x = '$py$'\n" if name == "http_invoke.py" else real_read(name)))
    with pytest.raises(RuntimeError, match=r"must not contain \$py\$"):
        standin.standin_sql()
