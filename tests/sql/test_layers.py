"""The SQL layers (sql/README.md): a function calls only functions of its own layer or a lower one.

The layers are the folders of sql/ in the order install.sql lists them (10_core -> 20_transport
-> 30_api -> 40_sync -> 50_roles). Each function belongs to the file that creates it; its calls
come from plpgsql_check's dependency report (plpgsql_show_dependency_tb) for PL/pgSQL, and from a
parse of the body (comments and string literals removed) for LANGUAGE sql and for polymorphic
PL/pgSQL functions, which the report cannot compile. Dynamic SQL is not in the report: string
literals of PL/pgSQL bodies are searched for calls of internal helpers (`s3vl._name(`), the only
functions definer code builds calls to. Every table and sequence is created in the core tables file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import SQL_DIR

pytestmark = pytest.mark.stack

TABLES_FILE = "10_core/10_tables.sql"
_CREATE_ROUTINE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+s3vl\.(\w+)\s*\(", re.I)
_CREATE_RELATION = re.compile(
    r"CREATE\s+(?:UNLOGGED\s+)?(?:TABLE|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?s3vl\.(\w+)", re.I)


def install_parts() -> list[str]:
    """The files of install.sql, in install order (what sql/build-extension.sh reads too)."""
    text = (SQL_DIR / "install.sql").read_text()
    return re.findall(r"^\\ir (.*\.sql)$", text, re.M)


def layer_of(part: str) -> str:
    return part.split("/", 1)[0] if "/" in part else ""


@dataclass
class Sources:
    parts: list[str]
    routines: dict[str, list[str]]  # function or procedure name -> files that create it
    relations: dict[str, list[str]]  # table or sequence name -> files that create it

    def file_of(self, name: str) -> str | None:
        files = self.routines.get(name) or self.relations.get(name)
        return files[0] if files else None

    def rank(self, part: str) -> int:
        layers = list(dict.fromkeys(layer_of(p) for p in self.parts))
        return layers.index(layer_of(part))


def read_sources() -> Sources:
    parts = install_parts()
    routines: dict[str, list[str]] = {}
    relations: dict[str, list[str]] = {}
    for part in parts:
        text = _strip_comments((SQL_DIR / part).read_text())
        for name in dict.fromkeys(_CREATE_ROUTINE.findall(text)):
            routines.setdefault(name, []).append(part)
        for name in dict.fromkeys(_CREATE_RELATION.findall(text)):
            relations.setdefault(name, []).append(part)
    return Sources(parts, routines, relations)


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", _strip_comments(sql))


def parsed_references(body: str) -> set[str]:
    """s3vl names a body uses outside comments and string literals."""
    return set(re.findall(r"\bs3vl\.(\w+)", _strip_literals(body)))


def dynamic_calls(body: str) -> set[str]:
    """Internal helpers called from SQL text built in a body (EXECUTE format('... s3vl._x(')."""
    literals = re.findall(r"'((?:[^']|'')*)'", _strip_comments(body))
    return {name for text in literals for name in re.findall(r"\bs3vl\.(_\w+)\s*\(", text)}


@dataclass
class Routine:
    oid: int
    name: str
    signature: str
    language: str
    body: str
    trigger_relation: int | None
    polymorphic: bool


def catalog_routines(conn: psycopg.Connection[Any]) -> list[Routine]:
    rows = conn.execute(
        "SELECT p.oid, p.proname, p.oid::regprocedure::text, l.lanname, p.prosrc,"
        " (SELECT t.tgrelid FROM pg_trigger t WHERE t.tgfoid = p.oid ORDER BY t.oid LIMIT 1),"
        " EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[] || p.prorettype) a(t)"
        "         JOIN pg_type ty ON ty.oid = a.t WHERE ty.typtype = 'p'"
        "           AND ty.typname LIKE 'any%%')"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " JOIN pg_language l ON l.oid = p.prolang"
        " WHERE n.nspname = 's3vl' ORDER BY 3").fetchall()
    return [Routine(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                    None if r[5] is None else int(r[5]), bool(r[6])) for r in rows]


def references(conn: psycopg.Connection[Any], routine: Routine) -> set[str]:
    """The s3vl functions, procedures, tables and sequences one routine uses."""
    is_trigger = routine.body and conn.execute(
        "SELECT prorettype = 'trigger'::regtype FROM pg_proc WHERE oid = %s",
        (routine.oid,)).fetchone() == (True,)
    if routine.language != "plpgsql" or routine.polymorphic or (
            is_trigger and routine.trigger_relation is None):
        return parsed_references(routine.body)
    if is_trigger:
        rows = conn.execute("SELECT schema, name FROM plpgsql_show_dependency_tb("
                            "%s::oid::regprocedure, %s::oid::regclass)",
                            (routine.oid, routine.trigger_relation)).fetchall()
    else:
        rows = conn.execute("SELECT schema, name FROM plpgsql_show_dependency_tb("
                            "%s::oid::regprocedure)", (routine.oid,)).fetchall()
    return {str(name) for schema, name in rows if schema == "s3vl"} | dynamic_calls(routine.body)


def upward_calls(sources: Sources, calls: Iterable[tuple[str, str]]) -> list[str]:
    """(caller, callee) pairs whose callee lives in a later layer than the caller, described."""
    found = []
    for caller, callee in calls:
        caller_file, callee_file = sources.file_of(caller), sources.file_of(callee)
        if caller_file is None or callee_file is None:
            continue
        if sources.rank(callee_file) > sources.rank(caller_file):
            found.append(f"{caller} ({caller_file}) calls {callee} ({callee_file})")
    return sorted(set(found))


def call_graph(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    return [(r.name, callee) for r in catalog_routines(conn)
            for callee in references(conn, r) if callee != r.name]


# ---- the sources --------------------------------------------------------------------------------
def test_every_part_sits_in_a_layer_folder_in_layer_order() -> None:
    parts = install_parts()
    layers = [layer_of(p) for p in parts]
    assert all(re.fullmatch(r"\d\d_[a-z]+", layer) for layer in layers), parts
    assert layers == sorted(layers), "install.sql must list the layers in order"
    assert parts == sorted(parts), "files install in the order of their names"
    on_disk = {str(p.relative_to(SQL_DIR)) for p in SQL_DIR.glob("[0-9][0-9]_*/*.sql")}
    assert on_disk == set(parts), "every layer file is installed, and every installed one exists"


def test_each_function_and_table_is_created_in_one_file() -> None:
    sources = read_sources()
    assert len(sources.routines) > 50
    spread = {name: files for name, files in sources.routines.items() if len(files) > 1}
    assert spread == {}, "overloads of one name belong in one file"
    elsewhere = {name: files for name, files in sources.relations.items()
                 if files != [TABLES_FILE]}
    assert elsewhere == {}, f"every table and sequence is created in {TABLES_FILE}"


def test_the_parse_finds_calls_and_ignores_text() -> None:
    body = ("SELECT s3vl._check_range('s3vl.x', 'top_k', $1); -- s3vl.sync() in a comment\n"
            "SELECT 'run s3vl.configure(...) first', n FROM s3vl.config")
    assert parsed_references(body) == {"_check_range", "config"}
    dynamic = "EXECUTE format('SELECT s3vl._sync_try_cast(v, NULL::%s)', t); -- 's3vl._no('"
    assert dynamic_calls(dynamic) == {"_sync_try_cast"}
    assert dynamic_calls("RAISE EXCEPTION 'see s3vl.configure(lambda_arn)'") == set()


# ---- the installed schema -----------------------------------------------------------------------
def test_every_installed_function_comes_from_a_file(canned: psycopg.Connection[Any]) -> None:
    sources = read_sources()
    names = {r.name for r in catalog_routines(canned)}
    assert names - set(sources.routines) == set(), "functions no file creates"
    assert set(sources.routines) - names == set(), "functions a file creates but install lacks"


def test_no_function_calls_a_later_layer(canned: psycopg.Connection[Any]) -> None:
    sources = read_sources()
    graph = call_graph(canned)
    assert len(graph) > 200, "expected the dependency report to find the calls"
    found = upward_calls(sources, graph)
    assert found == [], "calls into a later layer:\n" + "\n".join(found)


def test_a_call_into_a_later_layer_is_reported(canned: psycopg.Connection[Any]) -> None:
    # Two core functions made to call upwards in a throwaway database: a LANGUAGE sql one into
    # transport, a PL/pgSQL one into the API layer and, through dynamic SQL, into sync.
    canned.execute("CREATE OR REPLACE FUNCTION s3vl.version() RETURNS text LANGUAGE sql AS"
                   " $$ SELECT coalesce((SELECT lambda_arn FROM s3vl.get_config()), '1') $$")
    canned.execute(
        "CREATE OR REPLACE FUNCTION s3vl._limit(limit_name text) RETURNS integer LANGUAGE plpgsql"
        " AS $$ BEGIN PERFORM s3vl.list_indexes();"
        " EXECUTE format('SELECT s3vl._sync_schedule(%L)', limit_name); RETURN 1; END $$")
    found = upward_calls(read_sources(), call_graph(canned))
    assert any(f.startswith("version (10_core/00_schema.sql) calls get_config (20_transport/")
               for f in found), found
    assert any(f.startswith("_limit (10_core/20_limits.sql) calls list_indexes (30_api/")
               for f in found), found
    assert any(f.startswith("_limit (10_core/20_limits.sql) calls _sync_schedule (40_sync/")
               for f in found), found


def function_lengths() -> dict[str, int]:
    """Lines of every CREATE FUNCTION/PROCEDURE statement of the layer files (header to `$$;`)."""
    lengths: dict[str, int] = {}
    for part in install_parts():
        lines = (SQL_DIR / part).read_text().splitlines()
        i = 0
        while i < len(lines):
            found = re.match(r"CREATE OR REPLACE (?:FUNCTION|PROCEDURE) s3vl\.(\w+)", lines[i])
            if found:
                j = i
                while j < len(lines) and not lines[j].rstrip().endswith("$$;"):
                    j += 1
                key = f"{part}:{found.group(1)}"
                lengths[key] = max(lengths.get(key, 0), j - i + 1)
                i = j
            i += 1
    return lengths


def test_no_function_is_longer_than_60_lines() -> None:
    lengths = function_lengths()
    assert len(lengths) > 100
    assert {k: n for k, n in lengths.items() if n > 60} == {}, "split it into helpers"
