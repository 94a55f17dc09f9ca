"""s3vl.sync under concurrent writers and concurrent syncs, and under injected service faults."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from typing import Any

import psycopg

from sql.sync_helpers import DIMENSION, drain, index_contents, table_contents, tracked_table

KEYS = 120
ROLLED_BACK_BASE = 100_000  # keys only ever written by rolled-back transactions


def _vector(rng: random.Random) -> list[float]:
    # Multiples of 1/64 are exact in float32, so the comparison can be exact.
    return [rng.randint(-64, 64) / 64 for _ in range(DIMENSION)]


def _random_change(conn: psycopg.Connection[Any], table: str, rng: random.Random) -> None:
    key = rng.randint(1, KEYS)
    op = rng.random()
    if op < 0.45:
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, NULL) ON CONFLICT (id) DO "
                     "UPDATE SET embedding = EXCLUDED.embedding, title = EXCLUDED.title, "
                     "price = EXCLUDED.price, in_stock = EXCLUDED.in_stock",
                     (key, _vector(rng), f"t{rng.randint(0, 9)}", rng.randint(0, 999) / 4,
                      rng.random() < 0.5))
    elif op < 0.75:
        conn.execute(f"UPDATE {table} SET embedding = %s, price = price + 1 WHERE id = %s",
                     (_vector(rng), key))
    elif op < 0.85:
        conn.execute(f"UPDATE {table} SET title = NULL, note = 'n' WHERE id = %s", (key,))
    else:
        conn.execute(f"DELETE FROM {table} WHERE id = %s", (key,))


def _writer(dsn: str, table: str, seed: int, transactions: int,
            errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for _ in range(transactions):
                try:
                    with conn.transaction():
                        for _ in range(rng.randint(1, 4)):
                            _random_change(conn, table, rng)
                        if rng.random() < 0.15:
                            conn.execute(f"INSERT INTO {table} VALUES (%s, %s, 'rb', 1, true, "
                                         "NULL)", (ROLLED_BACK_BASE + rng.randint(0, 999),
                                                   _vector(rng)))
                            raise psycopg.Rollback()
                except psycopg.errors.DeadlockDetected:
                    pass  # random multi-row transactions may deadlock; that one rolls back
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def _syncer(dsn: str, index_name: str, stop: threading.Event, calls: list[int],
            errors: list[BaseException]) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT * FROM s3vl.sync(%s, 200)", (index_name,)).fetchall()
                calls.append(1)
                time.sleep(0.01)
    except BaseException as exc:
        errors.append(exc)


def _assert_in_step(conn: psycopg.Connection[Any], client: Any, tracked: Any) -> None:
    in_index = index_contents(client, tracked.index_arn)
    in_table = table_contents(conn, tracked.table)
    assert sorted(in_index) == sorted(in_table)
    assert in_index == in_table
    assert not [k for k in in_index if int(k) >= ROLLED_BACK_BASE]


def test_concurrent_writers_and_syncs_converge(local_stack: Any, db: psycopg.Connection[Any],
                                               s3vectors_client: Any) -> None:
    with tracked_table(local_stack, s3vectors_client) as tracked:
        errors: list[BaseException] = []
        calls: list[int] = []
        stop = threading.Event()
        writers = [threading.Thread(target=_writer, args=(local_stack.dsn, tracked.table, seed,
                                                          150, errors)) for seed in range(4)]
        syncers = [threading.Thread(target=_syncer, args=(local_stack.dsn, tracked.index_name,
                                                          stop, calls, errors)) for _ in range(2)]
        for th in writers + syncers:
            th.start()
        for th in writers:
            th.join(60)
        stop.set()
        for th in syncers:
            th.join(60)
        assert not errors, errors
        assert len(calls) >= 2
        # Rolled-back transactions left nothing to send.
        assert db.execute("SELECT count(*) FROM s3vl.sync_outbox WHERE source = %s::regclass "
                          "AND key::integer >= %s", (tracked.table, ROLLED_BACK_BASE)
                          ).fetchone() == (0,)
        assert db.execute(f"SELECT count(*) FROM {tracked.table}").fetchone() != (0,)
        drain(db, tracked.index_name)
        _assert_in_step(db, s3vectors_client, tracked)


def _set_faults(endpoint: str, config: dict[str, Any] | None) -> None:
    method = "DELETE" if config is None else "POST"
    data = None if config is None else json.dumps(config).encode()
    req = urllib.request.Request(endpoint.rstrip("/") + "/_s3vl/faults", data=data,
                                 method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_faults_lose_nothing(local_stack: Any, db: psycopg.Connection[Any],
                             s3vectors_client: Any) -> None:
    rng = random.Random(7)
    with tracked_table(local_stack, s3vectors_client) as tracked:
        db.execute(f"INSERT INTO {tracked.table} SELECT g, ARRAY[g % 7, 1, 0, g % 3]::real[], "
                   "'t', g, true, NULL FROM generate_series(1, 150) g")
        seen_failed_status = False
        seen_failed_result = False
        try:
            for round_no in range(40):
                # Rounds 1-2 are an outage (every call fails, so the function's own write
                # retries run out and the failure reaches SQL); the others fail 40 % of calls,
                # which those retries mostly absorb.
                _set_faults(local_stack.s3vectors_endpoint,
                            {"error_rate": 1.0} if round_no in (1, 2)
                            else {"throttle_rate": 0.2, "error_rate": 0.2})
                for _ in range(10):
                    _random_change(db, tracked.table, rng)
                results = db.execute("SELECT failed, last_error FROM s3vl.sync(%s, 30, "
                                     "retry_now => true)", (tracked.index_name,)).fetchall()
                if any(r[0] > 0 for r in results):
                    seen_failed_result = True
                    assert all(r[1] for r in results if r[0] > 0)
                status = db.execute("SELECT failed, last_error FROM s3vl.sync_status() "
                                    "WHERE index_name = %s", (tracked.index_name,)).fetchone()
                assert status is not None
                if status[0] > 0:
                    seen_failed_status = True
                    assert status[1] and "SQLSTATE SV00" in status[1], status
                if seen_failed_status and round_no >= 3:
                    break
            drain(db, tracked.index_name, rounds=200)
        finally:
            _set_faults(local_stack.s3vectors_endpoint, None)
        assert seen_failed_result and seen_failed_status
        _assert_in_step(db, s3vectors_client, tracked)
        attempts = db.execute("SELECT count(*) FROM s3vl.sync_outbox WHERE source = %s::regclass",
                              (tracked.table,)).fetchone()
        assert attempts == (0,)
