"""pytest plugin (entry point `pytest11`): a live emulator server for the test session.

Fixtures:
- `s3vectors_endpoint`: the URL of an emulator served over HTTP on 127.0.0.1, with no buckets
  at the start of each test (one server per session, its state emptied before every test);
- `s3vectors_client`: a boto3 `s3vectors` client bound to it (dummy credentials, us-east-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from s3vectors_emulator.constants import DEFAULT_REGION
from s3vectors_emulator.serving.server import ServerHandle, start_server


@pytest.fixture(scope="session")
def s3vectors_server() -> Iterator[ServerHandle]:
    """The session's emulator server (its state is emptied per test by `s3vectors_endpoint`)."""
    with start_server() as handle:
        yield handle


@pytest.fixture
def s3vectors_endpoint(s3vectors_server: ServerHandle) -> str:
    s3vectors_server.emulator.reset()
    return s3vectors_server.url


@pytest.fixture
def s3vectors_client(s3vectors_endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3vectors",
        region_name=DEFAULT_REGION,
        endpoint_url=s3vectors_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
