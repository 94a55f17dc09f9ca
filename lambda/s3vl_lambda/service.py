"""One S3 Vectors API call: pick the client, check the deadline, map every failure."""

from __future__ import annotations

from typing import Any

from .clients import client_for
from .deadline import Deadline
from .errors import from_exception
from .index_ref import IndexRef


def call(ref: IndexRef, deadline: Deadline, api: str, *, retries: bool = True,
         **params: Any) -> dict[str, Any]:
    """Call `api` (a boto3 method name such as "query_vectors") on the index `ref`.

    Raises S3vlError only: service errors, timeouts and bugs alike. `retries` False: one
    attempt, for a caller with its own retry schedule.
    """
    if deadline.remaining() <= 0:
        raise deadline.expired_error(api)
    try:
        client = client_for(ref.region, deadline, api, retries)
        method = getattr(client, api)
        response: dict[str, Any] = method(**ref.api_params(), **params)
    except Exception as exc:
        raise from_exception(exc, api) from exc
    return response
