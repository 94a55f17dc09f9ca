"""Vectors and keys reach the function exactly: the request builders keep every float8 bit and
every key character (property-based, against the real server)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.stack

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
KEYS = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
               min_size=1, max_size=40)
SUPPRESS = [HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def conn(local_stack: Any) -> Any:
    with psycopg.connect(local_stack.dsn, autocommit=True) as connection:
        yield connection


@settings(max_examples=60, deadline=None, suppress_health_check=SUPPRESS)
@given(vector=st.lists(FINITE, min_size=1, max_size=64))
def test_query_request_keeps_every_float(conn: Any, vector: list[float]) -> None:
    row = conn.execute("SELECT s3vl._query_request('arn', %s::float8[], 1, true, NULL)::text",
                       (vector,)).fetchone()
    sent = json.loads(row[0], parse_int=float)["query_vector"]  # keeps "-0" as -0.0
    assert sent == vector
    assert [float(x).hex() for x in sent] == [x.hex() for x in vector]


@settings(max_examples=60, deadline=None, suppress_health_check=SUPPRESS)
@given(keys=st.lists(KEYS, min_size=1, max_size=10))
def test_get_request_keeps_every_key(conn: Any, keys: list[str]) -> None:
    row = conn.execute("SELECT s3vl._get_request('arn', %s::text[], true, true)::text",
                       (keys,)).fetchone()
    assert json.loads(row[0])["vector_ids"] == keys
