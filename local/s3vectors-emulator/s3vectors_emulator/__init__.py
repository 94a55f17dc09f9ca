"""A local Amazon S3 Vectors: HTTP server, in-process mock and pytest plugin, one implementation.

python -m s3vectors_emulator --port 0              # serve over HTTP
with start_server() as handle: ...                  # background thread, handle.url
with mock_s3vectors(): boto3.client("s3vectors")    # in-process, no network
def test_x(s3vectors_client): ...                   # pytest fixtures (s3vectors_endpoint too)

Layers (as moto lays out a service): api/ (routing, parsing, validation against botocore's model,
responses), backend/ (buckets, indexes, vectors, limits, persistence), search/ (vector and text
engines), serving/ (HTTP server, in-process mock, pytest plugin).
"""

from __future__ import annotations

from s3vectors_emulator.serving.app import Emulator
from s3vectors_emulator.serving.inprocess import mock_s3vectors
from s3vectors_emulator.serving.server import ServerHandle, start_server

__all__ = ["Emulator", "ServerHandle", "mock_s3vectors", "start_server"]
