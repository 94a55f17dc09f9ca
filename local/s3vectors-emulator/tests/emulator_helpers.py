"""Helpers shared by the emulator conformance tests (clients, unique names, raw requests)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import boto3
from botocore.config import Config

REGION = "us-east-1"

IndexFactory = Callable[..., dict[str, str]]


def make_client(url: str, retries: int = 1, validate: bool = True) -> Any:
    """A boto3 s3vectors client for the emulator at `url` (dummy credentials)."""
    return boto3.client(
        "s3vectors",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"max_attempts": retries, "mode": "standard"}, parameter_validation=validate
        ),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def post(url: str, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """A raw, unsigned JSON request (what botocore would refuse to send): status, headers, body."""
    request = Request(f"{url}/{operation}", data=json.dumps(body).encode(), method="POST")
    try:
        with urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())
