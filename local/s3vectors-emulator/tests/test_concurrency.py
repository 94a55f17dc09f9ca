"""Concurrent clients: readers share the state lock, writers are exclusive, nothing is lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulator_helpers import IndexFactory, make_client
from s3vectors_emulator.backend.locking import ReadWriteLock


def test_readers_overlap_and_writer_is_exclusive() -> None:
    lock = ReadWriteLock()
    inside: list[str] = []
    overlap = threading.Event()
    both_in = threading.Barrier(2, timeout=5)

    def reader() -> None:
        with lock.read():
            inside.append("r")
            both_in.wait()  # only passes if two readers hold the lock at once
            overlap.set()
            inside.remove("r")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert overlap.is_set()

    order: list[str] = []

    def write_once() -> None:
        with lock.write():
            order.append("w")

    with lock.read():
        writer = threading.Thread(target=write_once)
        writer.start()
        time.sleep(0.1)
        order.append("reader-done")  # the writer cannot have entered while we read
    writer.join(timeout=5)
    assert order == ["reader-done", "w"]


def test_parallel_puts_and_queries_lose_nothing(server: Any, make_index: IndexFactory) -> None:
    ref = make_index(dimension=4, metric="euclidean")

    def writer(worker: int) -> None:
        client = make_client(server.url)
        for batch in range(5):
            client.put_vectors(
                **ref,
                vectors=[
                    {"key": f"w{worker}-{batch}-{i}", "data": {"float32": [worker, batch, i, 1.0]}}
                    for i in range(50)
                ],
            )

    def reader(_: int) -> int:
        client = make_client(server.url)
        seen = 0
        for _ in range(10):
            result = client.query_vectors(
                **ref, topK=20, queryVector={"float32": [0, 0, 0, 1]}, returnDistance=True
            )
            distances = [v["distance"] for v in result["vectors"]]
            assert distances == sorted(distances)
            seen = max(seen, len(distances))
        return seen

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(writer, w) for w in range(4)]
        reads = [pool.submit(reader, r) for r in range(4)]
        for future in writes + reads:
            future.result(timeout=60)
    client = make_client(server.url)
    keys, token = [], None
    while True:
        page = client.list_vectors(
            **ref, maxResults=1000, **({"nextToken": token} if token else {})
        )
        keys += [v["key"] for v in page["vectors"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(keys) == len(set(keys)) == 4 * 5 * 50
