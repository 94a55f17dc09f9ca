"""The SQLSTATE table is the one the docs show. (Every s3vl.limits() row is tied to the function's
and the emulator's values in tests/sql/test_facts_tie.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from sql.sql_helpers import REPO_ROOT

pytestmark = pytest.mark.stack


def test_sqlstate_table_is_documented(db: Any) -> None:
    doc = (REPO_ROOT / "docs" / "sql-reference.md").read_text()
    codes = db.execute("SELECT sqlstate, retryable FROM s3vl.error_codes()").fetchall()
    assert len(codes) == 12
    for sqlstate, _retryable in codes:
        assert f"`{sqlstate}`" in doc, sqlstate
