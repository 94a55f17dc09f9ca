"""A local Bedrock Runtime (the real model) on a free loopback port, shared by the session."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from s3vl_local.bedrock.server import BedrockServer
from s3vl_local.ports import LOOPBACK


@pytest.fixture(scope="session")
def bedrock_server() -> Iterator[BedrockServer]:
    server = BedrockServer((LOOPBACK, 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def bedrock_url(bedrock_server: BedrockServer) -> Iterator[str]:
    bedrock_server.faults.throttle = 0
    bedrock_server.faults.latency_ms = 0
    yield f"http://{LOOPBACK}:{bedrock_server.server_port}"
    bedrock_server.faults.throttle = 0
