"""`Dispatcher.handle`: one HTTP request (method, path, query, headers, body) in, one response out.

Shared by the HTTP server and the in-process mock, so both behave the same. The order is fixed:
route, injected faults, size limit, body, model-generated checks, then the handler under the
state lock (shared for read-only operations).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from s3vectors_emulator import constants as c
from s3vectors_emulator.api import bodies, shapes, urls, vector_json
from s3vectors_emulator.api.faults import FaultInjector
from s3vectors_emulator.api.responses import Request
from s3vectors_emulator.api.wire import Response, check_payload_size, error_response, json_response
from s3vectors_emulator.backend.models import EmulatorState
from s3vectors_emulator.exceptions import InternalServerError, ServiceError

logger = logging.getLogger(__name__)
_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")


class Dispatcher:
    """Routes S3 Vectors requests to the handlers; one instance per emulator."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        region: str = c.DEFAULT_REGION,
        faults: FaultInjector | None = None,
        fast_json: bool = True,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        shapes.require_operations(urls.ROUTES)
        self.state = state or EmulatorState()
        # Vector bodies through simdjson into numpy rows (vector_json); False: orjson only.
        self.fast_json = fast_json and vector_json.available()
        self.region = region
        self.faults = faults or FaultInjector()
        self.on_write = on_write  # called after each successful operation that is not read-only

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        try:
            operation, args = urls.resolve(method, path, query)
            route = urls.ROUTES[operation]
            self.faults.apply(operation)
            check_payload_size(len(body))
            kind = route.body
            decoded = bodies.decode(body, self.fast_json and kind.has_vectors, kind.too_deep_field)
            payload = decoded.body
            payload.update(args)
            shapes.validate_input(operation, payload)
            request = Request(self._region(headers), payload, decoded.may_hold_booleans)
            lock = self.state.lock.read if route.read_only else self.state.lock.write
            with lock():
                result = route.handler(self.state, request)
            if not route.read_only and self.on_write is not None:
                self.on_write()
            return json_response(200, result)
        except ServiceError as error:
            return error_response(error)
        except Exception as exc:  # a bug here must still look like a service fault to clients
            logger.exception("unexpected error in %s %s", method, path)
            return error_response(InternalServerError(f"emulator error: {type(exc).__name__}"))

    def _region(self, headers: Mapping[str, str]) -> str:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        match = _REGION_IN_AUTH.search(auth)
        return match["region"] if match else self.region
