"""Install the `aws_lambda` stand-in (SQL + PL/Python) into a local PostgreSQL database."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

ENDPOINT_GUC = "aws_lambda.endpoint_override"
# Where aws_lambda.sql takes the text of http_invoke.py, and the dollar quote around it.
SOURCE_PLACEHOLDER = "@HTTP_INVOKE_SOURCE@"
PLPYTHON_QUOTE = "$py$"


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def python_literal(text: str) -> str:
    """`text` as a parenthesised Python string literal, one line of source per line, so the
    embedded code stays readable in pg_proc (repr quotes each line exactly)."""
    lines = text.splitlines(keepends=True) or [""]
    return "(\n" + "".join(f"    {line!r}\n" for line in lines) + ")"


def standin_sql() -> str:
    """aws_lambda.sql with http_invoke.py's source embedded in the PL/Python body."""
    template = _read("aws_lambda.sql")
    literal = python_literal(_read("http_invoke.py"))
    if template.count(SOURCE_PLACEHOLDER) != 1 or PLPYTHON_QUOTE in literal:
        raise RuntimeError("aws_lambda.sql needs exactly one placeholder "
                           f"{SOURCE_PLACEHOLDER}, and http_invoke.py must not contain "
                           f"{PLPYTHON_QUOTE}")
    return template.replace(SOURCE_PLACEHOLDER, literal)


def install(dsn: str, lambda_endpoint: str) -> None:
    """Create the stand-in in the database of `dsn` (a superuser DSN) and point it at the endpoint.

    The endpoint is stored with ALTER DATABASE ... SET, as Aurora stores its endpoint override in
    a parameter. The stand-in reads only that (or the server-level) value, never a session's.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(standin_sql().encode())
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(dbname), sql.Identifier(*ENDPOINT_GUC.split(".")),
                sql.Literal(lambda_endpoint)))
