"""Make the demo catalogue full-text searchable from SQL (s3vl.set_index_mode,
s3vl.add_text_search), idempotently, and wait until the service serves text queries."""

from __future__ import annotations

import sys
import time
from typing import Any

import psycopg

INDEX = "products"
SEARCHABLE = ("name", "description")  # metadata keys of the demo catalogue, English text
LANGUAGE = "en"


def _state(conn: psycopg.Connection[Any]) -> tuple[str | None, dict[str, str | None]]:
    row = conn.execute("SELECT index_mode, text_search FROM s3vl.describe_index(%s)",
                       (INDEX,)).fetchone()
    assert row is not None
    return row[0], {e["metadata_key"]: e.get("status") for e in row[1] or []}


def make_searchable(dsn: str, timeout_seconds: float = 60.0) -> None:
    """ENHANCED mode, a text search configuration for each SEARCHABLE key, all ACTIVE."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        mode, configs = _state(conn)
        if mode != "ENHANCED":
            conn.execute("SELECT s3vl.set_index_mode(%s, 'ENHANCED')", (INDEX,))
        for key in SEARCHABLE:
            if key not in configs:
                conn.execute("SELECT s3vl.add_text_search(%s, %s, %s)", (INDEX, key, LANGUAGE))
        deadline = time.monotonic() + timeout_seconds
        while True:
            mode, configs = _state(conn)
            if all(configs.get(key) == "ACTIVE" for key in SEARCHABLE):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"[demo] text search on {INDEX} not ACTIVE after "
                                 f"{timeout_seconds:.0f} s: {configs}")
            time.sleep(0.2)
    print(f"[demo] {INDEX}: index mode {mode}; full-text search on "
          f"{', '.join(SEARCHABLE)} ({LANGUAGE}) ACTIVE", file=sys.stderr)
