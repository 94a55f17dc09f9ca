"""The local Bedrock Runtime over HTTP, as boto3's bedrock-runtime client and the AWS CLI see it:
InvokeModel's answer and headers, the service's error shapes, injected throttling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from s3vl_local.bedrock import titan

MODEL = titan.TITAN_V2


def client(url: str) -> object:
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}))


def test_invoke_model_answers_titan_v2(bedrock_url: str) -> None:
    bedrock = client(bedrock_url)
    response = bedrock.invoke_model(  # type: ignore[attr-defined]
        modelId=MODEL, contentType="application/json", accept="application/json",
        body=json.dumps({"inputText": "wireless earbuds", "dimensions": 512, "normalize": True}))
    body = json.loads(response["body"].read())
    assert len(body["embedding"]) == 512
    assert abs(sum(x * x for x in body["embedding"]) - 1.0) < 1e-5
    assert body["inputTextTokenCount"] == 4  # wireless, ear, ##bu, ##ds
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "4"


def test_errors_have_the_service_shapes(bedrock_url: str) -> None:
    bedrock = client(bedrock_url)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):  # type: ignore[attr-defined]
        bedrock.invoke_model(modelId="amazon.nope-v9:0",  # type: ignore[attr-defined]
                             body=json.dumps({"inputText": "x"}))
    with pytest.raises(bedrock.exceptions.ValidationException) as err:  # type: ignore[attr-defined]
        bedrock.invoke_model(modelId=MODEL,  # type: ignore[attr-defined]
                             body=json.dumps({"inputText": "x", "dimensions": 300}))
    assert "dimensions" in str(err.value)
    with pytest.raises(bedrock.exceptions.ValidationException):  # type: ignore[attr-defined]
        bedrock.invoke_model(modelId=MODEL, body=b"{not json")  # type: ignore[attr-defined]


def test_injected_throttling(bedrock_url: str, bedrock_server: object) -> None:
    bedrock = client(bedrock_url)
    bedrock_server.faults.throttle = 1  # type: ignore[attr-defined]
    with pytest.raises(bedrock.exceptions.ThrottlingException):  # type: ignore[attr-defined]
        bedrock.invoke_model(modelId=MODEL,  # type: ignore[attr-defined]
                             body=json.dumps({"inputText": "x"}))
    ok = bedrock.invoke_model(modelId=MODEL,  # type: ignore[attr-defined]
                              body=json.dumps({"inputText": "x", "dimensions": 256}))
    assert len(json.loads(ok["body"].read())["embedding"]) == 256


def test_aws_cli_reaches_it(bedrock_url: str, tmp_path: Path) -> None:
    out = tmp_path / "answer.json"
    env = {**os.environ, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    aws = Path(sys.executable).with_name("aws")
    proc = subprocess.run(
        [str(aws), "bedrock-runtime", "invoke-model", "--model-id", MODEL,
         "--body", json.dumps({"inputText": "trail running shoes", "dimensions": 1024}),
         str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["embedding"]) == 1024
