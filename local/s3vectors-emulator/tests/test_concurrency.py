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


def test_a_burst_of_new_connections_is_accepted_at_once(server: Any) -> None:
    """100 clients connecting at the same moment (a partitioned write opens a connection per
    partition, several invocations at once) all get through the handshake at once: the
    server's accept queue holds them (socketserver's default of 5 dropped the rest, which then
    waited out TCP's one-second SYN retransmission). Each still gets its answer."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(server.url)
    address = (url.hostname, url.port)
    opened: list[socket.socket] = []
    try:
        for _ in range(100):
            # On loopback the kernel completes the handshake inside connect() when the queue
            # has room; a dropped SYN would block for a second and time out here.
            opened.append(socket.create_connection(address, timeout=0.5))
        for sock in opened:
            sock.settimeout(10)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = [sock.recv(64) for sock in opened]
    finally:
        for sock in opened:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 ") for a in answers), answers[:3]
