"""One module per group of operations; `OPERATIONS` maps protocol names to their functions.

A request with `partitions` (a partitioned logical index, docs/protocol.md) goes to the
partitioned form of its operation; the index administration operations refuse it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..deadline import Deadline
from ..fields import Request
from . import admin, embed, index_ops, manage, partitioned, query, rank, read, write

Operation = Callable[[Request, Deadline], Any]


def _by_partitions(single: Operation, partitioned_form: Operation) -> Operation:
    def run(req: Request, deadline: Deadline) -> Any:
        if req.get("partitions") is not None:
            return partitioned_form(req, deadline)
        return single(req, deadline)

    return run


OPERATIONS: dict[str, Operation] = {
    "availability_check": index_ops.availability_check,
    "get_index": _by_partitions(index_ops.get_index, partitioned.get_index),
    "query_vectors": _by_partitions(query.query_vectors, partitioned.query_vectors),
    "query_vectors_batch": _by_partitions(query.query_vectors_batch,
                                          partitioned.query_vectors_batch),
    "get_vectors": _by_partitions(read.get_vectors, partitioned.get_vectors),
    "list_vectors": _by_partitions(read.list_vectors, partitioned.list_vectors),
    "put_vectors": _by_partitions(write.put_vectors, partitioned.put_vectors),
    "delete_vectors": _by_partitions(write.delete_vectors, partitioned.delete_vectors),
    "rank_vectors": rank.rank_vectors,
    "update_index_mode": _by_partitions(admin.update_index_mode, partitioned.refuse),
    "add_text_search": _by_partitions(admin.add_text_search, partitioned.refuse),
    "drop_text_search": _by_partitions(admin.drop_text_search, partitioned.refuse),
    "filter_vectors": _by_partitions(manage.filter_vectors, partitioned.filter_vectors),
    "update_metadata": _by_partitions(manage.update_metadata, partitioned.update_metadata),
    "embed": embed.embed,
}
