"""plpgsql_check (Debian's postgresql-15-plpgsql-check) over every PL/pgSQL function of s3vl.

It compiles each function body against the installed schema: unknown columns, wrong types in
assignments, unreachable code, unused variables and parameters, missing RETURN. Zero findings is
the rule; a new function is covered without touching this file.
"""

from __future__ import annotations

from typing import Any

import psycopg


def _plpgsql_functions(conn: psycopg.Connection[Any]) -> list[tuple[int, str]]:
    return [(int(row[0]), str(row[1])) for row in conn.execute(
        "SELECT p.oid, p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " JOIN pg_language l ON l.oid = p.prolang"
        " WHERE n.nspname = 's3vl' AND l.lanname = 'plpgsql' AND p.prokind IN ('f', 'p')"
        "   AND p.prorettype <> 'trigger'::regtype ORDER BY 2").fetchall()]


def _trigger_functions(conn: psycopg.Connection[Any]) -> list[tuple[int, str, str]]:
    """Trigger functions are checked in the context of one table that uses them."""
    return [(int(row[0]), str(row[1]), str(row[2])) for row in conn.execute(
        "SELECT DISTINCT ON (p.oid) p.oid, p.oid::regprocedure::text, t.tgrelid::regclass::text"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " JOIN pg_trigger t ON t.tgfoid = p.oid"
        " WHERE n.nspname = 's3vl' ORDER BY p.oid").fetchall()]


def test_every_plpgsql_function_passes_plpgsql_check(db: psycopg.Connection[Any]) -> None:
    # The stack's database: s3vl installed as `make local-up` does, with pg_cron beside it (the
    # scheduling functions are checked against cron's tables).
    db.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    functions = _plpgsql_functions(db)
    assert len(functions) > 20, "expected the s3vl schema's PL/pgSQL functions"
    findings: list[str] = []
    for oid, name in functions:
        rows = db.execute(
            "SELECT level, message, lineno, statement, coalesce(context, hint) FROM"
            " plpgsql_check_function_tb(%s::oid::regprocedure, fatal_errors => false,"
            " extra_warnings => true, other_warnings => true, performance_warnings => false)",
            (oid,)).fetchall()
        findings += [f"{name}: {level} line {line} ({stmt}): {msg} {hint or ''}"
                     for level, msg, line, stmt, hint in rows]
    assert findings == [], "\n".join(findings)


def test_trigger_functions_pass_plpgsql_check(canned: psycopg.Connection[Any]) -> None:
    canned.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    # A tracked table gives the sync capture trigger a relation to be checked against.
    canned.execute("CREATE TABLE public.plc_items (id text PRIMARY KEY, emb float8[], name text)")
    canned.execute("SELECT s3vl.track_table('public.plc_items', 'id', 'emb', 'demo',"
                   " ARRAY['name'])")
    triggers = _trigger_functions(canned)
    assert triggers, "expected the sync capture trigger"
    findings: list[str] = []
    for oid, name, relation in triggers:
        rows = canned.execute(
            "SELECT level, message, lineno, statement FROM plpgsql_check_function_tb("
            "%s::oid::regprocedure, %s::regclass, fatal_errors => false,"
            " extra_warnings => true, other_warnings => true)", (oid, relation)).fetchall()
        findings += [f"{name} on {relation}: {level} line {line} ({stmt}): {msg}"
                     for level, msg, line, stmt in rows]
    assert findings == [], "\n".join(findings)
