"""Vector policies and index grants (sql/20_transport/45_policies.sql) through the real stack: two
tenants, each sees only its own vectors through every read path, cannot widen its filter, writes and
deletes only its own; the setting unset refuses; nested roles are bound; the cache never crosses
tenants; index grants shut out roles without one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import expect_error

pytestmark = pytest.mark.stack

Q = [1.0, 0.0, 0.0]
# key -> (vector, tenant)
VECTORS = {f"{t}-{i}": ([1.0, 0.1 * i + (0.05 if t == "b" else 0.0), 0.0], t)
           for t in ("a", "b") for i in range(6)}


class Tenants:
    def __init__(self, index: str, arn: str, roles: dict[str, str], logins: dict[str, str]
                 ) -> None:
        self.index, self.arn, self.roles, self.logins = index, arn, roles, logins


@pytest.fixture
def tenants(db: psycopg.Connection[Any], s3vectors_client: Any, local_stack: Any
            ) -> Iterator[Tenants]:
    suffix = uuid.uuid4().hex[:8]
    index = f"pol-{suffix}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index,
                                  dataType="float32", dimension=3, distanceMetric="cosine",
                                  metadataConfiguration={"nonFilterableMetadataKeys": ["body"]})
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index
    s3vectors_client.put_vectors(indexArn=arn, vectors=[
        {"key": k, "data": {"float32": v},
         "metadata": {"tenant": t, "n": int(k[2:]), "name": f"trail shoe {k}", "body": "x"}}
        for k, (v, t) in VECTORS.items()])
    db.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
    roles = {t: f"pol_{t}_{suffix}" for t in ("a", "b")}
    teams = {t: f"pol_team_{t}_{suffix}" for t in ("a", "b")}
    logins = {t: f"pol_app_{t}_{suffix}" for t in ("a", "b")}
    for t in ("a", "b"):
        db.execute(f'CREATE ROLE "{roles[t]}" NOLOGIN IN ROLE s3vl_writer')
        db.execute(f'CREATE ROLE "{teams[t]}" NOLOGIN IN ROLE "{roles[t]}"')
        db.execute(f'CREATE ROLE "{logins[t]}" LOGIN IN ROLE "{teams[t]}"')  # two levels down
    db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": \"a\"}')", (index, roles["a"]))
    db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": {\"$setting\": "
               "\"app.tenant_id\"}}')", (index, roles["b"]))
    yield Tenants(index, arn, roles, logins)
    db.execute("RESET ROLE")
    db.execute("RESET app.tenant_id")
    db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (index,))
    db.execute("DELETE FROM s3vl.index_grants WHERE index_name = %s", (index,))
    db.execute("SELECT s3vl.unregister_index(%s)", (index,))
    for group in (logins, teams, roles):
        for name in group.values():
            db.execute(f'DROP ROLE "{name}"')
    s3vectors_client.delete_index(indexArn=arn)


def as_tenant(db: psycopg.Connection[Any], tenants: Tenants, t: str) -> None:
    db.execute("RESET ROLE")
    db.execute("SELECT set_config('app.tenant_id', %s, false)", (t,))
    db.execute(f'SET ROLE "{tenants.logins[t]}"')


def keys(db: psycopg.Connection[Any], sql: str, params: Any) -> set[str]:
    return {r[0] for r in db.execute(sql, params).fetchall() if r[0] is not None}


READS = {
    "query_vectors": "SELECT vector_id FROM s3vl.query_vectors(%(q)s::float8[], %(i)s, "
                     "top_k => 20)",
    "query_vectors index-first": "SELECT vector_id FROM s3vl.query_vectors(%(i)s, "
                                 "%(q)s::float8[], 20)",
    "query_vectors_batch": "SELECT vector_id FROM s3vl.query_vectors_batch(index_name => %(i)s, "
                           "query_vectors => ARRAY[%(q)s]::float8[], top_k => 20)",
    "get_vectors": "SELECT vector_id FROM s3vl.get_vectors(%(all)s, %(i)s) WHERE found",
    "list_vectors": "SELECT vector_id FROM s3vl.list_vectors(index_name => %(i)s, "
                    "max_results => 100)",
    "scan_vectors": "SELECT vector_id FROM s3vl.scan_vectors(%(i)s, page_size => 3)",
    "query_vectors_where": "SELECT key FROM s3vl.query_vectors_where(%(q)s::float8[], "
                           "'pol_keys', 'k', top_k => 20, index_name => %(i)s)",
}


@pytest.mark.parametrize("path", list(READS))
def test_each_tenant_sees_only_its_own(db: psycopg.Connection[Any], tenants: Tenants,
                                       path: str) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS pol_keys (k text PRIMARY KEY)")
    db.execute("INSERT INTO pol_keys SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
               (list(VECTORS),))
    db.execute("GRANT SELECT ON pol_keys TO PUBLIC")
    params = {"q": Q, "i": tenants.index, "all": list(VECTORS)}
    assert keys(db, READS[path], params) == set(VECTORS)  # superuser: unbound
    for t in ("a", "b"):
        as_tenant(db, tenants, t)
        assert keys(db, READS[path], params) == {k for k, (_, o) in VECTORS.items() if o == t}


WIDENING_FORMS = {
    "query_vectors": "SELECT vector_id FROM s3vl.query_vectors(%(q)s::float8[], %(i)s, "
                     "top_k => 20, metadata_filter => %(f)s)",
    "query_vectors index-first": "SELECT vector_id FROM s3vl.query_vectors(%(i)s, "
                                 "%(q)s::float8[], 20, true, %(f)s)",
    "query_vectors_batch": "SELECT vector_id FROM s3vl.query_vectors_batch(index_name => %(i)s, "
                           "query_vectors => ARRAY[%(q)s]::float8[], top_k => 20, "
                           "metadata_filter => %(f)s)",
    "query_vectors_where": "SELECT key FROM s3vl.query_vectors_where(%(q)s::float8[], "
                           "'pol_keys', 'k', top_k => 20, index_name => %(i)s, "
                           "metadata_filter => %(f)s)",
}
A_KEYS = {k for k in VECTORS if k.startswith("a-")}


@pytest.mark.parametrize("form", list(WIDENING_FORMS))
@pytest.mark.parametrize(("widening", "expected"), [
    ('{"$or": [{"tenant": "a"}, {"tenant": "b"}]}', A_KEYS),
    ('{"$or": [{"tenant": {"$exists": true}}, {"tenant": {"$exists": false}}]}', A_KEYS),
    ('{"tenant": {"$ne": "a"}}', set()),
    ('{"tenant": "b"}', set()),
    ('{"n": {"$gte": 0}}', A_KEYS),
    (None, A_KEYS),
])
def test_a_tenant_cannot_widen_its_filter(db: psycopg.Connection[Any], tenants: Tenants,
                                          form: str, widening: str | None,
                                          expected: set[str]) -> None:
    """Whatever filter the caller sends is ANDed with the policy: it can only narrow."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS pol_keys (k text PRIMARY KEY)")
    db.execute("INSERT INTO pol_keys SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
               (list(VECTORS),))
    db.execute("GRANT SELECT ON pol_keys TO PUBLIC")
    params = {"q": Q, "i": tenants.index, "f": widening}
    if widening is not None and "$or" in widening:
        assert keys(db, WIDENING_FORMS[form], params) == set(VECTORS)  # unbound: everything
    as_tenant(db, tenants, "a")
    assert keys(db, WIDENING_FORMS[form], params) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_setting_unset_or_empty_refuses(db: psycopg.Connection[Any], tenants: Tenants,
                                        value: str | None) -> None:
    """Missing, empty or blank: 42501 on every path (query, cached query, get, write), never an
    unfiltered read."""
    if value is None:
        db.execute("RESET app.tenant_id")
    else:
        db.execute("SELECT set_config('app.tenant_id', %s, false)", (value,))
    db.execute(f'SET ROLE "{tenants.logins["b"]}"')
    try:
        for statement, params in (
                ("SELECT * FROM s3vl.query_vectors(%s::float8[], %s)", [Q, tenants.index]),
                ("SELECT * FROM s3vl.get_vectors(ARRAY['b-1'], %s)", [tenants.index]),
                ("SELECT * FROM s3vl.scan_vectors(%s)", [tenants.index]),
                ("SELECT s3vl.put_vector(index_name => %s, vector_id => 'b-9', vector => ARRAY[1, "
                 "0, 0]::float8[], "
                 "metadata => '{\"tenant\": \"b\"}')", [tenants.index])):
            expect_error(db, statement, params, "42501", "app.tenant_id")
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.set_cache(%s, '10 minutes')", (tenants.index,))
        db.execute("SELECT count(*) FROM s3vl.query_vectors(%s::float8[], %s)", (Q, tenants.index))
        db.execute(f'SET ROLE "{tenants.logins["b"]}"')
        expect_error(db, "SELECT * FROM s3vl.query_vectors(%s::float8[], %s)", [Q, tenants.index],
                     "42501", "app.tenant_id")
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (tenants.index,))
        db.execute("SELECT s3vl.clear_cache()")


def test_writes_must_match_and_deletes_touch_only_matching(db: psycopg.Connection[Any],
                                                           tenants: Tenants,
                                                           s3vectors_client: Any) -> None:
    as_tenant(db, tenants, "a")
    expect_error(db, "SELECT s3vl.put_vector(index_name => %s, vector_id => 'a-new', "
                     "vector => ARRAY[1, 1, 0]::float8[], "
                 "metadata => '{\"tenant\": \"b\"}')", [tenants.index], "42501", "a-new")
    expect_error(db, "SELECT s3vl.put_vector(index_name => %s, vector_id => 'a-new', "
                     "vector => ARRAY[1, 1, 0]::float8[])",
                 [tenants.index], "42501")
    db.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'a-new', vector => ARRAY[1, "
               "1, 0]::float8[], "
               "metadata => '{\"tenant\": \"a\"}')", (tenants.index,))
    expect_error(db, "SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['a-new', "
                     "'b-1'])", [tenants.index],
                 "42501", "b-1")
    stored = s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["a-new", "b-1"])
    assert {v["key"] for v in stored["vectors"]} == {"a-new", "b-1"}  # nothing deleted
    assert db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['a-new', "
                      "'gone'])",
                      (tenants.index,)).fetchone() == (2,)
    stored = s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["a-new"])
    assert stored["vectors"] == []


def cache_counts(db: psycopg.Connection[Any]) -> tuple[int, int]:
    row = db.execute("SELECT hits, misses FROM s3vl.cache_stats()").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_the_cache_never_serves_another_tenant(db: psycopg.Connection[Any],
                                               tenants: Tenants) -> None:
    """Bound callers use the cache too, keyed by the filter actually sent (policy ANDed, the
    setting's value resolved): the same role with another app.tenant_id, another tenant, or an
    unbound role never get an answer cached for someone else."""
    db.execute("SELECT s3vl.set_cache(%s, '10 minutes')", (tenants.index,))
    db.execute("SELECT s3vl.clear_cache()")  # counters from zero
    sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)"
    try:
        assert keys(db, sql, (Q, tenants.index)) == set(VECTORS)  # cached for the unbound
        for t in ("a", "b", "a", "b"):
            as_tenant(db, tenants, t)
            assert keys(db, sql, (Q, tenants.index)) == {k for k in VECTORS
                                                         if k.startswith(t + "-")}
        hits, misses = cache_counts(db)
        assert (hits, misses) == (2, 3)  # the second a and b were hits
        # Login b's policy reads app.tenant_id: the key holds the value, not the role. 'c' is a
        # new request (a miss, no rows); 'a' sends exactly tenant a's request, so a's entry
        # answers it (the answer to that very filter).
        for value, expected, counts in (("c", set(), (2, 4)), ("a", A_KEYS, (3, 4))):
            db.execute("RESET ROLE")
            db.execute("SELECT set_config('app.tenant_id', %s, false)", (value,))
            db.execute(f'SET ROLE "{tenants.logins["b"]}"')
            assert keys(db, sql, (Q, tenants.index)) == expected
            assert cache_counts(db) == counts
        db.execute("RESET ROLE")
        assert keys(db, sql, (Q, tenants.index)) == set(VECTORS)  # the unbound entry, a hit
        assert cache_counts(db) == (4, 4)
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (tenants.index,))
        db.execute("SELECT s3vl.clear_cache()")  # the hit/miss counters are global


def test_a_cached_answer_needs_a_grant_too(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    """A cache hit never invokes the function, so the grant is checked on the way to the cache."""
    reader = f"pol_reader_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{reader}" IN ROLE s3vl_reader')
    db.execute("SELECT s3vl.set_cache(%s, '10 minutes')", (tenants.index,))
    sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)"
    try:
        db.execute(f'SET ROLE "{reader}"')
        assert keys(db, sql, (Q, tenants.index)) == set(VECTORS)  # no grant yet: open; cached
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        db.execute(f'SET ROLE "{reader}"')
        # Refused on the way to the cache, in the name of the function the reader called.
        expect_error(db, sql, [Q, tenants.index], "42501", "s3vl.query_vectors: ", "no grant",
                     reader)
        db.execute("RESET ROLE")
        assert keys(db, sql, (Q, tenants.index)) == set(VECTORS)  # superuser: still served
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (tenants.index,))
        db.execute("SELECT s3vl.clear_cache()")
        db.execute(f'DROP ROLE "{reader}"')


def test_index_grants_shut_out_other_roles(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
    as_tenant(db, tenants, "a")
    assert len(keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s)",
                    (Q, tenants.index))) == 6
    as_tenant(db, tenants, "b")
    expect_error(db, "SELECT * FROM s3vl.query_vectors(%s::float8[], %s)", [Q, tenants.index],
                 "42501", "no grant")
    expect_error(db, "SELECT * FROM s3vl.describe_index(%s)", [tenants.index], "42501")
    expect_error(db, "SELECT s3vl.put_vector(index_name => %s, vector_id => 'b-9', "
                     "vector => ARRAY[1, 0, 0]::float8[], "
                 "metadata => '{\"tenant\": \"b\"}')", [tenants.index], "42501", "no grant")
    db.execute("RESET ROLE")
    # Members of s3vl_admin need no grant.
    admin = f"pol_admin_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{admin}" IN ROLE s3vl_admin')
    try:
        db.execute(f'SET ROLE "{admin}"')
        assert len(keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, "
                        "top_k => 20)", (Q, tenants.index))) == 12
    finally:
        db.execute("RESET ROLE")
        db.execute(f'DROP ROLE "{admin}"')
    db.execute("SELECT s3vl.revoke_index(%s, %s)", (tenants.index, tenants.roles["a"]))
    as_tenant(db, tenants, "b")
    assert len(keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s)",
                    (Q, tenants.index))) == 6


def test_list_policies_and_admin_checks(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    rows = db.execute("SELECT role_name, "
                      "metadata_filter FROM s3vl.list_policies() WHERE index_name = %s",
                      (tenants.index,)).fetchall()
    assert dict(rows) == {tenants.roles["a"]: {"tenant": "a"},
                          tenants.roles["b"]: {"tenant": {"$setting": "app.tenant_id"}}}
    bad = "SELECT s3vl.create_policy(%s, %s, %s)"
    for filt, fragment in [('{"$or": [{"tenant": "a"}]}', "$or"),
                           ('{"tenant": {"$ne": "a"}}', "$ne"),
                           ('{"tenant": {"$in": []}}', "non-empty"),
                           ('{"tenant": {"$setting": "no_dot"}}', "$setting"),
                           ('{"tenant": [1, 2]}', "tenant"),
                           ('{}', "non-empty"), ('[1]', "object")]:
        expect_error(db, bad, [tenants.index, tenants.roles["a"], filt], "22023", fragment)
    expect_error(db, bad, [tenants.index, "no_such_role", '{"t": 1}'], "42704", "no_such_role")
    expect_error(db, bad, ["no-such-index", tenants.roles["a"], '{"t": 1}'], "42704")
    expect_error(db, "SELECT s3vl.drop_policy(%s, 'nobody')", [tenants.index], "42704")
    as_tenant(db, tenants, "a")
    expect_error(db, bad, [tenants.index, tenants.roles["a"], '{"tenant": "b"}'], "42501")
    expect_error(db, "SELECT s3vl.drop_policy(%s, %s)", [tenants.index, tenants.roles["a"]],
                 "42501")


def test_a_write_of_several_invocations_is_checked_whole(db: psycopg.Connection[Any],
                                                         tenants: Tenants,
                                                         s3vectors_client: Any) -> None:
    as_tenant(db, tenants, "a")
    # 5,001 vectors are two invocations; only the last one is outside the policy.
    expect_error(db, "SELECT s3vl.put_vector_arrays(index_name => %s, "
                     "vector_ids => array_agg('w-' || g), "
                 "vectors => array_agg(ARRAY[1, g, 0]::float8[]), "
                 "metadata => array_agg(jsonb_build_object('tenant', "
                 "CASE WHEN g = 5001 THEN 'b' ELSE 'a' END))) FROM generate_series(1, 5001) g",
                 [tenants.index], "42501", "w-5001")
    assert s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["w-1"])["vectors"] == []


@pytest.mark.parametrize(("metadata", "policy", "matches"), [
    ({"tenant": "a"}, {"tenant": {"$eq": "a"}}, True),
    ({"tenant": ["x", "a"]}, {"tenant": {"$eq": "a"}}, True),  # S3 Vectors' $eq on arrays
    ({"tenant": "c"}, {"tenant": {"$in": ["a", "b"]}}, False),
    ({"tenant": "b", "n": 1}, {"tenant": {"$in": ["a", "b"]}}, True),
    ({}, {"tenant": {"$eq": "a"}}, False),
    ({"tenant": "a"}, {"tenant": {"$eq": "a"}, "n": {"$eq": 1}}, False),
    ({"tenant": "a", "n": 1.0}, {"tenant": {"$eq": "a"}, "n": {"$eq": 1}}, True),
])
def test_policy_match_semantics(db: psycopg.Connection[Any], metadata: Any, policy: Any,
                                matches: bool) -> None:
    from psycopg.types.json import Jsonb

    resolved = {"$and": [{k: v} for k, v in policy.items()]}
    assert db.execute("SELECT s3vl._policy_matches(%s, %s)",
                      (Jsonb(metadata), Jsonb(resolved))).fetchone() == (matches,)


def test_query_table_obeys_the_policy(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    table = f"pol_src_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, emb float8[])")
    db.execute(f"INSERT INTO {table} SELECT unnest(%s::text[]), ARRAY[1, 0, 0]",
               (list(VECTORS),))
    db.execute(f"GRANT SELECT ON {table} TO PUBLIC")
    db.execute("SELECT s3vl.track_table(%s, 'k', 'emb', %s)", (table, tenants.index))
    try:
        for t in ("a", "b"):
            as_tenant(db, tenants, t)
            got = keys(db, "SELECT key FROM s3vl.query_table(source => %s, key_column => 'k', "
                           "query_vector => %s::float8[], top_k => 20)",
                       (table, Q))
            assert got == {k for k in VECTORS if k.startswith(t + "-")}
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.untrack_table(%s)", (table,))
        db.execute(f"DROP TABLE {table}")


def test_text_and_hybrid_search_obey_the_policy(db: psycopg.Connection[Any],
                                                tenants: Tenants) -> None:
    """s3vl.search_text and s3vl.hybrid_search reach the function through the same chokepoint:
    only the tenant's rows, whatever filter it adds."""
    import time

    db.execute("SELECT s3vl.add_text_search(%s, 'name', 'en')", (tenants.index,))
    deadline = time.monotonic() + 30
    active = ("SELECT text_search @> '[{\"metadata_key\": \"name\", \"status\": \"ACTIVE\"}]' "
              "FROM s3vl.describe_index(%s)")
    while db.execute(active, (tenants.index,)).fetchone() != (True,):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    text = ("SELECT vector_id FROM s3vl.search_text('trail shoe', 'name', %s, top_k => 20, "
            "metadata_filter => %s)")
    hybrid = ("SELECT vector_id FROM s3vl.hybrid_search(%s::float8[], 'trail shoe', 'name', "
              "%s, top_k => 20, metadata_filter => %s)")
    widen = '{"$or": [{"tenant": "a"}, {"tenant": "b"}]}'
    assert keys(db, text, (tenants.index, None)) == set(VECTORS)
    assert keys(db, hybrid, (Q, tenants.index, None)) == set(VECTORS)
    for t in ("a", "b"):
        as_tenant(db, tenants, t)
        own = {k for k in VECTORS if k.startswith(t + "-")}
        for flt in (None, widen):
            assert keys(db, text, (tenants.index, flt)) == own
            assert keys(db, hybrid, (Q, tenants.index, flt)) == own
    # Cached text answers are keyed by the filter sent too.
    db.execute("RESET ROLE")
    db.execute("SELECT s3vl.set_cache(%s, '10 minutes')", (tenants.index,))
    try:
        assert keys(db, text, (tenants.index, None)) == set(VECTORS)
        for t in ("a", "b", "a"):
            as_tenant(db, tenants, t)
            assert keys(db, text, (tenants.index, None)) == {k for k in VECTORS
                                                             if k.startswith(t + "-")}
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (tenants.index,))
        db.execute("SELECT s3vl.clear_cache()")


def test_set_role_to_an_unbound_role_does_not_escape(db: psycopg.Connection[Any],
                                                     tenants: Tenants) -> None:
    """The login role stays bound after SET ROLE to a role it may become (here s3vl_writer,
    which it belongs to through its tenant role): session_user is checked as well."""
    db.execute("SELECT set_config('app.tenant_id', 'b', false)")
    db.execute(f'SET SESSION AUTHORIZATION "{tenants.logins["a"]}"')
    try:
        sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)"
        assert keys(db, sql, (Q, tenants.index)) == A_KEYS
        db.execute("SET ROLE s3vl_writer")
        assert keys(db, sql, (Q, tenants.index)) == A_KEYS
        assert keys(db, "SELECT vector_id FROM s3vl.get_vectors(%s, %s) WHERE found",
                    (list(VECTORS), tenants.index)) == A_KEYS
    finally:
        db.execute("RESET SESSION AUTHORIZATION")


def test_renaming_a_role_keeps_its_policy(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    old = tenants.roles["a"]
    new = old + "_renamed"
    db.execute(f'ALTER ROLE "{old}" RENAME TO "{new}"')
    try:
        as_tenant(db, tenants, "a")
        assert keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, "
                    "top_k => 20)", (Q, tenants.index)) == A_KEYS
        db.execute("RESET ROLE")
        assert (new, {"tenant": "a"}) in db.execute(
            "SELECT role_name, metadata_filter FROM s3vl.list_policies() WHERE index_name = %s",
            (tenants.index,)).fetchall()
    finally:
        db.execute("RESET ROLE")
        db.execute(f'ALTER ROLE "{new}" RENAME TO "{old}"')


def test_a_put_cannot_replace_another_tenants_vector(db: psycopg.Connection[Any],
                                                     tenants: Tenants,
                                                     s3vectors_client: Any) -> None:
    """PutVectors replaces a stored vector of the same key: the stored one must match too."""
    as_tenant(db, tenants, "a")
    for statement in (
            "SELECT s3vl.put_vector(index_name => %s, vector_id => 'b-1', vector => ARRAY[0, 0, "
            "1]::float8[], metadata => '{\"tenant\": \"a\"}')",
            "SELECT s3vl.put_vectors(index_name => %s, vectors => '[{\"key\": \"a-9\", "
            "\"data\": [1, 0, 1], "
            "\"metadata\": {\"tenant\": \"a\"}}, {\"key\": \"b-2\", \"data\": [1, 0, 1], "
            "\"metadata\": {\"tenant\": \"a\"}}]')"):
        expect_error(db, statement, [tenants.index], "42501", "b-")
    stored = s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["b-1", "b-2", "a-9"],
                                          returnMetadata=True)["vectors"]
    assert {v["key"]: v["metadata"]["tenant"] for v in stored} == {"b-1": "b", "b-2": "b"}
    # Its own keys it may replace.
    db.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'a-1', vector => ARRAY[1, "
               "0.1, 0]::float8[], "
               "metadata => '{\"tenant\": \"a\", \"n\": 1}')", (tenants.index,))


def test_hidden_keys_read_as_not_found_and_pages_stay_honest(db: psycopg.Connection[Any],
                                                             tenants: Tenants) -> None:
    as_tenant(db, tenants, "a")
    rows = db.execute("SELECT vector_id, found, metadata, embedding IS NULL FROM "
                      "s3vl.get_vectors(ARRAY['a-1', 'b-1', 'nope', 'a-2'], %s, "
                      "include_metadata => false)", (tenants.index,)).fetchall()
    assert rows == [("a-1", True, {}, False), ("b-1", False, {}, True),
                    ("nope", False, {}, True), ("a-2", True, {}, False)]
    # list_vectors page by page: each page counts what it returns, tokens lead through all of
    # the tenant's vectors once, metadata only when asked for.
    seen: list[str] = []
    token = None
    for _ in range(20):
        page = db.execute("SELECT vector_id, metadata, response_next_token, total_count FROM "
                          "s3vl.list_vectors(index_name => %s, max_results => 3, next_token => "
                          "%s, return_metadata => false)", (tenants.index, token)).fetchall()
        got = [r[0] for r in page if r[0] is not None]
        assert all(r[1] is None for r in page)
        assert all(r[3] == len(got) for r in page)
        seen += got
        token = page[0][2] if page else None
        if token is None:
            break
    assert sorted(seen) == sorted(A_KEYS)
    assert keys(db, "SELECT vector_id FROM s3vl.scan_vectors(%s, return_metadata => false, "
                "page_size => 2)", (tenants.index,)) == A_KEYS


def _admin_state(db: psycopg.Connection[Any]) -> Any:
    return db.execute("SELECT (SELECT coalesce(jsonb_agg(to_jsonb(p) - 'created_at' ORDER BY "
                      "p.index_name, p.role_name), '[]') FROM s3vl.index_policies p), "
                      "(SELECT coalesce(jsonb_agg(to_jsonb(g) - 'created_at' ORDER BY "
                      "g.index_name, g.role_name), '[]') FROM s3vl.index_grants g)").fetchone()


# (statement, params with placeholders I = index, R = role a, SQLSTATE, fragment)
BAD_ARGUMENTS = [
    ("SELECT s3vl.create_policy(NULL, 'R', '{\"tenant\": \"a\"}')", "22023", "index_name"),
    ("SELECT s3vl.create_policy('I', NULL, '{\"tenant\": \"a\"}')", "22023", "role_name"),
    ("SELECT s3vl.create_policy('I', 'R', NULL)", "22023", "filter"),
    ("SELECT s3vl.create_policy('I', 'R', '{}')", "22023", "non-empty"),
    ("SELECT s3vl.create_policy('I', 'R', '[{\"tenant\": \"a\"}]')", "22023", "object"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"$or\": [{\"tenant\": \"a\"}]}')", "22023", "$or"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$ne\": \"a\"}}')", "22023", "$ne"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$eq\": \"a\", \"$in\": [\"a\"]}}')",
     "22023", "exactly one operator"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$in\": []}}')", "22023", "non-empty"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$in\": \"a\"}}')", "22023",
     "non-empty array"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": null}')", "22023", "tenant"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": [\"a\"]}')", "22023", "tenant"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$setting\": \"no_prefix\"}}')",
     "22023", "$setting"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"tenant\": {\"$setting\": 7}}')", "22023",
     "$setting"),
    ("SELECT s3vl.create_policy('I', 'R', '{\"body\": \"x\"}')", "22023", "non-filterable"),
    ("SELECT s3vl.create_policy('I', 'no_such_role_x', '{\"tenant\": \"a\"}')", "42704",
     "no_such_role_x"),
    ("SELECT s3vl.create_policy('no-such-index', 'R', '{\"tenant\": \"a\"}')", "42704",
     "not registered"),
    ("SELECT s3vl.drop_policy(NULL, 'R')", "22023", "index_name"),
    ("SELECT s3vl.drop_policy('I', NULL)", "22023", "role_name"),
    ("SELECT s3vl.drop_policy('I', 'no_such_role_x')", "42704", "no policy"),
    ("SELECT s3vl.drop_policy('no-such-index', 'R')", "42704", "no policy"),
    ("SELECT s3vl.grant_index(NULL, 'R')", "22023", "index_name"),
    ("SELECT s3vl.grant_index('I', NULL)", "22023", "role_name"),
    ("SELECT s3vl.grant_index('I', 'no_such_role_x')", "42704", "no_such_role_x"),
    ("SELECT s3vl.grant_index('no-such-index', 'R')", "42704", "not registered"),
    ("SELECT s3vl.revoke_index(NULL, 'R')", "22023", "index_name"),
    ("SELECT s3vl.revoke_index('I', NULL)", "22023", "role_name"),
    ("SELECT s3vl.revoke_index('I', 'R')", "42704", "no grant"),
]


@pytest.mark.parametrize(("statement", "sqlstate", "fragment"), BAD_ARGUMENTS)
def test_every_bad_argument_is_refused_and_changes_nothing(db: psycopg.Connection[Any],
                                                           tenants: Tenants, statement: str,
                                                           sqlstate: str, fragment: str) -> None:
    before = _admin_state(db)
    sql = statement.replace("'I'", "%(i)s").replace("'R'", "%(r)s")
    with pytest.raises(psycopg.Error) as caught:
        db.execute(sql, {"i": tenants.index, "r": tenants.roles["a"]})
    err = caught.value
    text = " ".join(filter(None, [err.diag.message_primary, err.diag.message_detail]))
    assert err.sqlstate == sqlstate, text
    assert fragment in text, text
    assert _admin_state(db) == before


@pytest.mark.parametrize("group", ["s3vl_reader", "s3vl_writer"])
@pytest.mark.parametrize("statement", [
    "SELECT s3vl.create_policy(%(i)s, %(r)s, '{\"tenant\": \"b\"}')",
    "SELECT s3vl.drop_policy(%(i)s, %(r)s)",
    "SELECT * FROM s3vl.list_policies()",
    "SELECT s3vl.grant_index(%(i)s, %(r)s)",
    "SELECT s3vl.revoke_index(%(i)s, %(r)s)",
    "SELECT * FROM s3vl.index_policies",
    "DELETE FROM s3vl.index_policies",
    "INSERT INTO s3vl.index_grants VALUES (%(i)s, 'x', %(r)s::regrole)",
])
def test_only_admins_manage_policies(db: psycopg.Connection[Any], tenants: Tenants, group: str,
                                     statement: str) -> None:
    before = _admin_state(db)
    member = f"pol_m_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{member}" IN ROLE {group}')
    try:
        db.execute(f'SET ROLE "{member}"')
        with pytest.raises(psycopg.Error) as caught:
            db.execute(statement, {"i": tenants.index, "r": tenants.roles["a"]})
        assert caught.value.sqlstate == "42501"
    finally:
        db.execute("RESET ROLE")
        db.execute(f'DROP ROLE "{member}"')
    assert _admin_state(db) == before


def test_an_admin_manages_policies_without_table_privileges(db: psycopg.Connection[Any],
                                                            tenants: Tenants) -> None:
    admin = f"pol_admin_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{admin}" IN ROLE s3vl_admin')
    try:
        db.execute(f'SET ROLE "{admin}"')
        db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": {\"$in\": [\"a\", "
                   "{\"$setting\": \"app.other\"}]}}')", (tenants.index, tenants.roles["a"]))
        db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        assert (tenants.index, tenants.roles["a"]) in [
            r[:2] for r in db.execute("SELECT * FROM s3vl.list_policies()").fetchall()]
        db.execute("SELECT s3vl.revoke_index(%s, %s)", (tenants.index, tenants.roles["a"]))
        db.execute("SELECT s3vl.drop_policy(%s, %s)", (tenants.index, tenants.roles["a"]))
        assert tenants.roles["a"] not in [
            r[1] for r in db.execute("SELECT * FROM s3vl.list_policies() WHERE index_name = %s",
                                     (tenants.index,)).fetchall()]
    finally:
        db.execute("RESET ROLE")
        db.execute(f'DROP ROLE "{admin}"')


def test_set_role_does_not_escape_the_login_roles_policy(tenants: Tenants,
                                                         local_stack: Any) -> None:
    """Logged in as tenant a's app role, SET ROLE to an unbound group it belongs to
    (s3vl_writer) still sees only tenant a: the login role's policy binds the session."""
    dsn = local_stack.dsn.replace("postgres@", f"{tenants.logins['a']}@", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (tenants.logins["a"],)
        own = {k for k in VECTORS if k.startswith("a-")}
        sql = "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)"
        assert keys(conn, sql, (Q, tenants.index)) == own
        conn.execute("SET ROLE s3vl_writer")
        assert keys(conn, sql, (Q, tenants.index)) == own
        assert keys(conn, "SELECT vector_id FROM s3vl.get_vectors(%s, %s) WHERE found",
                    (list(VECTORS), tenants.index)) == own


def test_event_writes_and_admins(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    as_tenant(db, tenants, "a")
    expect_error(db, "SELECT s3vl.put_vectors(index_name => %s, vectors => '[{\"key\": \"e-1\", "
                     "\"data\": [1, 0, 1], "
                 "\"metadata\": {\"tenant\": \"b\"}}]', invocation_type => 'Event')",
                 [tenants.index], "42501",
                 "e-1")
    db.execute("RESET ROLE")
    db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, tenants.roles["a"]))
    admin = f"pol_admin_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{admin}" IN ROLE s3vl_admin')
    try:
        db.execute(f'SET ROLE "{admin}"')  # no grant, but s3vl_admin; bound by no policy
        assert keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)",
                    (Q, tenants.index)) == set(VECTORS)
    finally:
        db.execute("RESET ROLE")
        db.execute(f'DROP ROLE "{admin}"')


def test_a_dropped_roles_rows_bind_nobody_and_can_be_removed(db: psycopg.Connection[Any],
                                                             tenants: Tenants) -> None:
    gone = f"pol_gone_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{gone}" IN ROLE s3vl_reader')
    db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": \"z\"}')", (tenants.index, gone))
    db.execute("SELECT s3vl.grant_index(%s, %s)", (tenants.index, gone))
    oid = db.execute("SELECT oid::text FROM pg_roles WHERE rolname = %s", (gone,)).fetchone()
    assert oid is not None
    db.execute(f'DROP ROLE "{gone}"')
    assert (oid[0], {"tenant": "z"}) in db.execute(
        "SELECT role_name, metadata_filter FROM s3vl.list_policies() WHERE index_name = %s",
        (tenants.index,)).fetchall()
    as_tenant(db, tenants, "a")  # not granted (only the dropped role is): refused
    expect_error(db, "SELECT * FROM s3vl.query_vectors(%s::float8[], %s)", [Q, tenants.index],
                 "42501", "no grant")
    db.execute("RESET ROLE")
    assert len(keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, "
                    "top_k => 20)", (Q, tenants.index))) == 12
    db.execute("SELECT s3vl.drop_policy(%s, %s)", (tenants.index, oid[0]))
    db.execute("SELECT s3vl.revoke_index(%s, %s)", (tenants.index, oid[0]))
    as_tenant(db, tenants, "a")
    assert keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, top_k => 20)",
                (Q, tenants.index)) == A_KEYS


def test_bound_callers_fail_closed(db: psycopg.Connection[Any], tenants: Tenants) -> None:
    """Operations the policy layer does not filter are refused for a bound caller: index
    administration by an admin who is also a tenant, and a request naming the index by bucket and
    name (a protocol form s3vl's SQL never sends; reached here through a temporary grant)."""
    admin = f"pol_admin_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE ROLE "{admin}" IN ROLE s3vl_admin, "{tenants.roles["a"]}"')
    db.execute(f'GRANT EXECUTE ON FUNCTION s3vl._call_lambda(text, json, text) TO "{admin}"')
    try:
        db.execute(f'SET ROLE "{admin}"')
        expect_error(db, "SELECT s3vl.add_text_search(%s, 'name')", [tenants.index], "42501",
                     "not allowed for a role bound by a vector policy")
        expect_error(db, "SELECT payload FROM s3vl._call_lambda('t', %s::json, 'RequestResponse')",
                     ['{"operation": "query_vectors", "vector_bucket_name": "b", '
                      '"index_name": "i", "query_vector": [1, 0, 0]}'], "42501", "index_arn")
        # describe_index (the index's shape, no vectors) stays allowed.
        assert db.execute("SELECT dimension FROM s3vl.describe_index(%s)",
                          (tenants.index,)).fetchone() == (3,)
    finally:
        db.execute("RESET ROLE")
        db.execute(f'REVOKE EXECUTE ON FUNCTION s3vl._call_lambda(text, json, text) '
                   f'FROM "{admin}"')
        db.execute(f'DROP ROLE "{admin}"')


def test_a_large_put_checks_every_stored_key(db: psycopg.Connection[Any], tenants: Tenants,
                                             s3vectors_client: Any) -> None:
    """The stored metadata is read 100 keys per invocation: another tenant's key in the third
    hundred is still found, and nothing is written."""
    as_tenant(db, tenants, "a")
    expect_error(db, "SELECT s3vl.put_vector_arrays(index_name => %s, "
                     "vector_ids => array_agg(CASE WHEN g = 250 THEN 'b-1' "
                 "ELSE 'c-' || g END), vectors => array_agg(ARRAY[1, g, 0]::float8[]), "
                 "metadata => array_agg('{\"tenant\": \"a\"}'::jsonb)) FROM generate_series(1, "
                 "250) g",
                 [tenants.index], "42501", "b-1", "exists outside")
    assert s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["c-1", "c-249"])[
        "vectors"] == []
    assert db.execute("SELECT s3vl.put_vector_arrays(index_name => %s, "
                      "vector_ids => array_agg('c-' || g), "
                      "vectors => array_agg(ARRAY[1, g, 0]::float8[]), "
                      "metadata => array_agg('{\"tenant\": \"a\"}'"
                      "::jsonb)) FROM generate_series(1, 250) g",
                      (tenants.index,)).fetchone() == (250,)


def test_a_current_role_renamed_under_the_session_fails_closed(db: psycopg.Connection[Any],
                                                               tenants: Tenants,
                                                               local_stack: Any) -> None:
    """SET ROLE keeps the name; if the role is renamed meanwhile (here by another session), the
    name no longer says who the caller is: refused, never treated as the (superuser) login."""
    login = tenants.logins["a"]
    as_tenant(db, tenants, "a")
    with psycopg.connect(local_stack.dsn, autocommit=True) as other:
        other.execute(f'ALTER ROLE "{login}" RENAME TO "{login}_x"')
        try:
            expect_error(db, "SELECT * FROM s3vl.query_vectors(%s::float8[], %s)",
                         [Q, tenants.index], "42501", "no longer exists")
        finally:
            db.execute("RESET ROLE")
            other.execute(f'ALTER ROLE "{login}_x" RENAME TO "{login}"')


@pytest.mark.parametrize(("metadata", "policy", "admits"), [
    ({"tenant": "a"}, {"tenant": {"$eq": "a"}}, True),
    ({"tenant": ["a"]}, {"tenant": {"$eq": "a"}}, False),  # an array could match other tenants
    ({"tenant": ["a", "b"]}, {"tenant": {"$in": ["a", "b"]}}, False),
    ({"tenant": {"x": "a"}}, {"tenant": {"$eq": "a"}}, False),
    ({"tenant": "b"}, {"tenant": {"$in": ["a", "b"]}}, True),
    ({"tenant": "c"}, {"tenant": {"$in": ["a", "b"]}}, False),
    ({"n": 1.0, "tenant": "a"}, {"tenant": {"$eq": "a"}, "n": {"$eq": 1}}, True),
    ({"tenant": "a"}, {"tenant": {"$eq": "a"}, "n": {"$eq": 1}}, False),
    ({}, {"tenant": {"$eq": "a"}}, False),
])
def test_what_a_bound_role_may_write(db: psycopg.Connection[Any], metadata: Any, policy: Any,
                                     admits: bool) -> None:
    from psycopg.types.json import Jsonb

    resolved = {"$and": [{k: v} for k, v in policy.items()]}
    assert db.execute("SELECT s3vl._policy_admits(%s, %s)",
                      (Jsonb(metadata), Jsonb(resolved))).fetchone() == (admits,)


def test_a_tenant_cannot_write_into_another_tenants_view(db: psycopg.Connection[Any],
                                                         tenants: Tenants) -> None:
    """{"tenant": ["a", "b"]} matches tenant a's filter, and tenant b's too: refused."""
    as_tenant(db, tenants, "a")
    expect_error(db, "SELECT s3vl.put_vector(index_name => %s, vector_id => 'a-both', "
                     "vector => ARRAY[1, 0, 0]::float8[], "
                 "metadata => '{\"tenant\": [\"a\", \"b\"]}')", [tenants.index], "42501", "a-both")
    as_tenant(db, tenants, "b")
    assert "a-both" not in keys(db, "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], %s, "
                                "top_k => 20)", (Q, tenants.index))


def test_sync_run_by_a_bound_writer_sends_every_tracked_row(db: psycopg.Connection[Any],
                                                            tenants: Tenants,
                                                            s3vectors_client: Any) -> None:
    """Sync copies what the tracker chose (its privileges are checked at every run); a bound
    writer that runs it only chooses when, so rows of every tenant go out, none fails."""
    table = f"pol_sync_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, emb float8[], tenant text)")
    db.execute("SELECT s3vl.track_table(%s, 'k', 'emb', %s, ARRAY['tenant'])",
               (table, tenants.index))
    db.execute(f"INSERT INTO {table} VALUES ('sa-1', ARRAY[1, 0, 0], 'a'), "
               "('sb-1', ARRAY[0, 1, 0], 'b')")
    try:
        as_tenant(db, tenants, "a")
        rows = db.execute("SELECT upserted, failed FROM s3vl.sync(%s)",
                          (tenants.index,)).fetchall()
        assert rows == [(2, 0)]
        stored = s3vectors_client.get_vectors(indexArn=tenants.arn, keys=["sa-1", "sb-1"],
                                              returnMetadata=True)["vectors"]
        assert {v["key"]: v["metadata"]["tenant"] for v in stored} == {"sa-1": "a", "sb-1": "b"}
        # What it reads back is still only its own.
        assert keys(db, "SELECT vector_id FROM s3vl.get_vectors(ARRAY['sa-1', 'sb-1'], %s) "
                    "WHERE found", (tenants.index,)) == {"sa-1"}
    finally:
        db.execute("RESET ROLE")
        db.execute("SELECT s3vl.untrack_table(%s)", (table,))
        db.execute(f"DROP TABLE {table}")
