"""What a user reads besides errors: NOTICEs that say something, and none that say nothing.

- track_table (run twice: the second time replaces the triggers) prints no "trigger ... does not
  exist, skipping" notices; untrack_table none either.
- add_text_search says the key is BUILDING and how to see when it is ACTIVE.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from sql.sql_helpers import set_answer

pytestmark = pytest.mark.stack


def _notices(conn: psycopg.Connection[Any]) -> list[tuple[str | None, str | None]]:
    """(message, hint) of every notice the connection gets from now on (read in the handler:
    the diagnostic is not valid after it returns)."""
    seen: list[tuple[str | None, str | None]] = []
    conn.add_notice_handler(lambda d: seen.append((d.message_primary, d.message_hint)))
    return seen


def test_track_table_prints_no_trigger_notices(canned: psycopg.Connection[Any]) -> None:
    canned.execute("SET client_min_messages = notice")
    canned.execute("CREATE TABLE public.quiet (id text PRIMARY KEY, emb float8[], name text)")
    seen = _notices(canned)
    for _ in range(2):  # the first run creates the triggers, the second replaces them
        canned.execute("SELECT s3vl.track_table('public.quiet', 'id', 'emb', 'demo',"
                       " ARRAY['name'])")
    assert canned.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.quiet'::regclass"
                          " AND tgname LIKE 's3vl_sync_%'").fetchone() == (3,)
    canned.execute("SELECT s3vl.untrack_table('public.quiet')")
    assert canned.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.quiet'::regclass"
                          " AND NOT tgisinternal").fetchone() == (0,)
    assert seen == []


def test_add_text_search_says_building_and_how_to_see_active(
        canned: psycopg.Connection[Any]) -> None:
    set_answer(canned, "add_text_search", {"success": True, "result": {}})
    seen = _notices(canned)
    canned.execute("SELECT s3vl.add_text_search('demo', 'name', 'en')")
    assert seen == [(
        's3vl.add_text_search: metadata key "name" is BUILDING while the service indexes the '
        'existing vectors, and searchable once ACTIVE',
        "SELECT text_search FROM s3vl.describe_index('demo') shows its status.")]
