"""Install the `aws_lambda` stand-in (SQL + PL/Python) into a local PostgreSQL database."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

ENDPOINT_GUC = "aws_lambda.endpoint_override"


def standin_sql() -> str:
    return resources.files(__package__).joinpath("aws_lambda.sql").read_text(encoding="utf-8")


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
