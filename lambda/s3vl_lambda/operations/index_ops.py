"""availability_check and get_index."""

from __future__ import annotations

import os
from typing import Any

from .. import PROTOCOL_VERSION, __version__
from ..deadline import Deadline
from ..fields import Request
from ..index_info import get_index_info
from ..index_ref import default_region, resolve_index


def availability_check(req: Request, deadline: Deadline) -> dict[str, Any]:
    """No AWS call: proves the database can reach the function."""
    return {
        "status": "available",
        "function_version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or __version__,
        "package_version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "region": default_region(),
    }


def get_index(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    # An explicit get_index reads the service, and refreshes the cache the other operations use.
    return get_index_info(ref, deadline, refresh=True).to_result()
