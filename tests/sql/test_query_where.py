"""s3vl.query_vectors_where (and query_table) against a canned aws_lambda that pages QueryVectors
as docs/protocol.md describes (tests/sql/canned_paged_query.sql): exact k, no candidate fetched
twice, stop early, bounded invocations, the NOTICE when bounded, caller privileges, bad arguments.

The neighbours of the canned query are keys '1'..'1000' at distance n/1000, plus a few keys that
are not integers; table where_items has ids 1..1000 (id % 7 = 3 missing: orphaned vectors)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sql.sql_helpers import call_count, expect_error

pytestmark = pytest.mark.stack

PAGED_SQL = Path(__file__).with_name("canned_paged_query.sql")
Q = [1.0, 0.0, 0.0]
N = 1000
ODD_KEYS = {"x-5": 0.0045, "9999999999999": 0.0095}  # not an integer / out of its range


def present(i: int) -> bool:
    return i % 7 != 3


@pytest.fixture
def paged(canned: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """The canned database with the paged QueryVectors mimic, neighbours and where_items."""
    canned.execute(PAGED_SQL.read_text().encode())
    canned.execute("INSERT INTO canned.neighbours SELECT g::text, g / 1000.0, "
                   f"jsonb_build_object('even', g % 2 = 0) FROM generate_series(1, {N}) g")
    for key, distance in ODD_KEYS.items():
        canned.execute("INSERT INTO canned.neighbours VALUES (%s, %s)", (key, distance))
    canned.execute("CREATE TABLE where_items (id integer PRIMARY KEY, stock integer, "
                   "price numeric, tenant text)")
    canned.execute("INSERT INTO where_items SELECT g, g % 3, g * 2, CASE WHEN g % 2 = 0 "
                   f"THEN 'acme' ELSE 'other' END FROM generate_series(1, {N}) g "
                   "WHERE g % 7 <> 3")
    canned.execute("TRUNCATE canned.calls")
    yield canned


def where(conn: psycopg.Connection[Any], predicate: str | None, top_k: int = 10,
          **kw: Any) -> list[tuple[Any, ...]]:
    kw.setdefault("strategy", "iterative")  # the paged plan these tests are about
    args = ", ".join(f"{k} => %({k})s" for k in kw)
    sql = ("SELECT key, distance, similarity_score, metadata FROM s3vl.query_vectors_where("
           "%(q)s::float8[], 'where_items', 'id', %(p)s, top_k => %(k)s, index_name => 'demo'"
           + (", " + args if args else "") + ")")
    return conn.execute(sql, {"q": Q, "p": predicate, "k": top_k, **kw}).fetchall()


def expected(pass_: Any, top_k: int, limit: int = N) -> list[str]:
    return [str(i) for i in range(1, limit + 1) if present(i) and pass_(i)][:top_k]


def served(conn: psycopg.Connection[Any]) -> list[str]:
    return [r[0] for r in conn.execute("SELECT key FROM canned.served ORDER BY call_id")]


def requests(conn: psycopg.Connection[Any]) -> list[Any]:
    return [r[0] for r in conn.execute("SELECT request FROM canned.calls ORDER BY id")]


def notices(conn: psycopg.Connection[Any]) -> list[str]:
    """Each NOTICE as "message HINT: hint" (a Diagnostic is only valid inside the handler)."""
    seen: list[str] = []
    conn.add_notice_handler(
        lambda d: seen.append(f"{d.message_primary} HINT: {d.message_hint}"))
    return seen


@pytest.mark.parametrize(("predicate", "pass_"), [
    (None, lambda i: True),
    ("stock > 0", lambda i: i % 3 > 0),
    ("where_items.id % 10 = 0", lambda i: i % 10 == 0),
    ("id % 100 = 0 AND tenant = 'acme'", lambda i: i % 100 == 0),
])
def test_exactly_top_k_nearest_passing_rows(paged: Any, predicate: str | None, pass_: Any) -> None:
    rows = where(paged, predicate, 8)
    assert [r[0] for r in rows] == expected(pass_, 8)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert all(abs(r[1] + r[2] - 1) < 1e-9 for r in rows)
    assert rows[0][3] == {"even": int(rows[0][0]) % 2 == 0}


def test_a_short_query_first_then_one_wide_query_paged_to_the_end(paged: Any) -> None:
    rows = where(paged, "id % 100 = 0", 9)  # 1 %: about 900 candidates needed
    assert [r[0] for r in rows] == expected(lambda i: i % 100 == 0, 9)
    reqs = requests(paged)
    # The first query asks the service for 4 x top_k neighbours (a whole page: 100); it runs
    # dry, so the query is asked again with topK max_candidates and paged from there on.
    assert reqs[0]["top_k"] == 100 and "page_token" not in reqs[0]
    assert reqs[1]["top_k"] == 10000 and "page_token" not in reqs[1]
    assert len(reqs) >= 3
    for req in reqs[2:]:
        assert req["page_token"].startswith("tok.") and req["top_k"] == 10000
    assert len({(str(r["query_vector"]), r["index_arn"]) for r in reqs}) == 1
    # Only the short query's 100 candidates are served twice (the wide one starts with them).
    keys = served(paged)
    assert len(keys) - len(set(keys)) == 100
    # Stops in the invocation that completed the answer: the 9th passing id is 900.
    assert len(set(keys)) < 900 + 7 * 100


def test_stops_as_soon_as_top_k_qualify(paged: Any) -> None:
    rows = where(paged, "stock > 0", 10)
    assert len(rows) == 10
    assert len(requests(paged)) == 1
    assert requests(paged)[0]["max_pages"] == 1
    assert len(served(paged)) == 100  # one page, although 10000 candidates were allowed


def test_each_invocation_stays_within_the_timeout(paged: Any) -> None:
    # Only id 1000 passes, so the scan reads everything; the canned config has timeout 7 s.
    rows = where(paged, "id = 1000", 2)
    assert [r[0] for r in rows] == ["1000"]
    reqs = paged.execute("SELECT request, request_timeout_ms FROM canned.calls "
                         "ORDER BY id").fetchall()
    assert max(r[0]["max_pages"] for r in reqs) == 7
    assert {r[1] for r in reqs} == {"7000"}
    assert len(set(served(paged))) == N + len(ODD_KEYS)  # the short query's page re-read


def test_notice_when_max_candidates_bounds_the_answer(paged: Any) -> None:
    seen = notices(paged)
    rows = where(paged, "id % 100 = 0", 10, max_candidates=350)
    assert [r[0] for r in rows] == ["100", "200", "300"]
    assert len(set(served(paged))) == 350
    assert len(seen) == 1
    text = seen[0]
    assert "3 of top_k 10" in text and "350 candidates examined" in text
    assert "Raise max_candidates" in text


def test_notice_when_the_index_has_no_more(paged: Any) -> None:
    seen = notices(paged)
    rows = where(paged, "id % 100 = 0", 20)
    assert [r[0] for r in rows] == expected(lambda i: i % 100 == 0, 20)  # 9 (500 is missing)
    assert len(seen) == 1 and "all 1002 neighbours" in seen[0]
    seen.clear()
    assert len(where(paged, "stock > 0", 5)) == 5
    assert seen == []


def test_metadata_filter_is_pushed_down(paged: Any) -> None:
    rows = where(paged, "id % 5 = 0", 5, metadata_filter='{"even": true}')
    assert [r[0] for r in rows] == expected(lambda i: i % 10 == 0, 5)
    assert all(r["metadata_filter"] == {"even": True} for r in requests(paged))
    assert all(int(k) % 2 == 0 for k in served(paged))


def test_keys_that_are_not_values_of_the_key_type_never_match(paged: Any) -> None:
    rows = where(paged, "id < 12", 8)
    assert [r[0] for r in rows] == expected(lambda i: i < 12, 8)
    paged.execute("CREATE TABLE where_text (k text PRIMARY KEY)")
    paged.execute("INSERT INTO where_text VALUES ('x-5'), ('7')")
    got = paged.execute("SELECT key FROM s3vl.query_vectors_where(%s::float8[], 'where_text', "
                        "'k', top_k => 2, index_name => 'demo', strategy => 'iterative')",
                        (Q,)).fetchall()
    assert got == [("x-5",), ("7",)]


def test_odd_identifiers_are_quoted(paged: Any) -> None:
    table = '"Odd; DROP TABLE s3vl.config; --"'
    paged.execute(f'CREATE TABLE {table} ("the ""id""" integer, "price\'s" numeric)')
    paged.execute(f"INSERT INTO {table} SELECT g, g FROM generate_series(1, 50) g")
    rows = paged.execute("SELECT key FROM s3vl.query_vectors_where(%s::float8[], %s, %s, "
                         "%s, top_k => 3, index_name => 'demo', strategy => 'iterative')",
                         (Q, table, 'the "id"', '"price\'s" > 40')).fetchall()
    assert rows == [("41",), ("42",), ("43",)]
    assert paged.execute("SELECT count(*) FROM s3vl.config").fetchone() == (1,)


def test_an_older_function_without_paging_still_gives_the_answer(paged: Any) -> None:
    paged.execute("UPDATE canned.paging SET legacy = true")
    rows = where(paged, "id % 10 = 0", 5)
    assert [r[0] for r in rows] == expected(lambda i: i % 10 == 0, 5)
    assert len(requests(paged)) == 1


@pytest.fixture
def as_role(paged: Any) -> Iterator[Any]:
    made: list[str] = []

    def switch(*grants: str) -> str:
        paged.execute("RESET ROLE")
        name = f"s3vl_w_{uuid.uuid4().hex[:8]}"
        paged.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE s3vl_reader')
        made.append(name)
        for grant in grants:
            paged.execute(grant.format(role=f'"{name}"'))
        paged.execute(f'SET ROLE "{name}"')
        return name

    yield switch
    paged.execute("RESET ROLE")
    for name in made:
        paged.execute(f'DROP OWNED BY "{name}"')
        paged.execute(f'DROP ROLE "{name}"')


def calls_seen_by_owner(conn: psycopg.Connection[Any]) -> int:
    """canned.calls is the owner's; look as the owner, then become the role again."""
    role = conn.execute("SELECT current_user").fetchone()[0]
    conn.execute("RESET ROLE")
    try:
        return call_count(conn)
    finally:
        conn.execute(f'SET ROLE "{role}"')


def test_predicate_runs_with_the_callers_rights(paged: Any, as_role: Any) -> None:
    as_role("GRANT SELECT ON where_items TO {role}")
    assert len(where(paged, "stock > 0", 3)) == 3
    calls = calls_seen_by_owner(paged)
    # The s3vl owner may read s3vl.config; the caller may not, so the predicate may not either.
    expect_error(paged, "SELECT * FROM s3vl.query_vectors_where(%s::float8[], 'where_items', "
                 "'id', 'EXISTS (SELECT 1 FROM s3vl.config)', index_name => 'demo')", [Q],
                 "42501", "config")
    expect_error(paged, "SELECT * FROM s3vl.query_vectors_where(%s::float8[], 'where_items', "
                 "'id', '(SELECT count(*) FROM s3vl.index_registry) > 0', "
                 "index_name => 'demo')", [Q], "42501")
    assert calls_seen_by_owner(paged) == calls  # refused before any invocation
    paged.execute("RESET ROLE")
    definer = paged.execute(
        "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace AND "
        "p.proname IN ('query_vectors_where', '_query_where', 'query_table') AND p.prosecdef"
    ).fetchall()
    assert definer == []


def test_caller_needs_select_on_the_source(paged: Any, as_role: Any) -> None:
    as_role()
    expect_error(paged, "SELECT * FROM s3vl.query_vectors_where(%s::float8[], 'where_items', "
                 "'id', index_name => 'demo')", [Q], "42501", "where_items")
    assert calls_seen_by_owner(paged) == 0


def test_column_privileges_apply(paged: Any, as_role: Any) -> None:
    as_role("GRANT SELECT (id, stock) ON where_items TO {role}")
    assert len(where(paged, "stock > 0", 3)) == 3
    expect_error(paged, "SELECT * FROM s3vl.query_vectors_where(%s::float8[], 'where_items', "
                 "'id', 'price < 10', index_name => 'demo')", [Q], "42501")


CALL = ("SELECT * FROM s3vl.query_vectors_where(%(q)s::float8[], %(src)s, %(col)s, %(p)s, "
        "top_k => %(k)s, index_name => %(idx)s, metadata_filter => %(f)s, max_candidates => %(m)s, "
        "strategy => 'iterative')")
GOOD = {"q": Q, "src": "where_items", "col": "id", "p": None, "k": 10, "idx": "demo", "f": None,
        "m": 10000}


@pytest.mark.parametrize(("change", "sqlstate", "fragments"), [
    ({"k": 0}, "22023", ("top_k", "between 1 and 10000", "got 0")),
    ({"k": 10001}, "22023", ("top_k", "between 1 and 10000")),
    ({"k": None}, "22023", ("top_k", "NULL")),
    ({"m": 0}, "22023", ("max_candidates", "between 1 and 10000", "got 0")),
    ({"m": 10001}, "22023", ("max_candidates", "between 1 and 10000", "got 10001")),
    ({"m": None}, "22023", ("max_candidates", "NULL")),
    ({"m": 5}, "22023", ("max_candidates must be at least top_k", "5 < top_k 10")),
    ({"q": None}, "22023", ("query_vector", "non-empty array")),
    ({"q": []}, "22023", ("query_vector", "non-empty array")),
    ({"q": [1.0, 0.0]}, "22000", ("query_vector", "dimension 2", "dimension 3")),
    ({"q": [1.0, None, 0.0]}, "22023", ("query_vector", "NULL")),
    ({"q": [1.0, float("nan"), 0.0]}, "22000", ("query_vector", "finite")),
    ({"src": None}, "22023", ("source", "NULL")),
    ({"col": None}, "22023", ("key_column", "NULL")),
    ({"col": "no_such"}, "42703", ("key_column", "no_such", "where_items")),
    ({"col": "id; DROP TABLE where_items"}, "42703", ("key_column",)),
    ({"p": ""}, "22023", ("predicate", "empty")),
    ({"p": "   "}, "22023", ("predicate", "empty")),
    ({"p": "stock >"}, "42601", ()),
    ({"p": "stock + 1"}, "42804", ("boolean",)),
    ({"p": "no_column > 0"}, "42703", ("no_column",)),
    ({"idx": None}, "22023", ("index_name or index_arn",)),
    ({"idx": "nope"}, "42704", ("nope",)),
    ({"f": "[1]"}, "22023", ("metadata_filter", "JSON object")),
])
def test_bad_arguments(paged: Any, change: dict[str, Any], sqlstate: str,
                       fragments: tuple[str, ...]) -> None:
    params = {**GOOD, **change}
    expect_error(paged, CALL, params, sqlstate, *fragments)
    assert call_count(paged) == 0  # nothing invoked


def test_unknown_source_is_postgres_own_error(paged: Any) -> None:
    expect_error(paged, CALL, {**GOOD, "src": "no_such_table"}, "42P01")


def test_limits_are_listed(paged: Any) -> None:
    rows = dict((r[0], (r[1], r[2])) for r in paged.execute(
        "SELECT name, min_value, max_value FROM s3vl.limits() WHERE name IN "
        "('max_candidates', 'pages_per_call', 'page_token_length')"))
    assert rows == {"max_candidates": (1, 10000), "pages_per_call": (1, 100),
                    "page_token_length": (1, 4096)}


def test_page_helper_checks_what_readers_could_send(paged: Any, as_role: Any) -> None:
    as_role()
    arn = paged.execute("SELECT s3vl.resolve_index_arn('demo')").fetchone()[0]
    page = ("SELECT s3vl._query_page('t', %s::float8[], %s, %s, NULL, %s, %s)")
    expect_error(paged, page, [Q, arn, 100, None, 8], "22023", "max_pages", "between 1 and 7")
    expect_error(paged, page, [Q, arn, 100, None, 0], "22023", "max_pages")
    expect_error(paged, page, [Q, arn, 100, "x" * 4097, 1], "22023", "page_token", "4096")
    expect_error(paged, page, [Q, arn, 10001, None, 1], "22023", "top_k")
    expect_error(paged, page, [[1.0, 2.0], arn, 10, None, 1], "22000", "dimension")
    assert calls_seen_by_owner(paged) == 0
    first = paged.execute(page, [Q, arn, 250, None, 2]).fetchone()[0]
    assert len(first["vectors"]) == 200 and first["next_token"]
    rest = paged.execute(page, [Q, arn, 250, first["next_token"], 2]).fetchone()[0]
    assert len(rest["vectors"]) == 50 and rest["next_token"] is None
    # The canned function refuses a token sent with another query, as the service does.
    expect_error(paged, page, [Q, arn, 300, first["next_token"], 1], "22023",
                 "different query")


def test_malformed_paged_answers_are_sv007(paged: Any) -> None:
    from sql.sql_helpers import set_answer

    paged.execute("ALTER FUNCTION canned.respond(text, json, text) RENAME TO respond_paged")
    paged.execute("ALTER FUNCTION canned.respond_fixed(text, json, text) RENAME TO respond")
    set_answer(paged, "query_vectors", {"success": True, "result": {"vectors": "nope"}})
    expect_error(paged, CALL, GOOD, "SV007", "next_token")
    set_answer(paged, "query_vectors", {"success": True, "result": {
        "vectors": [{"vector_id": "1", "distance": 0.1}], "next_token": "same"}})
    # The first page hands out "same"; sending it back and getting it again would never end.
    expect_error(paged, CALL, {**GOOD, "p": "false"}, "SV007", "token")
    set_answer(paged, "query_vectors", {"success": True, "result": {
        "vectors": [], "next_token": "t2"}})
    expect_error(paged, CALL, GOOD, "SV007", "empty page")


def test_query_table_fills_k_with_a_predicate(paged: Any) -> None:
    paged.execute("CREATE TABLE where_vec_src (id integer PRIMARY KEY, emb float8[], "
                  "stock integer)")
    paged.execute("INSERT INTO where_vec_src SELECT id, ARRAY[1, 0, 0], stock FROM where_items")
    paged.execute("SELECT s3vl.track_table('where_vec_src', 'id', 'emb', 'demo')")
    paged.execute("TRUNCATE canned.calls")
    rows = paged.execute("SELECT key FROM s3vl.query_table(source => 'where_vec_src', "
                         "key_column => 'id', query_vector => %s::float8[], "
                         "top_k => 6, predicate => 'stock = 0', strategy => 'iterative')",
                         (Q,)).fetchall()
    assert [r[0] for r in rows] == expected(lambda i: i % 3 == 0, 6)
    keys = served(paged)
    assert len(keys) == len(set(keys)) == 100
    # Without a predicate: existing keys only (the orphans 3, 10, 17 ... are skipped).
    rows = paged.execute("SELECT key FROM s3vl.query_table(source => 'where_vec_src', "
                         "key_column => 'id', query_vector => %s::float8[], "
                         "top_k => 4, strategy => 'iterative')", (Q,)).fetchall()
    assert [r[0] for r in rows] == ["1", "2", "4", "5"]
    seen = notices(paged)
    rows = paged.execute("SELECT key FROM s3vl.query_table(source => 'where_vec_src', "
                         "key_column => 'id', query_vector => %s::float8[], "
                         "top_k => 4, predicate => 'id %% 100 = 0', max_candidates => 150, "
                         "strategy => 'iterative')",
                         (Q,)).fetchall()
    assert rows == [("100",)]
    assert seen[0].startswith("s3vl.query_table:") and "Raise max_candidates" in seen[0]
    expect_error(paged, "SELECT * FROM s3vl.query_table(source => 'where_vec_src', "
                        "key_column => 'id', query_vector => %s::float8[], "
                 "top_k => 4, max_candidates => 2)", [Q], "22023", "s3vl.query_table",
                                                                   "max_candidates")


PAGE_EXAMPLES = ("query_vectors_one_page", "query_vectors_next_page")


def test_page_requests_and_answers_match_the_protocol_examples(canned: Any) -> None:
    """docs/protocol.md's page-by-page examples: the request _query_page_request builds, and the
    example answer read back by _query_page through the canned aws_lambda."""
    from psycopg.types.json import Jsonb

    from sql.sql_helpers import set_answer
    from sql.test_protocol_doc import examples, without_nulls

    ex = examples()
    for name in PAGE_EXAMPLES:
        request, response = ex[name]["request"], ex[name]["response"]
        built = canned.execute(
            "SELECT s3vl._query_page_request(%s, %s::float8[], %s, %s, %s, %s, %s)",
            (request["index_arn"], request["query_vector"], request["top_k"],
             request["return_metadata"], Jsonb(request.get("metadata_filter")),
             request.get("page_token"), request.get("max_pages"))).fetchone()[0]
        assert without_nulls(built) == without_nulls(request), name
        set_answer(canned, "query_vectors", response)
        got = canned.execute("SELECT s3vl._query_page('t', %s::float8[], %s, %s, NULL, %s, %s)",
                             (request["query_vector"], request["index_arn"], request["top_k"],
                              request.get("page_token"), request["max_pages"])).fetchone()[0]
        assert got == response["result"], name


def test_page_size_is_learnt_from_the_answers(paged: Any) -> None:
    paged.execute("UPDATE canned.paging SET page_size = 50")
    rows = where(paged, "id % 100 = 0", 3)
    assert [r[0] for r in rows] == expected(lambda i: i % 100 == 0, 3)
    reqs = requests(paged)
    # 1st call: one page (50 rows, none passes); 2nd: 3 x 50 examined per row still needed,
    # i.e. 150 candidates = 3 pages of the 50 the first answer showed (not 2 of 100).
    assert [r["max_pages"] for r in reqs[:2]] == [1, 3]
    keys = served(paged)
    assert len(keys) - len(set(keys)) <= 100  # at most the short first query is read again
