"""Sync that runs itself with pg_cron (issue 12, part 3): s3vl.schedule_sync / unschedule_sync.

The local stack preloads pg_cron for its database, as an Aurora parameter group would. With a
one-second schedule, inserts, updates and deletes reach the index with no manual `sync` call, and
a manual sync loop running at the same time as two scheduled workers neither sends a change
twice nor loses one. pg_cron 1.4 starts jobs on minute boundaries, so the slow test waits up to a
minute for the first run.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error, install
from sql.sync_helpers import DIMENSION, index_contents, table_contents, tracked_table

pytestmark = pytest.mark.stack


@pytest.fixture
def roles(db: psycopg.Connection[Any]) -> Iterator[dict[str, str]]:
    made = {group: f"s3vl_sched_{group[5:]}_{uuid.uuid4().hex[:6]}"
            for group in ("s3vl_admin", "s3vl_writer", "s3vl_reader")}
    for group, name in made.items():
        db.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE {group}')
    yield made
    db.execute("RESET ROLE")
    db.execute("SELECT s3vl.unschedule_sync()")  # never leave a job running for other tests
    for name in made.values():
        db.execute(f'DROP ROLE "{name}"')


def test_schedule_arguments_and_roles(db: psycopg.Connection[Any],
                                      roles: dict[str, str]) -> None:
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    for every in ["0 seconds", "2 hours", "-1 minute", "1.5 seconds", None]:
        expect_error(db, "SELECT s3vl.schedule_sync(%s::interval)", (every,), "22023", "every")
    expect_error(db, "SELECT s3vl.schedule_sync('90 seconds')", None, "22023", "whole minutes")
    for workers in (0, 17, None):
        expect_error(db, "SELECT s3vl.schedule_sync('1 minute', workers => %s::integer)",
                     (workers,), "22023", "workers must be between 1 and 16")
    for group in ("s3vl_writer", "s3vl_reader"):
        db.execute("RESET ROLE")
        db.execute(f'SET ROLE "{roles[group]}"')
        expect_error(db, "SELECT s3vl.schedule_sync('1 minute')", None, "42501")
        expect_error(db, "SELECT s3vl.unschedule_sync()", None, "42501")
    db.execute("RESET ROLE")
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    db.execute("RESET ROLE")
    # The refused calls scheduled nothing.
    assert db.execute("SELECT count(*) FROM cron.job").fetchone() == (0,)
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    job = db.execute("SELECT s3vl.schedule_sync('5 minutes')").fetchone()
    assert job is not None
    db.execute("RESET ROLE")
    assert db.execute("SELECT schedule, command FROM cron.job WHERE jobid = %s",
                      (job[0],)).fetchone() == ("*/5 * * * *",
                                                "CALL s3vl._sync_job('00:05:00', '00:00:00')")
    assert db.execute("SELECT s3vl._sync_schedule()").fetchone() == (timedelta(minutes=5),)
    # Scheduling again replaces the job.
    again = db.execute("SELECT s3vl.schedule_sync()").fetchone()
    assert again == job
    assert db.execute("SELECT count(*) FROM cron.job WHERE jobname = 's3vl-sync'").fetchone() == (
        1,)
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    assert db.execute("SELECT s3vl.unschedule_sync()").fetchone() == (True,)
    assert db.execute("SELECT s3vl.unschedule_sync()").fetchone() == (False,)


def _jobs(db: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return db.execute("SELECT jobname, command FROM cron.job WHERE jobname LIKE 's3vl-sync%' "
                      "ORDER BY jobid").fetchall()


def test_workers_are_one_job_each_and_rescheduling_keeps_the_count(
        db: psycopg.Connection[Any], roles: dict[str, str]) -> None:
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    job = db.execute("SELECT s3vl.schedule_sync('5 minutes', workers => 3)").fetchone()
    db.execute("RESET ROLE")
    assert _jobs(db) == [("s3vl-sync", "CALL s3vl._sync_job('00:05:00', '00:00:00')"),
                         ("s3vl-sync-2", "CALL s3vl._sync_job('00:05:00', '00:00:00', 2)"),
                         ("s3vl-sync-3", "CALL s3vl._sync_job('00:05:00', '00:00:00', 3)")]
    assert job is not None and db.execute(
        "SELECT jobid FROM cron.job WHERE jobname = 's3vl-sync'").fetchone() == job
    # Fewer workers: the extra jobs go, the first keeps its id; the interval changes for all.
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    assert db.execute("SELECT s3vl.schedule_sync('10 seconds', workers => 2)").fetchone() == job
    db.execute("RESET ROLE")
    assert _jobs(db) == [("s3vl-sync", "CALL s3vl._sync_job('00:00:10', '00:00:55')"),
                         ("s3vl-sync-2", "CALL s3vl._sync_job('00:00:10', '00:00:55', 2)")]
    assert db.execute("SELECT s3vl._sync_worker_scheduled(2), "
                      "s3vl._sync_worker_scheduled(3)").fetchone() == (True, False)
    # A bad count changes nothing.
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    expect_error(db, "SELECT s3vl.schedule_sync('1 minute', workers => 40)", None, "22023",
                 "workers")
    db.execute("RESET ROLE")
    assert len(_jobs(db)) == 2
    db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
    assert db.execute("SELECT s3vl.unschedule_sync()").fetchone() == (True,)
    db.execute("RESET ROLE")
    assert _jobs(db) == []


def test_a_jobs_run_syncs_every_tracked_index(db: psycopg.Connection[Any], local_stack: Any,
                                              s3vectors_client: Any) -> None:
    """One run of the job procedure (as pg_cron calls it) syncs each tracked index in turn,
    committing after each."""
    with tracked_table(local_stack, s3vectors_client) as first, \
            tracked_table(local_stack, s3vectors_client) as second:
        for n, tracked in enumerate((first, second)):
            db.execute(f"INSERT INTO {tracked.table} SELECT g, ARRAY[g, {n}, 0, 1]::real[], "
                       "'t' || g, g, true, NULL FROM generate_series(1, 7) g")
        db.execute("CALL s3vl._sync_job('1 second', '0 seconds', 2)")
        for tracked in (first, second):
            assert _in_step(db, s3vectors_client, tracked)
            assert db.execute("SELECT last_success IS NOT NULL FROM s3vl.sync_status() WHERE "
                              "index_name = %s", (tracked.index_name,)).fetchone() == (True,)


def test_without_pg_cron_the_error_names_the_setup(fresh_database: Any) -> None:
    dsn = fresh_database()  # pg_cron lives in the stack's database only (cron.database_name)
    install(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in ("SELECT s3vl.schedule_sync()", "SELECT s3vl.unschedule_sync()"):
            err = expect_error(conn, statement, None, "55000", "pg_cron is not installed",
                               "shared_preload_libraries", "cron.database_name",
                               "CREATE EXTENSION pg_cron", "docs/deploy.md")
            assert "pg_cron runs in database s3vl" in (err.diag.message_detail or "")
        assert conn.execute("SELECT s3vl._sync_schedule()").fetchone() == (None,)


def _in_step(conn: psycopg.Connection[Any], client: Any, tracked: Any) -> bool:
    pending = conn.execute("SELECT count(*) FROM s3vl.sync_outbox WHERE source = %s::regclass",
                           (tracked.table,)).fetchone()
    return pending == (0,) and (index_contents(client, tracked.index_arn)
                                == table_contents(conn, tracked.table))


def _wait_in_step(conn: psycopg.Connection[Any], client: Any, tracked: Any,
                  timeout_s: float = 100.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not _in_step(conn, client, tracked):
        assert time.monotonic() < deadline, "the scheduled sync did not catch up"
        time.sleep(1.0)


def _writer(dsn: str, table: str, worker: int, stop: threading.Event,
            errors: list[BaseException]) -> None:
    """Random upserts and deletes; every upsert writes a vector no other change writes."""
    rng = random.Random(worker)
    counter = 0
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                counter += 1
                key = rng.randint(1, 60)
                if rng.random() < 0.8:
                    vec = [worker * 100_000 + counter, rng.randint(0, 9), 0, 1]
                    conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, true, NULL) ON "
                                 "CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, "
                                 "title = EXCLUDED.title, price = EXCLUDED.price",
                                 (key, vec, f"w{worker}-{counter}", counter))
                else:
                    conn.execute(f"DELETE FROM {table} WHERE id = %s", (key,))
                time.sleep(0.01)
    except BaseException as exc:
        errors.append(exc)


def _manual_syncer(dsn: str, index_name: str, stop: threading.Event, calls: list[int],
                   errors: list[BaseException]) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT * FROM s3vl.sync(%s, 50)", (index_name,)).fetchall()
                calls.append(1)
                time.sleep(0.05)
    except BaseException as exc:
        errors.append(exc)


def test_scheduled_sync_carries_changes_and_overlapping_runs_agree(
        db: psycopg.Connection[Any], local_stack: Any, s3vectors_client: Any,
        roles: dict[str, str]) -> None:
    assert DIMENSION == 4  # the writers' vectors have four components
    with tracked_table(local_stack, s3vectors_client) as tracked:
        t = tracked.table
        log = f"sched_puts_{uuid.uuid4().hex[:8]}"
        # Every version a put records (sync writes sync_state once per accepted put).
        db.execute(f"CREATE TABLE {log} (key text, version text)")
        db.execute(f"CREATE FUNCTION {log}_f() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
                   f"INSERT INTO public.{log} VALUES (NEW.key, NEW.version_hash); RETURN NULL; "
                   "END $f$")
        db.execute(f"CREATE TRIGGER {log}_t AFTER INSERT OR UPDATE ON s3vl.sync_state FOR EACH "
                   f"ROW WHEN (NEW.source = '{t}'::regclass) EXECUTE FUNCTION {log}_f()")
        try:
            db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
            job = db.execute("SELECT s3vl.schedule_sync('1 second', workers => 2)").fetchone()
            db.execute("RESET ROLE")
            assert job is not None
            second = db.execute("SELECT jobid FROM cron.job WHERE jobname = 's3vl-sync-2'"
                                ).fetchone()
            assert second is not None
            # 1. No manual call: inserts, an update and deletes reach the index.
            db.execute(f"INSERT INTO {t} SELECT g, ARRAY[g, 1, 0, 0]::real[], 't' || g, g, "
                       "true, NULL FROM generate_series(1, 20) g")
            db.execute(f"UPDATE {t} SET embedding = '{{7,7,7,7}}', title = 'u' WHERE id = 3")
            db.execute(f"DELETE FROM {t} WHERE id IN (5, 6)")
            status = db.execute("SELECT sync_every FROM s3vl.sync_status() WHERE index_name = "
                                "%s", (tracked.index_name,)).fetchone()
            assert status is not None and status[0].total_seconds() == 1
            _wait_in_step(db, s3vectors_client, tracked)
            assert db.execute("SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = %s",
                              (job[0],)).fetchone() == (True,)
            assert "3" in index_contents(s3vectors_client, tracked.index_arn)
            assert "5" not in index_contents(s3vectors_client, tracked.index_arn)
            # 2. Writers and a manual sync loop while the scheduled job syncs every second.
            errors: list[BaseException] = []
            calls: list[int] = []
            stop = threading.Event()
            threads = [threading.Thread(target=_writer, args=(local_stack.dsn, t, w, stop,
                                                              errors)) for w in (1, 2)]
            threads.append(threading.Thread(target=_manual_syncer, args=(
                local_stack.dsn, tracked.index_name, stop, calls, errors)))
            started = db.execute("SELECT clock_timestamp()").fetchone()
            for th in threads:
                th.start()
            time.sleep(8)
            stop.set()
            for th in threads:
                th.join(60)
            ended = db.execute("SELECT clock_timestamp()").fetchone()
            assert not errors, errors
            assert len(calls) > 10
            assert started is not None and ended is not None
            overlapped = db.execute(
                "SELECT count(*) FROM cron.job_run_details WHERE jobid = %s AND start_time <= %s"
                " AND (end_time IS NULL OR end_time >= %s)", (job[0], started[0], ended[0])
            ).fetchone()
            assert overlapped == (1,), "the scheduled run did not overlap the manual loop"
            # The second worker ran too, at the same time as the first.
            assert db.execute("SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = %s "
                              "AND start_time <= %s", (second[0], ended[0])).fetchone() == (True,)
            _wait_in_step(db, s3vectors_client, tracked)  # caught up by the schedule alone
            twice = db.execute(f"SELECT key, version, count(*) FROM {log} GROUP BY 1, 2 "
                               "HAVING count(*) > 1").fetchall()
            assert twice == []
            assert db.execute(f"SELECT count(*) FROM {log}").fetchone() != (0,)
            db.execute(f'SET ROLE "{roles["s3vl_admin"]}"')
            assert db.execute("SELECT s3vl.unschedule_sync()").fetchone() == (True,)
            db.execute("RESET ROLE")
            assert db.execute("SELECT count(*) FROM cron.job WHERE jobid IN (%s, %s)",
                              (job[0], second[0])).fetchone() == (0,)
            assert db.execute("SELECT sync_every FROM s3vl.sync_status() WHERE index_name = "
                              "%s", (tracked.index_name,)).fetchone() == (None,)
        finally:
            db.execute("RESET ROLE")
            db.execute("SELECT s3vl.unschedule_sync()")
            db.execute(f"DROP TRIGGER {log}_t ON s3vl.sync_state")
            db.execute(f"DROP FUNCTION {log}_f()")
            db.execute(f"DROP TABLE {log}")


def test_unschedule_stops_a_running_job(db: psycopg.Connection[Any],
                                        roles: dict[str, str]) -> None:
    """A job's run lasts most of a minute; unschedule_sync ends it within one interval."""
    job = db.execute("SELECT s3vl.schedule_sync('1 second')").fetchone()
    assert job is not None
    deadline = time.monotonic() + 75
    while db.execute("SELECT count(*) FROM cron.job_run_details WHERE jobid = %s AND status = "
                     "'running'", (job[0],)).fetchone() != (1,):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.5)
    assert db.execute("SELECT s3vl.unschedule_sync()").fetchone() == (True,)
    deadline = time.monotonic() + 10
    while db.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                     "'CALL s3vl._sync_job%%'").fetchone() != (0,):
        assert time.monotonic() < deadline, "the job's run did not stop"
        time.sleep(0.2)
