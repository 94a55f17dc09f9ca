"""HTTP front end: a threaded server on 127.0.0.1 speaking the S3 Vectors REST JSON API.

Admin endpoints live under `/_s3vl/` (health, faults, snapshot); every other request goes to the
shared dispatcher. Idle keep-alive connections time out, and `stop()` closes open ones, so no
request loop outlives the server.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s3vectors_emulator.api.faults import parse_fault_config
from s3vectors_emulator.api.wire import Response, check_payload_size, error_response
from s3vectors_emulator.exceptions import ServiceError, ValidationError
from s3vectors_emulator.serving.app import Emulator

IDLE_CONNECTION_SECONDS = 30.0
AUTOSAVE_SECONDS = 2.0


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Connections the kernel queues before accept (socketserver's default is 5). A burst of new
    # connections past it (a partitioned write opens one per partition at once) has its
    # handshakes dropped, and each then waits out TCP's retransmission (1 s, 3 s, 7 s, ...).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, RequestHandler)
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_sockets = list(self.connections)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    disable_nagle_algorithm = True  # avoids 40 ms delayed-ACK stalls on keep-alive connections
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and benches
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            check_payload_size(length)  # before reading: the body is never taken in
        except ValidationError as error:
            self.close_connection = True
            self._send(error_response(error))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_s3vl/"):
            self._send(self._admin(url.path, body))
            return
        headers = {k: v for k, v in self.headers.items()}
        query = parse_qs(url.query, keep_blank_values=True)
        self._send(self.server.emulator.handle(self.command, url.path, query, headers, body))

    def _admin(self, path: str, body: bytes) -> Response:
        emulator = self.server.emulator
        try:
            if path == "/_s3vl/health" and self.command == "GET":
                return _ok({"status": "ok"})
            if path == "/_s3vl/faults":
                if self.command == "POST":
                    try:
                        payload = json.loads(body or b"{}")
                    except (ValueError, RecursionError) as exc:
                        raise ValidationError("faults: body is not valid JSON", "faults") from exc
                    emulator.faults.configure(parse_fault_config(payload))
                elif self.command == "DELETE":
                    emulator.faults.reset()
                return _ok(emulator.faults.config.as_json())
            if path == "/_s3vl/snapshot" and self.command == "POST":
                return _ok({"saved": emulator.save()})
        except ServiceError as error:
            return error_response(error)
        return Response(404, {"Content-Type": "application/json"}, b'{"message":"not found"}')

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


def _ok(payload: dict[str, Any]) -> Response:
    return Response(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())


class ServerHandle:
    """A running emulator server; `stop()` (or leaving the `with` block) shuts it down."""

    def __init__(self, server: EmulatorHTTPServer, emulator: Emulator) -> None:
        self.server = server
        self.emulator = emulator
        host, port = server.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._stopped = threading.Event()
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="s3vectors-emulator",
            daemon=True,
        )
        self._save_thread = threading.Thread(
            target=self._autosave, name="s3vectors-emulator-autosave", daemon=True
        )

    def start(self) -> ServerHandle:
        self._serve_thread.start()
        if self.emulator.data_dir is not None:
            self._save_thread.start()
        return self

    def _autosave(self) -> None:
        # Snapshots shortly after writes, so data also survives an unclean exit.
        while not self._stopped.wait(AUTOSAVE_SECONDS):
            if self.emulator.dirty:
                self.emulator.save()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._serve_thread.join(timeout=5)
        if self._save_thread.is_alive():
            self._save_thread.join(timeout=5)
        if self.emulator.data_dir is not None:
            self.emulator.save()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(host: str = "127.0.0.1", port: int = 0, **options: Any) -> ServerHandle:
    """Start an emulator in a background thread; options are those of `Emulator`."""
    emulator = Emulator(**options)
    server = EmulatorHTTPServer((host, port), emulator)
    return ServerHandle(server, emulator).start()
