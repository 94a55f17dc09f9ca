"""Local Amazon S3 Vectors emulator: HTTP server and in-process mock sharing one implementation.

python -m s3vectors_emulator --port 0            # serve over HTTP
with start_server() as handle: ...                # background thread, handle.url
with mock_s3vectors(): boto3.client("s3vectors")  # in-process, no network
"""

from __future__ import annotations

from s3vectors_emulator.serving.app import Emulator
from s3vectors_emulator.serving.inprocess import mock_s3vectors
from s3vectors_emulator.serving.server import ServerHandle, start_server

__all__ = ["Emulator", "ServerHandle", "mock_s3vectors", "start_server"]
