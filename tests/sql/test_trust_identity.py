"""Issue 19 item 1: no text a caller passes decides whether a tenant policy or an index grant
applies. Every function in schema s3vl that s3vl_reader or s3vl_writer may execute and that takes
a `caller` argument is called by a policy-bound role with every caller name s3vl itself uses
(among them 's3vl.sync', whose name used to switch policies off): the answer must be the same as
under the function's own name, and no vector of another tenant may come back. Sync's exemption is
its own function, which no reader or writer can execute."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import SQL_DIR, expect_error
from sql.test_policies import A_KEYS, VECTORS, Q, Tenants, as_tenant, tenants  # noqa: F401

pytestmark = pytest.mark.stack

GROUPS = ("s3vl_reader", "s3vl_writer")

# Every caller-taking function a reader or writer may execute: the call (caller = %(c)s) and
# whether its answer carries vector keys (then only tenant a's may come back).
CASES: dict[str, tuple[str, bool]] = {
    "s3vl._query_page(text,double precision[],text,integer,jsonb,text,integer)": (
        "SELECT v ->> 'vector_id' FROM pg_catalog.jsonb_array_elements(s3vl._query_page("
        "%(c)s, %(q)s::float8[], %(arn)s, 50, NULL, NULL, 1) -> 'vectors') v", True),
    "s3vl._query_where(text,double precision[],regclass,name,text,integer,text,text,jsonb,"
    "integer,text)": (
        "SELECT key FROM s3vl._query_where(%(c)s, %(q)s::float8[], 'trust_keys', 'k', NULL, 20, "
        "NULL, %(arn)s, NULL, 100, 'iterative')", True),
    # The prefilter plan's invocation (30_api/58_where.sql): ranks the keys it is given.
    "s3vl._query_prefilter(text,double precision[],text,integer,jsonb,text[])": (
        "SELECT key FROM s3vl._query_prefilter(%(c)s, %(q)s::float8[], %(arn)s, 20, NULL, "
        "ARRAY(SELECT k FROM trust_keys))", True),
    "s3vl._query_page_target(text,double precision[],text,text,jsonb)": (
        "SELECT * FROM s3vl._query_page_target(%(c)s, %(q)s::float8[], NULL, %(arn)s, NULL)",
        False),
    "s3vl._require(text,text,anyelement)": ("SELECT s3vl._require(%(c)s, 'x', NULL::int)", False),
    "s3vl._check_range(text,text,bigint,text)": (
        "SELECT s3vl._check_range(%(c)s, 'top_k', 0, NULL)", False),
    "s3vl._sync_column(text,regclass,text,text,text)": (
        "SELECT * FROM s3vl._sync_column(%(c)s, 'trust_keys', 'key_column', 'k', 'key')", False),
    "s3vl._sync_columns(text,regclass)": ("SELECT s3vl._sync_columns(%(c)s, 'trust_keys')",
                                          False),
    "s3vl._sync_source_guard(text,regclass,boolean,boolean)": (
        "SELECT s3vl._sync_source_guard(%(c)s, 'trust_keys', true, false)", False),
    # query_vectors_where's argument checks and its report (invoker rights, granted with it)
    "s3vl._where_check(text,regclass,name,text,integer,integer,text)": (
        "SELECT s3vl._where_check(%(c)s, 'trust_keys', 'k', NULL, 20, 100, 'auto')", False),
    # The plan's keys (read with the caller's rights) and one page's rows.
    "s3vl._where_plan_keys(text,regclass,name,text,integer,text)": (
        "SELECT pg_catalog.cardinality(s3vl._where_plan_keys(%(c)s, 'trust_keys', 'k', NULL, "
        "20, 'prefilter'))", False),
    "s3vl._where_page(text,jsonb,integer,integer)": (
        "SELECT s3vl._where_page(%(c)s, '{\"vectors\": [], \"next_token\": null}', 0, 0)",
        False),
    "s3vl._where_report(text,integer,integer,integer,integer,integer,boolean)": (
        "SELECT s3vl._where_report(%(c)s, 20, 20, 20, 100, 1, true)", False),
}


def caller_names() -> list[str]:
    """Every caller name the SQL sources give their functions (s3vl.sync among them)."""
    names = set()
    for path in SQL_DIR.rglob("*.sql"):
        names.update(re.findall(r"caller constant text := '([^']+)'", path.read_text()))
    names.update({"s3vl (result cache)", "s3vl.sync"})
    return sorted(names)


def executable_with_caller(db: psycopg.Connection[Any]) -> set[str]:
    return {r[0] for r in db.execute(
        "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p "
        "WHERE p.pronamespace = 's3vl'::regnamespace AND 'caller' = ANY (p.proargnames) "
        "AND (pg_catalog.has_function_privilege('s3vl_reader', p.oid, 'EXECUTE') "
        "     OR pg_catalog.has_function_privilege('s3vl_writer', p.oid, 'EXECUTE'))")}


def outcome(db: psycopg.Connection[Any], sql: str, params: dict[str, Any], caller: str
            ) -> tuple[str, Any]:
    """('rows', rows) or ('error', sqlstate), with the caller's name taken out of the text."""
    try:
        with db.transaction():
            rows = db.execute(sql, {**params, "c": caller}).fetchall()
    except psycopg.Error as err:
        return "error", err.sqlstate
    return "rows", json.loads(json.dumps(rows, default=str).replace(caller, "<caller>"))


@pytest.fixture
def keys_table(db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS trust_keys (k text PRIMARY KEY)")
    db.execute("INSERT INTO trust_keys SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
               (list(VECTORS),))
    db.execute("GRANT SELECT ON trust_keys TO PUBLIC")


def test_every_caller_taking_function_is_covered(db: psycopg.Connection[Any]) -> None:
    """A new function a reader or writer may call with a caller name needs a case here."""
    assert executable_with_caller(db) == set(CASES)


@pytest.mark.parametrize("signature", sorted(CASES))
def test_no_caller_name_switches_a_policy_off(db: psycopg.Connection[Any], tenants: Tenants,  # noqa: F811
                                              keys_table: None, signature: str) -> None:
    sql, returns_keys = CASES[signature]
    params = {"q": Q, "arn": tenants.arn}
    as_tenant(db, tenants, "a")
    own = signature.split("(")[0]
    baseline = outcome(db, sql, params, own)
    if returns_keys:
        assert baseline[0] == "rows" and {r[0] for r in baseline[1]} == A_KEYS
    for name in caller_names():
        got = outcome(db, sql, params, name)
        assert got == baseline, f"{signature} with caller {name!r}"
        if returns_keys and got[0] == "rows":
            assert {r[0] for r in got[1]} <= A_KEYS


def test_the_known_exploit_reads_only_the_own_tenant(db: psycopg.Connection[Any],
                                                     tenants: Tenants) -> None:  # noqa: F811
    """The issue's probe: _query_page('s3vl.sync', ...) as a bound reader."""
    as_tenant(db, tenants, "a")
    page = db.execute("SELECT s3vl._query_page('s3vl.sync', %s::float8[], %s, 50, NULL, NULL, 1)",
                      (Q, tenants.arn)).fetchone()[0]
    assert {v["vector_id"] for v in page["vectors"]} == A_KEYS


def test_a_role_without_a_grant_is_refused_whatever_the_caller(db: psycopg.Connection[Any],
                                                              tenants: Tenants) -> None:  # noqa: F811
    db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
    as_tenant(db, tenants, "b")
    for name in ("s3vl.sync", "s3vl (result cache)", "s3vl sync capture"):
        expect_error(db, "SELECT s3vl._query_page(%s, %s::float8[], %s, 50, NULL, NULL, 1)",
                     (name, Q, tenants.arn), "42501", "no grant")


def test_sync_sends_through_a_function_no_reader_or_writer_may_execute(
        db: psycopg.Connection[Any]) -> None:
    for group in GROUPS:
        for fn in ("s3vl._sync_invoke(json)", "s3vl._send_lambda(text,json,text)",
                   "s3vl._call_lambda(text,json,text)", "s3vl._invoke(text,json)",
                   "s3vl._sync_batch(regclass,text,text[],text)"):
            assert db.execute("SELECT pg_catalog.has_function_privilege(%s, %s, 'EXECUTE')",
                              (group, fn)).fetchone() == (False,), (group, fn)
    # Released install scripts (extension/history) are kept as they were released.
    source = "\n".join(p.read_text() for p in SQL_DIR.rglob("*.sql") if "history" not in p.parts)
    assert "caller = 's3vl.sync'" not in source
