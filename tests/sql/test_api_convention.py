"""The 1.0 API convention (docs/sql-reference.md) checked against the installed catalog.

- The function table of docs/sql-reference.md lists exactly the public functions (name, identity
  arguments, the role granted EXECUTE, the COMMENT): a function missing from the docs, or a
  documented one that does not exist, fails with the row to write.
- The privileges table names each public function under the role that may execute it.
- Parameter names: no `_param`, `p_`, `target_` names, no abbreviations; an index is `index_name`
  or `index_arn`; the shared names keep their types.
- Every public function has a one-line COMMENT and is granted to exactly one group role.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import REPO_ROOT

pytestmark = pytest.mark.stack

DOC = REPO_ROOT / "docs" / "sql-reference.md"
GROUP_ROLES = ("s3vl_reader", "s3vl_writer", "s3vl_admin")
# Parameter names that say the same thing under another name, and what to write instead.
FORBIDDEN = {"k": "top_k", "filter": "metadata_filter", "keys": "vector_ids", "key": "vector_id",
             "index": "index_name", "index_ref": "index_name", "target": "index_name",
             "with_metadata": "return_metadata", "name": "index_name"}
# A shared name always has the same type (docs/sql-reference.md, "Parameter names").
TYPES = {"index_name": {"text"}, "index_arn": {"text"}, "top_k": {"integer"},
         "metadata_filter": {"jsonb"}, "metadata_key": {"text"}, "query_vector": {"float8[]"},
         "query_vectors": {"float8[]", "jsonb"}, "query_text": {"text"},
         "query_texts": {"jsonb", "text[]"}, "vector_ids": {"text[]"}, "vector_id": {"text"},
         "return_metadata": {"boolean"}, "return_data": {"boolean"}, "role_name": {"name"},
         "source": {"regclass"}, "key_column": {"name"}, "dry_run": {"boolean"},
         "max_results": {"integer"}, "next_token": {"text"}, "segment_count": {"integer"},
         "segment_index": {"integer"}, "invocation_type": {"text"}}


def _short(type_name: str) -> str:
    return type_name.replace("double precision", "float8")


def catalog_rows(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str, str]]:
    """(name, identity arguments, roles granted EXECUTE, comment) of every public function."""
    rows = conn.execute(
        "SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),"
        " coalesce((SELECT string_agg(x.grantee::regrole::text, ', ' ORDER BY"
        "   x.grantee::regrole::text) FROM aclexplode(p.proacl) x"
        "   WHERE x.privilege_type = 'EXECUTE' AND x.grantee <> p.proowner), ''),"
        " coalesce(obj_description(p.oid, 'pg_proc'), '')"
        " FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname !~ '^_'"
        " ORDER BY 1, 2").fetchall()
    return [(str(n), _short(str(a)), str(r), str(c)) for n, a, r, c in rows]


def table_row(name: str, arguments: str, roles: str, comment: str) -> str:
    return f"| `s3vl.{name}({arguments})` | {roles} | {re.sub('^s3vl: ', '', comment)} |"


def doc_table_rows() -> set[str]:
    text = DOC.read_text()
    section = text.split("## Function table", 1)[1].split("\n## ", 1)[0]
    return {line.strip() for line in section.splitlines() if line.startswith("| `s3vl.")}


def test_function_table_matches_the_catalog(canned: psycopg.Connection[Any]) -> None:
    installed = {table_row(*row) for row in catalog_rows(canned)}
    documented = doc_table_rows()
    missing, extra = sorted(installed - documented), sorted(documented - installed)
    assert (missing, extra) == ([], []), (
        "docs/sql-reference.md, Function table: add these rows\n" + "\n".join(missing)
        + "\n... and remove (or fix) these\n" + "\n".join(extra))


def test_privileges_table_names_each_function_under_its_role(
        canned: psycopg.Connection[Any]) -> None:
    section = DOC.read_text().split("## Privileges", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, str] = {}
    for role in GROUP_ROLES:
        line = next(x for x in section.splitlines() if x.startswith(f"| `{role}` |"))
        for name in re.findall(r"`(\w+)`", line.split("|")[2]):
            if name not in GROUP_ROLES:
                documented[name] = role
    granted = {name: roles for name, _, roles, _ in catalog_rows(canned)}
    assert documented == granted


def test_parameter_names_follow_the_convention(canned: psycopg.Connection[Any]) -> None:
    functions = canned.execute(
        "SELECT p.oid::regprocedure::text, p.proargnames, p.proargmodes,"
        " ARRAY(SELECT format_type(t, NULL) FROM unnest(coalesce(p.proallargtypes,"
        "   p.proargtypes::oid[])) WITH ORDINALITY AS a(t, n) ORDER BY a.n)"
        " FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname !~ '^_'"
        ).fetchall()
    rows = [(signature, name, type_name)
            for signature, names, modes, types in functions
            for name, mode, type_name in zip(names or [""] * len(types),
                                             modes or ["i"] * len(types), types, strict=True)
            if mode in ("i", "b", "v")]
    assert len(rows) > 100
    problems = []
    for signature, name, type_name in rows:
        if re.search(r"_param$|^p_|^target_", name) or name in FORBIDDEN:
            instead = FORBIDDEN.get(name, "a convention name")
            problems.append(f"{signature}: {name} (write {instead})")
        if name in TYPES and _short(type_name) not in TYPES[name]:
            problems.append(f"{signature}: {name} is {type_name}, not {sorted(TYPES[name])}")
    assert problems == []


def test_only_the_index_first_forms_have_unnamed_parameters(
        canned: psycopg.Connection[Any]) -> None:
    unnamed = canned.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname !~ '^_'"
        "   AND (p.proargnames IS NULL AND p.pronargs > 0 OR '' = ANY (p.proargnames))"
        " ORDER BY 1").fetchall()
    assert [r[0] for r in unnamed] == [
        "s3vl.query_vectors(text,double precision[],integer,boolean,jsonb)",
        "s3vl.query_vectors(text,text,integer,boolean,jsonb)"]


def test_every_public_function_has_one_comment_and_one_role(
        canned: psycopg.Connection[Any]) -> None:
    rows = catalog_rows(canned)
    assert len(rows) > 50
    uncommented = [n for n, _, _, c in rows if not c.startswith("s3vl: ") or "\n" in c]
    not_one_role = [(n, r) for n, _, r, _ in rows if r not in GROUP_ROLES]
    assert (uncommented, not_one_role) == ([], [])

