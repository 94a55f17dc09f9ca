"""Amazon Bedrock Runtime's InvokeModel over HTTP on 127.0.0.1 (Titan Text Embeddings V2).

`POST /model/{modelId}/invoke` as the service answers it (JSON body, the service's error shapes:
`x-amzn-ErrorType` header and {"message"} body, which boto3 and the AWS CLI parse);
`GET /_s3vl/health`; `POST /_s3vl/faults {"throttle": N, "latency_ms": M}`: the next N
invocations answer 429 ThrottlingException, every invocation waits M ms first (fault tests and
benchmarks of the function's retries).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import minilm, titan

HEALTH_PATH = "/_s3vl/health"
FAULTS_PATH = "/_s3vl/faults"
MAX_BODY_BYTES = 25 * 1024 * 1024  # InvokeModel's request limit


class Faults:
    def __init__(self) -> None:
        self.throttle = 0
        self.latency_ms = 0
        self.invocations = 0
        self.lock = threading.Lock()

    def next_throttled(self) -> bool:
        with self.lock:
            self.invocations += 1
            if self.throttle > 0:
                self.throttle -= 1
                return True
            return False


class BedrockHandler(BaseHTTPRequestHandler):
    server: BedrockServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            super().log_message(format, *args)

    def _send(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, err: titan.BedrockError) -> None:
        self._send(err.status, {"message": err.message}, {"x-amzn-ErrorType": err.code})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise titan.BedrockError("ValidationException", 400,
                                     f"Input is too long: at most {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._send(200, {"ok": True, "model": "all-MiniLM-L6-v2",
                             "invocations": self.server.faults.invocations})
        else:
            self._error(titan.BedrockError("UnknownOperationException", 404, "Not found"))

    def do_POST(self) -> None:
        try:
            body = self._body()
            if self.path == FAULTS_PATH:
                self._set_faults(body)
                return
            parts = self.path.split("?", 1)[0].split("/")
            if len(parts) != 4 or parts[1] != "model" or parts[3] != "invoke":
                raise titan.BedrockError("UnknownOperationException", 404,
                                         f"No operation at {self.path}")
            self._invoke(urllib.parse.unquote(parts[2]), body)
        except titan.BedrockError as err:
            self._error(err)
        except Exception as exc:  # a bug here must still answer the way the service does
            self._error(titan.BedrockError("InternalServerException", 500,
                                           f"{type(exc).__name__}: {exc}"))

    def _set_faults(self, body: bytes) -> None:
        wanted = json.loads(body or b"{}")
        faults = self.server.faults
        with faults.lock:
            faults.throttle = int(wanted.get("throttle", faults.throttle))
            faults.latency_ms = int(wanted.get("latency_ms", faults.latency_ms))
        self._send(200, {"throttle": faults.throttle, "latency_ms": faults.latency_ms})

    def _invoke(self, model_id: str, body: bytes) -> None:
        faults = self.server.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000.0)
        if faults.next_throttled():
            raise titan.BedrockError("ThrottlingException", 429,
                                     "Too many requests, please wait before trying again.")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise titan.BedrockError("ValidationException", 400,
                                     f"Malformed input request: {exc}") from exc
        request = titan.parse(model_id, parsed)
        result = titan.answer(request, self.server.model)
        self._send(200, result, {
            "X-Amzn-Bedrock-Input-Token-Count": str(result["inputTextTokenCount"]),
            "X-Amzn-Bedrock-Invocation-Latency": "0"})


class BedrockServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops the handshakes of a burst of connections

    def __init__(self, address: tuple[str, int], model: minilm.MiniLM | None = None,
                 access_log: bool = False) -> None:
        super().__init__(address, BedrockHandler)
        self.model = model or minilm.shared()
        self.faults = Faults()
        self.access_log = access_log


@contextlib.contextmanager
def serving(host: str = "127.0.0.1", port: int = 0) -> Iterator[BedrockServer]:
    """The server on a thread of this process (tests, benchmarks); stopped on exit."""
    server = BedrockServer((host, port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: BedrockServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"
