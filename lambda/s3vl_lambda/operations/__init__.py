"""One module per group of operations; `OPERATIONS` maps protocol names to their functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..deadline import Deadline
from ..fields import Request
from . import admin, embed, index_ops, manage, query, read, write

Operation = Callable[[Request, Deadline], Any]

OPERATIONS: dict[str, Operation] = {
    "availability_check": index_ops.availability_check,
    "get_index": index_ops.get_index,
    "query_vectors": query.query_vectors,
    "query_vectors_batch": query.query_vectors_batch,
    "get_vectors": read.get_vectors,
    "list_vectors": read.list_vectors,
    "put_vectors": write.put_vectors,
    "delete_vectors": write.delete_vectors,
    "update_index_mode": admin.update_index_mode,
    "add_text_search": admin.add_text_search,
    "drop_text_search": admin.drop_text_search,
    "filter_vectors": manage.filter_vectors,
    "update_metadata": manage.update_metadata,
    "embed": embed.embed,
}
