"""count_vectors, list_vectors_where, delete_vectors_where and update_metadata
(sql/30_api/70_manage.sql) through the real stack: results against what was loaded, progress
notices, refusals, an interrupted delete finished by a rerun, patches that keep the vector data,
and policy-bound roles on each function."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import expect_error, sql_message

pytestmark = pytest.mark.stack

N = 60


def meta(i: int) -> dict[str, Any]:
    return {"tenant": "a" if i % 2 == 0 else "b", "n": i, "tags": ["all", f"t{i % 3}"]}


class Managed:
    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn


@pytest.fixture
def managed(db: psycopg.Connection[Any], s3vectors_client: Any, local_stack: Any
            ) -> Iterator[Managed]:
    name = f"mng-{uuid.uuid4().hex[:8]}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=name,
                                  dataType="float32", dimension=3, distanceMetric="cosine",
                                  metadataConfiguration={"nonFilterableMetadataKeys": ["body"]})
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + name
    s3vectors_client.put_vectors(indexArn=arn, vectors=[
        {"key": f"v{i:02d}", "data": {"float32": [1.0, float(i), 0.5]}, "metadata": meta(i)}
        for i in range(N)])
    db.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    yield Managed(name, arn)
    db.execute("RESET ROLE")
    db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (name,))
    db.execute("SELECT s3vl.unregister_index(%s)", (name,))
    s3vectors_client.delete_index(indexArn=arn)


def stored(client: Any, arn: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = client.list_vectors(indexArn=arn, returnMetadata=True, returnData=True, **kwargs)
        out.update({v["key"]: v for v in page["vectors"]})
        if not page.get("nextToken"):
            return out
        kwargs = {"nextToken": page["nextToken"]}


def count(db: psycopg.Connection[Any], index: str, f: Any = None) -> int:
    row = db.execute("SELECT s3vl.count_vectors(%s, %s)",
                     (index, None if f is None else Jsonb(f))).fetchone()
    assert row is not None
    return int(row[0])


def test_count_and_list_match_the_filter(db: psycopg.Connection[Any], managed: Managed) -> None:
    assert count(db, managed.name) == N
    assert count(db, managed.name, {"tenant": "a", "n": {"$gte": 40}}) == 10
    assert count(db, managed.name, {"$or": [{"tags": "t0"}, {"n": {"$in": [1, 2]}}]}) == 22
    assert count(db, managed.name, {"missing": {"$exists": True}}) == 0
    rows = db.execute("SELECT vector_id, metadata FROM s3vl.list_vectors_where(%s, %s)",
                      (managed.name, Jsonb({"n": {"$lt": 5}}))).fetchall()
    assert sorted(rows) == [(f"v{i:02d}", meta(i)) for i in range(5)]
    rows = db.execute("SELECT vector_id, metadata FROM s3vl.list_vectors_where(%s, NULL, false)",
                      (managed.name,)).fetchall()
    assert len(rows) == N and {m for _, m in rows} == {None}


def test_bad_filters_are_refused(db: psycopg.Connection[Any], managed: Managed) -> None:
    expect_error(db, "SELECT s3vl.count_vectors(%s, '{}')", (managed.name,), "22023",
                 "s3vl.count_vectors: metadata_filter must not be an empty object")
    expect_error(db, "SELECT s3vl.count_vectors(%s, '[1]')", (managed.name,), "22023",
                 "s3vl.count_vectors: metadata_filter must be a JSON object")
    expect_error(db, "SELECT s3vl.count_vectors(%s, '{\"body\": \"x\"}')", (managed.name,),
                 "22023", "non-filterable")
    expect_error(db, "SELECT * FROM s3vl.list_vectors_where(%s, '{\"n\": {\"$gt\": \"1\"}}')",
                 (managed.name,), "22023", "s3vl.list_vectors_where: metadata_filter", "number")
    expect_error(db, "SELECT s3vl.count_vectors('nope-index')", None, "42704", "not registered")


def test_delete_needs_a_filter_or_delete_all(db: psycopg.Connection[Any],
                                             managed: Managed) -> None:
    for f in (None, "{}"):
        expect_error(db, "SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                     (managed.name, f), "22023", "metadata_filter is required", "delete_all")
    expect_error(db, "SELECT s3vl.delete_vectors_where(%s, '{\"n\": 1}', delete_all => true)",
                 (managed.name,), "22023", "not both")
    assert count(db, managed.name) == N  # nothing deleted
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, NULL, delete_all => true)",
                      (managed.name,)).fetchone() == (N,)  # dry run by default: counts
    assert count(db, managed.name) == N


def test_dry_run_then_delete(db: psycopg.Connection[Any], managed: Managed,
                             s3vectors_client: Any) -> None:
    f = Jsonb({"tenant": "b", "n": {"$lt": 30}})
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, %s)",
                      (managed.name, f)).fetchone() == (15,)
    assert len(stored(s3vectors_client, managed.arn)) == N
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                      (managed.name, f)).fetchone() == (15,)
    left = stored(s3vectors_client, managed.arn)
    assert set(left) == {f"v{i:02d}" for i in range(N) if i % 2 == 0 or i >= 30}
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                      (managed.name, f)).fetchone() == (0,)


def test_long_work_reports_progress(db: psycopg.Connection[Any], managed: Managed,
                                    local_stack: Any) -> None:
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    # 12 pages of 5 at 60 ms each cannot fit one invocation's 100 ms budget.
    _faults(local_stack, {"latency_ms": 60, "operations": ["ListVectors"]})
    try:
        answers = db.execute(
            "SELECT count(*), sum((a ->> 'matched')::int) FROM s3vl._vectors_where("
            "'s3vl.count_vectors', %s, 'count', '{\"tenant\": \"a\"}', false, 1, 5, 100) a",
            (managed.arn,)).fetchone()
    finally:
        _faults(local_stack, None)
    assert answers is not None and answers[1] == N // 2
    assert answers[0] >= 2 and len(notices) == answers[0] - 1  # one per invocation with work left
    assert all(n.startswith("s3vl.count_vectors: ") and "vectors/s so far" in n for n in notices)


def _faults(local_stack: Any, config: dict[str, Any] | None) -> None:
    url = f"{local_stack.s3vectors_endpoint}/_s3vl/faults"
    body = None if config is None else json.dumps(config).encode()
    request = urllib.request.Request(url, data=body, method="DELETE" if config is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_interrupted_delete_is_finished_by_a_rerun(db: psycopg.Connection[Any], managed: Managed,
                                                  s3vectors_client: Any, local_stack: Any
                                                  ) -> None:
    f = {"tenant": "a"}
    _faults(local_stack, {"latency_ms": 250, "operations": ["DeleteVectors"]})
    try:
        db.execute("SET statement_timeout = '1500ms'")
        # Small pages (5 vectors, one delete call of ~250 ms each): many invocations to cut into.
        expect_error(db, "SELECT count(*) FROM s3vl._vectors_where('s3vl.delete_vectors_where', "
                         "%s, 'delete', %s, false, 1, 5, 100)", (managed.arn, Jsonb(f)), "57014")
    finally:
        db.execute("RESET statement_timeout")
        _faults(local_stack, None)
    time.sleep(1.0)  # the invocation in flight when SQL gave up finishes in the function
    left_a = {k for k, v in stored(s3vectors_client, managed.arn).items()
              if v["metadata"]["tenant"] == "a"}
    assert 0 < len(left_a) < N // 2, "the first run must have been cut short midway"
    assert db.execute("SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                      (managed.name, Jsonb(f))).fetchone() == (len(left_a),)
    left = stored(s3vectors_client, managed.arn)
    assert set(left) == {f"v{i:02d}" for i in range(1, N, 2)}  # tenant b untouched


def test_update_metadata_patches_and_keeps_data(db: psycopg.Connection[Any], managed: Managed,
                                                s3vectors_client: Any) -> None:
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    before = stored(s3vectors_client, managed.arn)
    assert db.execute("SELECT s3vl.update_metadata(index_name => %s, vector_ids => %s, "
                      "patch => %s)",
                      (managed.name, ["v01", "v02", "v01", "ghost"],
                       Jsonb({"n": None, "tags": ["x"], "reviewed": True}))).fetchone() == (2,)
    assert any("1 of the vector_ids are not in the index" in n and "ghost" in n for n in notices)
    after = stored(s3vectors_client, managed.arn)
    assert after["v01"]["metadata"] == {"tenant": "b", "tags": ["x"], "reviewed": True}
    assert after["v01"]["data"] == before["v01"]["data"]
    assert after["v03"] == before["v03"]
    assert "ghost" not in after


def test_update_metadata_limits_write_nothing(db: psycopg.Connection[Any], managed: Managed,
                                              s3vectors_client: Any) -> None:
    before = stored(s3vectors_client, managed.arn)
    expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, vector_ids => %s, patch => %s)",
                 (managed.name, ["v01", "v02"], Jsonb({"big": "x" * 2100})), "22023",
                 "s3vl.update_metadata: patch: applied to vector", "2048 bytes")
    expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, vector_ids => %s, patch => %s)",
                 (managed.name, ["v01"], Jsonb({f"k{i}": 1 for i in range(48)})), "22023",
                 "at most 50")
    expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, vector_ids => %s, "
                     "patch => '[1]')", (managed.name, ["v01"]),
                 "22023", "patch must be a JSON object")
    expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, vector_ids => ARRAY['v01', "
                     "NULL], patch => '{}')",
                 (managed.name,), "22023", "vector_ids element 2")
    assert stored(s3vectors_client, managed.arn) == before


def bound_roles(db: psycopg.Connection[Any], managed: Managed) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    roles = {"reader": f"mng_reader_{suffix}", "writer": f"mng_writer_{suffix}"}
    db.execute(f'CREATE ROLE "{roles["reader"]}" NOLOGIN IN ROLE s3vl_reader')
    db.execute(f'CREATE ROLE "{roles["writer"]}" NOLOGIN IN ROLE s3vl_writer')
    for role in roles.values():
        db.execute("SELECT s3vl.create_policy(%s, %s, '{\"tenant\": \"a\"}')",
                   (managed.name, role))
    return roles


def drop_roles(db: psycopg.Connection[Any], managed: Managed, roles: dict[str, str]) -> None:
    db.execute("RESET ROLE")
    db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (managed.name,))
    for role in roles.values():
        db.execute(f'DROP ROLE "{role}"')


def test_bound_roles_count_list_delete_and_patch_only_their_vectors(
        db: psycopg.Connection[Any], managed: Managed, s3vectors_client: Any) -> None:
    roles = bound_roles(db, managed)
    try:
        db.execute(f'SET ROLE "{roles["reader"]}"')
        assert count(db, managed.name) == N // 2
        assert count(db, managed.name, {"tenant": "b"}) == 0  # cannot widen the filter
        ids = {r[0] for r in db.execute("SELECT vector_id FROM s3vl.list_vectors_where(%s, NULL)",
                                        (managed.name,)).fetchall()}
        assert ids == {f"v{i:02d}" for i in range(0, N, 2)}
        expect_error(db, "SELECT s3vl.delete_vectors_where(%s, '{\"n\": 1}')", (managed.name,),
                     "42501")  # readers do not delete
        expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, "
                         "vector_ids => ARRAY['v00'], patch => '{\"x\": 1}')",
                     (managed.name,), "42501")
        db.execute(f'RESET ROLE; SET ROLE "{roles["writer"]}"')
        expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, "
                         "vector_ids => ARRAY['v01'], patch => '{\"x\": 1}')",
                     (managed.name,), "42501", "outside this role's policy")
        expect_error(db, "SELECT s3vl.update_metadata(index_name => %s, "
                         "vector_ids => ARRAY['v00'], patch => '{\"tenant\": \"b\"}')",
                     (managed.name,), "42501", "policy binds")
        assert db.execute("SELECT s3vl.update_metadata(index_name => %s, "
                          "vector_ids => ARRAY['v00'], patch => '{\"x\": 1}')",
                          (managed.name,)).fetchone() == (1,)
        assert db.execute("SELECT s3vl.delete_vectors_where(%s, NULL, dry_run => false, "
                          "delete_all => true)", (managed.name,)).fetchone() == (N // 2,)
    finally:
        drop_roles(db, managed, roles)
    left = stored(s3vectors_client, managed.arn)
    assert set(left) == {f"v{i:02d}" for i in range(1, N, 2)}  # tenant b's all kept


def test_protocol_example_answers_become_results(canned: psycopg.Connection[Any]) -> None:
    """The docs/protocol.md answers, given back by a canned function, read as the doc says."""
    from sql.sql_helpers import last_request, set_answer
    from sql.test_protocol_doc import concrete, examples

    ex = examples()
    set_answer(canned, "filter_vectors", concrete(ex["filter_vectors_count"]["response"]))
    assert canned.execute("SELECT s3vl.count_vectors('demo', '{\"genre\": \"news\"}')"
                          ).fetchone() == (1,)
    request = last_request(canned)
    assert request["operation"] == "filter_vectors" and request["action"] == "count"
    assert request["metadata_filter"] == {"genre": "news"} and request["resume_token"] is None
    assert request["time_budget_ms"] == 7 * 1000 // 3  # a third of timeout_seconds (7 here)
    set_answer(canned, "filter_vectors", concrete(ex["filter_vectors_delete"]["response"]))
    assert canned.execute("SELECT s3vl.delete_vectors_where('demo', '{\"genre\": \"sport\"}', "
                          "dry_run => false)").fetchone() == (1,)
    assert last_request(canned)["action"] == "delete"
    listed = concrete(ex["filter_vectors_list_resumed"]["response"])
    listed["result"]["resume_token"] = None  # the canned function answers the same every time
    set_answer(canned, "filter_vectors", listed)
    rows = canned.execute("SELECT vector_id, metadata FROM s3vl.list_vectors_where('demo', "
                          "'{\"genre\": \"news\"}')").fetchall()
    assert rows == [("doc-1", {"genre": "news", "year": 2024}),
                    ("doc-2", {"genre": "news", "year": 2023})]
    set_answer(canned, "update_metadata", concrete(ex["update_metadata"]["response"]))
    assert canned.execute("SELECT s3vl.update_metadata(index_name => 'demo', "
                          "vector_ids => ARRAY['doc-1', 'doc-9'], "
                          "patch => '{\"year\": null}')").fetchone() == (1,)
    assert last_request(canned) == {**ex["update_metadata"]["request"], "patch": {"year": None},
                                    "index_arn": last_request(canned)["index_arn"]}
    for name, statement in (
            ("error_filter_vectors_bad_filter",
             "SELECT s3vl.count_vectors('demo', '{\"body\": {\"$exists\": true}}')"),
            ("error_update_metadata_too_many_keys",
             "SELECT s3vl.update_metadata(index_name => 'demo', vector_ids => ARRAY['doc-1'], "
             "patch => '{\"k\": 1}')")):
        operation = ex[name]["request"]["operation"]
        set_answer(canned, operation, concrete(ex[name]["response"]))
        expect_error(canned, statement, None, "22023",
                     f"s3vl.{statement.split('s3vl.')[1].split('(')[0]}: ",
                     sql_message(ex[name]["response"]["error"]))


NEW_FUNCTIONS = {
    "count_vectors": "s3vl.count_vectors(text, jsonb)",
    "list_vectors_where": "s3vl.list_vectors_where(text, jsonb, boolean)",
    "delete_vectors_where": "s3vl.delete_vectors_where(text, jsonb, boolean, boolean)",
    "update_metadata": "s3vl.update_metadata(text[], jsonb, text)",
}


def test_each_new_function_has_the_grant_the_docs_give(db: psycopg.Connection[Any]) -> None:
    from sql.sql_helpers import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "sql-reference.md").read_text().split("## Privileges", 1)[1]
    table = {line.split("|")[1].strip(" `"): line.split("|")[2]
             for line in doc.split("\n## ", 1)[0].splitlines() if line.startswith("| `s3vl_")}
    roles = ["s3vl_reader", "s3vl_writer", "s3vl_admin"]
    for name, signature in NEW_FUNCTIONS.items():
        (listed,) = [r for r in roles if f"`{name}`" in table[r]]
        for role in roles:
            allowed = db.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')",
                                 (role, signature)).fetchone()
            assert allowed == (roles.index(role) >= roles.index(listed),), (name, role)
        assert db.execute("SELECT has_function_privilege('public', %s, 'EXECUTE'), "
                          "obj_description(%s::regprocedure, 'pg_proc') LIKE 's3vl: %%'",
                          (signature, signature)).fetchone() == (False, True)


def test_update_metadata_ids_per_invocation_is_one_number(db: psycopg.Connection[Any]) -> None:
    """SQL sends invocation_items ids per update_metadata request: the function's limit."""
    from s3vl_lambda import limits

    assert db.execute("SELECT s3vl._limit('invocation_items')").fetchone() == (
        limits.MAX_UPDATE_IDS,)


def test_deletes_and_patches_drop_the_index_s_cached_answers(db: psycopg.Connection[Any],
                                                              managed: Managed) -> None:
    query = ("SELECT vector_id, metadata FROM s3vl.query_vectors(ARRAY[1, 0, 0.5]::float8[], "
             "%s, top_k => 3)")
    db.execute("SELECT s3vl.set_cache(%s, '1 hour')", (managed.name,))
    try:
        first = db.execute(query, (managed.name,)).fetchall()
        nearest = first[0][0]
        assert db.execute(query, (managed.name,)).fetchall() == first  # from the cache now
        db.execute("SELECT s3vl.update_metadata(index_name => %s, vector_ids => ARRAY[%s], "
                   "patch => '{\"seen\": true}')",
                   (managed.name, nearest))
        patched = dict(db.execute(query, (managed.name,)).fetchall())
        assert patched[nearest]["seen"] is True
        db.execute("SELECT s3vl.delete_vectors_where(%s, %s, dry_run => false)",
                   (managed.name, Jsonb({"seen": True})))
        assert nearest not in dict(db.execute(query, (managed.name,)).fetchall())
    finally:
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (managed.name,))
