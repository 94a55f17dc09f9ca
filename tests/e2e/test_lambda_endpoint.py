"""The local Lambda Invoke endpoint, through boto3's `lambda` client (real HTTP, real process)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from e2e.lambda_endpoint_helpers import lambda_endpoint

ARN = "arn:aws:lambda:us-east-1:123456789012:function:s3vl-function"


def lambda_client(url: str) -> Any:
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=30))


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with lambda_endpoint("e2e.fake_handlers:echo", timeout_seconds=2) as url:
        yield url


@pytest.fixture(scope="module")
def boom_url() -> Iterator[str]:
    with lambda_endpoint("e2e.fake_handlers:boom") as url:
        yield url


def invoke(url: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("FunctionName", "s3vl-function")
    response: dict[str, Any] = lambda_client(url).invoke(**kwargs)
    body = response["Payload"].read()
    response["body"] = json.loads(body) if body else None
    return response


@pytest.mark.parametrize("name", [
    "s3vl-function", ARN, "123456789012:function:s3vl-function", "s3vl-function:$LATEST",
])
def test_request_response_by_name_or_arn(echo_url: str, name: str) -> None:
    resp = invoke(echo_url, FunctionName=name, Payload=json.dumps({"marker": "n1"}))
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in resp
    assert resp["body"]["event"] == {"marker": "n1"}
    assert resp["body"]["function_arn"].startswith(ARN)
    assert 0 < resp["body"]["remaining_ms"] <= 2000


def test_qualifier_latest_and_unknown(echo_url: str) -> None:
    assert invoke(echo_url, Qualifier="$LATEST", Payload="{}")["StatusCode"] == 200
    client = lambda_client(echo_url)
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="live"):
        client.invoke(FunctionName="s3vl-function", Qualifier="live", Payload="{}")


@pytest.mark.parametrize("name", [
    "other-function", "arn:aws:lambda:eu-west-1:123456789012:function:s3vl-function",
    "arn:aws:lambda:us-east-1:999999999999:function:s3vl-function",
])
def test_unknown_function_is_resource_not_found(echo_url: str, name: str) -> None:
    client = lambda_client(echo_url)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName=name, Payload="{}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found" in str(info.value)


def test_event_and_dry_run_status_codes(echo_url: str) -> None:
    event = invoke(echo_url, InvocationType="Event", Payload=json.dumps({"marker": "ev"}))
    assert event["StatusCode"] == 202 and event["body"] is None
    dry = invoke(echo_url, InvocationType="DryRun", Payload="{}")
    assert dry["StatusCode"] == 204 and dry["body"] is None


def test_bad_invocation_type_is_rejected(echo_url: str) -> None:
    req = urllib.request.Request(
        f"{echo_url}/2015-03-31/functions/s3vl-function/invocations", data=b"{}",
        headers={"X-Amz-Invocation-Type": "Sync"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert info.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"


def test_raised_exception_is_unhandled_function_error(boom_url: str) -> None:
    resp = invoke(boom_url, Payload=json.dumps({"why": "disk on fire"}), LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    body = resp["body"]
    assert body["errorMessage"] == "boom: disk on fire"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert any("fake_handlers.py" in frame and "in boom" in frame for frame in body["stackTrace"])
    assert not any("runtime.py" in frame for frame in body["stackTrace"])
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "about to fail" in log and f"START RequestId: {body['requestId']}" in log


def test_tail_log_holds_only_its_own_lines_under_concurrency(echo_url: str) -> None:
    def one(i: int) -> tuple[int, str]:
        resp = invoke(echo_url, LogType="Tail",
                      Payload=json.dumps({"marker": f"m{i:02d}", "sleep_s": 0.2}))
        return i, base64.b64decode(resp["LogResult"]).decode()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(6)))
    for i, log in results:
        assert f"echo marker=m{i:02d}" in log and f"echo done marker=m{i:02d}" in log
        others = [j for j in range(6) if j != i and f"marker=m{j:02d}" in log]
        assert others == [], f"invocation {i} log has lines of {others}"
        assert log.startswith("START RequestId:") and "REPORT RequestId:" in log


def test_log_tail_is_capped_at_4kb(echo_url: str) -> None:
    resp = invoke(echo_url, LogType="Tail", Payload=json.dumps({"marker": "x" * 10_000}))
    log = base64.b64decode(resp["LogResult"])
    assert len(log) == 4096
    assert log.endswith(b"MB\n")  # the tail (REPORT line) is kept, the head dropped


def test_timeout_answers_sandbox_timedout(echo_url: str) -> None:
    resp = invoke(echo_url, Payload=json.dumps({"sleep_s": 3}))
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert resp["body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in resp["body"]["errorMessage"]


def test_client_context_reaches_the_handler(echo_url: str) -> None:
    ctx = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    resp = invoke(echo_url, Payload="{}", ClientContext=ctx)
    assert resp["body"]["custom"] == {"tenant": "t1"}


def test_admin_latency_delays_invocations(echo_url: str) -> None:
    def post_config(body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(f"{echo_url}/_s3vl/config", method="POST",
                                     data=json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=5) as r:
            result: dict[str, Any] = json.loads(r.read())
            return result

    assert post_config({"latency_ms": 2500}) == {"latency_ms": 2500}
    try:
        # 2.5 s of latency inside a 2 s function timeout: the invocation times out.
        resp = invoke(echo_url, Payload="{}")
        assert resp["body"]["errorType"] == "Sandbox.Timedout"
    finally:
        post_config({"latency_ms": 0})
    with urllib.request.urlopen(f"{echo_url}/_s3vl/health", timeout=5) as r:
        assert json.loads(r.read())["latency_ms"] == 0


def test_oversized_payload_is_request_too_large(echo_url: str) -> None:
    client = lambda_client(echo_url)
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="s3vl-function",
                      Payload=json.dumps({"x": "a" * (6 * 1024 * 1024)}))


def test_url_encoded_arn_in_path(echo_url: str) -> None:
    path = urllib.parse.quote(ARN, safe="")
    req = urllib.request.Request(f"{echo_url}/2015-03-31/functions/{path}/invocations",
                                 data=b'{"marker": "raw"}', method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
        assert json.loads(r.read())["event"] == {"marker": "raw"}


def test_handler_that_cannot_be_imported_is_a_function_error() -> None:
    with lambda_endpoint("e2e.no_such_module:handler") as url:
        resp = invoke(url, Payload="{}")
    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert resp["body"]["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module" in resp["body"]["errorMessage"]


def test_unserializable_result_is_a_marshal_error() -> None:
    with lambda_endpoint("e2e.fake_handlers:unserializable") as url:
        resp = invoke(url, Payload="{}")
    assert resp["FunctionError"] == "Unhandled"
    assert resp["body"]["errorType"] == "Runtime.MarshalError"


def test_handler_sees_the_lambda_environment() -> None:
    with lambda_endpoint("e2e.fake_handlers:environment",
                         extra_args=("--s3vectors-endpoint", "http://127.0.0.1:9",
                                     "--env", "S3VL_EXTRA=yes")) as url:
        env = invoke(url, Payload="{}")["body"]
    assert env["AWS_ENDPOINT_URL_S3VECTORS"] == "http://127.0.0.1:9"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "s3vl-function"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["S3VL_EXTRA"] == "yes"


def test_aws_cli_lambda_invoke(echo_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "lambda", "invoke", "--endpoint-url",
         echo_url, "--function-name", ARN,
         "--payload", '{"marker": "cli"}', "--log-type", "Tail", str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(proc.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "echo marker=cli" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text())["event"] == {"marker": "cli"}


def test_concurrency_beyond_the_pool_is_throttled() -> None:
    with lambda_endpoint("e2e.fake_handlers:sleepy", extra_args=("--max-concurrency", "1")) as url:
        with ThreadPoolExecutor(max_workers=1) as pool:
            busy = pool.submit(invoke, url, Payload=json.dumps({"sleep_s": 2.5}))
            time.sleep(0.3)  # let the first invocation take the only environment
            client = lambda_client(url)
            with pytest.raises(client.exceptions.TooManyRequestsException):
                client.invoke(FunctionName="s3vl-function", Payload=json.dumps({"sleep_s": 0}))
            assert busy.result()["body"] == {"slept_s": 2.5}
        # The environment is free again.
        assert invoke(url, Payload=json.dumps({"sleep_s": 0}))["body"] == {"slept_s": 0.0}


def test_configured_alias_is_a_known_qualifier() -> None:
    with lambda_endpoint("e2e.fake_handlers:echo", extra_args=("--alias", "live")) as url:
        by_arn = invoke(url, FunctionName=f"{ARN}:live", Payload="{}")
        by_param = invoke(url, Qualifier="live", Payload="{}")
        client = lambda_client(url)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName=f"{ARN}:beta", Payload="{}")
    assert by_arn["StatusCode"] == by_param["StatusCode"] == 200
    assert by_arn["body"]["function_arn"] == f"{ARN}:live"
    assert by_arn["ExecutedVersion"] == "$LATEST"


@pytest.mark.parametrize("body", [
    b"\xff\xfe{\"a\": 1}",  # not UTF-8
    b"{\"a\": ",  # truncated JSON
    b"not json at all",
    b"[" * 200_000 + b"]" * 200_000,  # deeper than any parser recursion
])
def test_unparseable_body_is_invalid_request_content(echo_url: str, body: bytes) -> None:
    req = urllib.request.Request(f"{echo_url}/2015-03-31/functions/s3vl-function/invocations",
                                 data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 400
    assert info.value.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    answer = json.loads(info.value.read())
    assert answer["message"].startswith("Could not parse request body into json")
    assert "Traceback" not in answer["message"] and "File \"" not in answer["message"]
    assert set(answer) == {"Type", "message"}
    # boto3 knows the error, and the endpoint still serves.
    client = lambda_client(echo_url)
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="s3vl-function", Payload=b"\xff")
    assert invoke(echo_url, Payload="{}")["StatusCode"] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        str(Path(__file__).resolve().parents[2] / p) for p in ("lambda", "local", "tests")))
    proc = subprocess.run(
        [sys.executable, "-m", "s3vl_local.lambda_endpoint", "--host", host, "--port", "0"],
        env=env, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "loopback" in proc.stderr and "Traceback" not in proc.stderr


def test_throttle_answers_at_once_like_lambda() -> None:
    """Beyond --max-concurrency (a reserved concurrency) Lambda answers 429 without waiting."""
    with (lambda_endpoint("e2e.fake_handlers:sleepy", extra_args=("--max-concurrency", "1"))
          as url, ThreadPoolExecutor(max_workers=1) as pool):
        busy = pool.submit(invoke, url, Payload=json.dumps({"sleep_s": 2.0}))
        time.sleep(0.3)
        req = urllib.request.Request(
            f"{url}/2015-03-31/functions/s3vl-function/invocations", data=b"{}", method="POST")
        started = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert time.monotonic() - started < 0.5
        busy.result()
    assert info.value.code == 429
    assert info.value.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert json.loads(info.value.read()) == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User",
        "message": "Rate Exceeded."}
