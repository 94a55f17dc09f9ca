"""A local Bedrock Runtime (the real model) on a free loopback port, shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from s3vl_local.bedrock.server import BedrockServer, serving, url_of


@pytest.fixture(scope="session")
def bedrock_server() -> Iterator[BedrockServer]:
    with serving() as server:
        yield server


@pytest.fixture
def bedrock_url(bedrock_server: BedrockServer) -> Iterator[str]:
    bedrock_server.faults.throttle = 0
    bedrock_server.faults.latency_ms = 0
    yield url_of(bedrock_server)
    bedrock_server.faults.throttle = 0
