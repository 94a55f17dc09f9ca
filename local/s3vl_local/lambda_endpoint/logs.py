"""Per-invocation log capture for handlers that run on threads of one process.

`sys.stdout`/`sys.stderr` are replaced by a stream that writes to the log buffer of the invocation
running on the current thread (and to the real stream too, so the endpoint's own log keeps
everything). Installed before the handler module is imported, so loggers created at import time
bind to it. Each invocation's `X-Amz-Log-Result` therefore holds only its own lines.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import TextIO

_current = threading.local()


class RoutingStream(io.TextIOBase):
    def __init__(self, real: TextIO) -> None:
        self._real = real
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(_current, "buffer", None)
        if buffer is not None:
            buffer.write(text)
        with self._lock:
            self._real.write(text)
        return len(text)

    def flush(self) -> None:
        self._real.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


class InvocationLog:
    """Collects what the current thread writes while the `with` block runs."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def __enter__(self) -> InvocationLog:
        _current.buffer = self.buffer
        return self

    def __exit__(self, *exc: object) -> None:
        _current.buffer = None

    def write(self, text: str) -> None:
        print(text, end="", file=sys.stdout)

    def tail(self, max_bytes: int) -> bytes:
        data = self.buffer.getvalue().encode("utf-8")
        return data[-max_bytes:]


_installed = False


def install_routing() -> None:
    """Route stdout/stderr and the root logger through the per-invocation capture (once)."""
    global _installed
    if _installed:
        return
    sys.stdout = RoutingStream(sys.__stdout__ or sys.stdout)
    sys.stderr = RoutingStream(sys.__stderr__ or sys.stderr)
    # Like the Lambda Python runtime: the root logger writes to the function's log.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # boto's own debug chatter is not the function's log.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    _installed = True
