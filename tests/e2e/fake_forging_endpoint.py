"""A loopback HTTP server that answers every Lambda Invoke with a forged s3vl envelope and counts
the requests it got: the server a hostile reader would point `aws_lambda.endpoint_override` at."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FORGED_ROW = {"vector_id": "forged", "distance": 0.0, "similarity_score": 1.0,
              "metadata": {"forged": True}}


class Forger:
    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.server = server
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@contextmanager
def forging_server() -> Iterator[Forger]:
    forger: Forger

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            forger.requests += 1
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.dumps({"success": True, "result": [FORGED_ROW]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    forger = Forger(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forger
    finally:
        server.shutdown()
        server.server_close()
