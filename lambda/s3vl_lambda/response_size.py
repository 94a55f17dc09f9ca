"""Keep answers under Lambda's response payload limit, checked only when one could be near it."""

from __future__ import annotations

from typing import Any

from . import limits
from .errors import validation_error
from .fields import json_size

# Up to this many items without vector data, an answer stays far below the limit even with
# 40 KiB of metadata per item, so the exact (and costly) size check is skipped.
_SMALL_ITEM_COUNT = 100
_BULKY_FIELDS = ("embedding", "vector_data", "results")


def _items(result: Any) -> list[Any] | None:
    if isinstance(result, list):
        return result
    if isinstance(result, dict) and isinstance(result.get("vectors"), list):
        return list(result["vectors"])
    return None


def might_be_large(result: Any) -> bool:
    items = _items(result)
    if items is None:
        return False
    if len(items) > _SMALL_ITEM_COUNT:
        return True
    return any(
        isinstance(item, dict) and any(item.get(f) is not None for f in _BULKY_FIELDS)
        for item in items
    )


def check_response_size(result: Any) -> None:
    """Raise a ValidationError naming the limit when the result would not fit in a response."""
    if not might_be_large(result):
        return
    size = json_size(result)
    limit = limits.MAX_RESPONSE_BYTES - limits.RESPONSE_BYTES_HEADROOM
    if size > limit:
        raise validation_error(
            None,
            f"the result is {size} bytes, more than the {limit} bytes a Lambda response can "
            "carry; ask for fewer vectors (top_k, max_results, vector_ids) or leave out vector "
            "data or metadata",
        )
