"""Issue 19 items 6 and 7: a policy-bound reader paging list_vectors (max_results => 1) learns
neither the keys nor the number of the vectors it cannot see: every page but the last is full,
no page is empty with a token, and no token carries a hidden key (the emulator's tokens, like
0.4.0's pages, used to be base64 JSON of the page's last key, hidden or not)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import psycopg
import pytest

from sql.test_policies import VECTORS, Tenants, as_tenant, tenants  # noqa: F401

pytestmark = pytest.mark.stack

PAGE = ("SELECT vector_id, response_next_token, total_count FROM s3vl.list_vectors("
        "index_name => %s, max_results => %s, next_token => %s)")


def readable(token: str) -> str:
    """The token, and its base64 decoding when it has one (what a caller could read)."""
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("latin-1")
    except (binascii.Error, ValueError):
        decoded = ""
    return token + " " + decoded


def pages(db: psycopg.Connection[Any], index: str, size: int) -> list[list[tuple[Any, ...]]]:
    out: list[list[tuple[Any, ...]]] = []
    token = None
    while True:
        rows = db.execute(PAGE, (index, size, token)).fetchall()
        out.append(rows)
        token = rows[0][1] if rows else None
        if token is None or len(out) > 50:
            return out


@pytest.mark.parametrize("size", [1, 2, 4])
@pytest.mark.parametrize("tenant", ["a", "b"])
def test_pages_show_neither_hidden_keys_nor_how_many(db: psycopg.Connection[Any],
                                                     tenants: Tenants,  # noqa: F811
                                                     tenant: str, size: int) -> None:
    own = {k for k, (_, t) in VECTORS.items() if t == tenant}
    hidden = set(VECTORS) - own
    as_tenant(db, tenants, tenant)
    got = pages(db, tenants.index, size)
    keys = [r[0] for page in got for r in page]
    assert None not in keys, "an empty page carried a token"
    assert sorted(keys) == sorted(own)  # every own vector once
    for page in got[:-1]:
        assert len(page) == size and all(r[2] == size for r in page)
    assert len(got[-1]) <= size and all(r[1] is None for r in got[-1])
    for page in got:
        for _, token, _ in page:
            if token is not None:
                text = readable(token)
                assert not [k for k in hidden if k in text], text
    # An unbound reader still gets the service's pages (nothing hidden, nothing to fill).
    db.execute("RESET ROLE")
    assert sorted(r[0] for page in pages(db, tenants.index, size) for r in page) == sorted(VECTORS)
