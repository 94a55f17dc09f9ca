"""Building text search configurations added to an index that already holds vectors.

The first TEXT_BACKFILL_SLICE vectors are indexed inside the request, the rest by a background
thread, one slice at a time under the write lock, so other requests are served in between.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from s3vectors_emulator import constants as c
from s3vectors_emulator.backend.locking import ReadWriteLock
from s3vectors_emulator.backend.vectorindex import VectorIndex
from s3vectors_emulator.search.textindex import TextConfig


def add_text_configs(
    lock: ReadWriteLock,
    index: VectorIndex,
    specs: Sequence[tuple[str, str | None]],
    ready_at: float,
) -> None:
    """Add configurations, BUILDING until every existing vector is indexed and `ready_at` has
    passed. Called under the write lock."""
    configs = index.add_text(specs, ready_at, backfill=True)
    keys = list(index.keys)
    step = c.TEXT_BACKFILL_SLICE
    index.backfill_text(configs, keys[:step])
    if len(keys) <= step:
        for config in configs:
            config.built = True
        return
    worker = threading.Thread(
        target=_backfill_rest,
        args=(lock, index, configs, keys, step),
        name="s3vectors-emulator-text-backfill",
        daemon=True,
    )
    worker.start()


def _backfill_rest(
    lock: ReadWriteLock,
    index: VectorIndex,
    configs: list[TextConfig],
    keys: list[str],
    step: int,
) -> None:
    for start in range(step, len(keys), step):
        with lock.write():
            if all(config.dropped for config in configs):
                return
            index.backfill_text(configs, keys[start : start + step])
    with lock.write():
        for config in configs:
            config.built = True
