"""`mock_s3vectors`: the emulator in-process, reached by boto3 with no network and no thread.

Like moto's `mock_aws`, a botocore `before-send` handler is added to botocore's built-in handlers
at import time; while a mock is active it answers every `s3vectors` request from the emulator's
dispatcher, and otherwise lets requests through. It is registered for the more specific
`before-send.s3vectors` event, so it answers before moto's own handler when both are active.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

from s3vectors_emulator.serving.app import Emulator

F = TypeVar("F", bound=Callable[..., Any])

_ACTIVE: list[Emulator] = []
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class _RawBody(BytesIO):
    def stream(self, **_: Any) -> Any:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        if hasattr(body, "seek"):
            body.seek(0)
        return data if isinstance(data, bytes) else str(data).encode()
    return bytes(body)


def _intercept(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    if not _ACTIVE:
        return None
    emulator = _ACTIVE[-1]
    url = urlsplit(request.url)
    headers = {
        k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()
    }
    response = emulator.handle(
        request.method or "POST",
        url.path,
        parse_qs(url.query, keep_blank_values=True),
        headers,
        _body_bytes(request.body),
    )
    raw = _RawBody(response.body)
    return AWSResponse(request.url, response.status, HTTPHeaders.from_dict(response.headers), raw)


BUILTIN_HANDLERS.insert(0, ("before-send.s3vectors", _intercept))


class mock_s3vectors:
    """Context manager / decorator; `.emulator` is the live instance while active."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.emulator: Emulator | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_session: Any = None

    def start(self) -> Emulator:
        self.emulator = Emulator(**self.options)
        _ACTIVE.append(self.emulator)
        self._saved_env = {name: os.environ.get(name) for name in _DUMMY_ENV}
        for name, value in _DUMMY_ENV.items():
            os.environ.setdefault(name, value)
        # Clients made from a session created before botocore knew our handler would bypass it.
        self._saved_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = None
        return self.emulator

    def stop(self) -> None:
        if self.emulator is None:
            return
        _ACTIVE.remove(self.emulator)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = self._saved_session
        self.emulator = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mock_s3vectors(**self.options):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
