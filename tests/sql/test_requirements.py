"""sql/10_core/00_requirements.sql: install stops on a PostgreSQL older than the minimum with a
clear error (SQLSTATE 0A000, both versions named) before creating anything, and passes on this one.
The server cannot be made older, so the check runs with server_version_num replaced."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from infra.test_versions import requirements_sql, sql_minimum


@pytest.fixture
def empty_db(postgres_server: Callable[[str], str]) -> Iterator[psycopg.Connection]:
    name = f"s3vl_req_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(postgres_server(name), autocommit=True) as conn:
            yield conn
    finally:
        with psycopg.connect(postgres_server("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_as(server_version_num: int | None) -> str:
    text = requirements_sql().read_text()
    if server_version_num is None:
        return text
    original = "current_setting('server_version_num')::integer"
    assert original in text
    return text.replace(original, str(server_version_num))


def test_this_server_passes(empty_db: psycopg.Connection) -> None:
    empty_db.execute(check_as(None))


@pytest.mark.parametrize("older", [110009, 120016])
def test_an_older_server_is_refused_with_a_clear_error(empty_db: psycopg.Connection,
                                                       older: int) -> None:
    with pytest.raises(psycopg.errors.FeatureNotSupported) as caught:
        empty_db.execute(check_as(older))
    message = caught.value.diag.message_primary or ""
    assert message.startswith("s3vl install: PostgreSQL ")
    assert f"s3vl needs PostgreSQL {sql_minimum()} or later" in message
    assert f"Aurora PostgreSQL {sql_minimum()}" in (caught.value.diag.message_hint or "")
    assert empty_db.execute("SELECT to_regnamespace('s3vl')").fetchone() == (None,)


def test_the_minimum_itself_passes(empty_db: psycopg.Connection) -> None:
    empty_db.execute(check_as(sql_minimum() * 10000))
