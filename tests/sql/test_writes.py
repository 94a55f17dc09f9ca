"""s3vl.put_vectors / put_vector / delete_vectors through the real stack (SQL -> aws_lambda
stand-in -> local Lambda endpoint -> emulator), and every validation error before any call."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import expect_error
from sql.writes_helpers import WriteDb, wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack


def vectors_for(n: int, dim: int = 3) -> list[dict[str, Any]]:
    # Distinct directions (no all-zero vector), float32-exact values.
    return [{"key": f"k-{i:05d}",
             "data": {"float32": [1.0 + (i % 7), float(i % 13) / 4, float(i) / 8]
                      + [0.5] * (dim - 3)},
             "metadata": {"i": i, "even": i % 2 == 0}} for i in range(n)]


@pytest.mark.parametrize("n", [1, 500, 501, 5000])
def test_round_trip_put_get_query_delete(wdb: WriteDb, n: int) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    vecs = vectors_for(n)
    written = wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                               (name, Jsonb(vecs))).fetchone()
    assert written == (n,)
    assert wdb.count(arn) == n
    last = vecs[-1]
    got = wdb.conn.execute("SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors("
                           "ARRAY[%s, 'absent'], %s)", (last["key"], name)).fetchall()
    assert got[0][0] == last["key"] and got[0][3] is True
    assert got[0][1] == pytest.approx(last["data"]["float32"])
    assert got[0][2] == last["metadata"]
    assert got[1][3] is False
    top = wdb.conn.execute("SELECT vector_id, distance FROM s3vl.query_vectors(%s, "
                           "%s::float8[], 1)", (name, last["data"]["float32"])).fetchall()
    assert top[0][1] == pytest.approx(0.0, abs=1e-6)
    assert top[0][0] in {v["key"] for v in vecs}  # nearly parallel keys tie in float32
    keys = [v["key"] for v in vecs]
    deleted = wdb.conn.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => %s)",
                               (name, keys)).fetchone()
    assert deleted == (n,)
    assert wdb.count(arn) == 0


def test_plain_data_form_put_vector_and_overwrite(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    plain = [{"key": "a", "data": [0.25, 0.5, 1.0]}, {"key": "b", "data": [1, 0, 0],
                                                         "metadata": {"t": "x"}}]
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                            (name, Jsonb(plain))).fetchone() == (2,)
    assert wdb.conn.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'c', "
                            "vector => ARRAY[0.1, 0.2, 0.3]::float8[], "
                            "metadata => '{\"g\": 1}')", (name,)).fetchone() == (1,)
    # Same key again replaces the vector.
    wdb.conn.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 'a', "
                     "vector => ARRAY[3, 2, 1]::float8[])", (name,))
    rows = dict((r[0], (r[1], r[2])) for r in wdb.conn.execute(
        "SELECT vector_id, embedding, metadata FROM s3vl.get_vectors(ARRAY['a', 'b', 'c'], %s)",
        (name,)).fetchall())
    assert rows["a"] == ([3.0, 2.0, 1.0], {})
    assert rows["b"] == ([1.0, 0.0, 0.0], {"t": "x"})
    assert rows["c"][0] == pytest.approx([0.1, 0.2, 0.3], rel=1e-6) and rows["c"][1] == {"g": 1}
    assert wdb.count(arn) == 3


def test_put_by_arn_needs_a_registration_and_checks_dimension_with_get_index(
        wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index(dimension=4)
    wdb.conn.execute("SELECT s3vl.unregister_index(%s)", (name,))
    # An ARN where the index name is expected goes through the registry (docs/security.md).
    expect_error(wdb.conn, "SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                 (arn, Jsonb(vectors_for(2, dim=4))), "42704", "not registered")
    assert wdb.count(arn) == 0
    # A registration without a dimension (one left by the reference sample's schema): GetIndex.
    wdb.conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    wdb.conn.execute("UPDATE s3vl.index_registry SET dimension = NULL WHERE index_name = %s",
                     (name,))
    expect_error(wdb.conn, "SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                 (arn, Jsonb([{"key": "x", "data": [1, 2, 3]}])), "22000",
                 "vectors[0].data", "dimension 3", "dimension 4")
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                            (arn, Jsonb(vectors_for(2, dim=4)))).fetchone() == (2,)
    assert wdb.count(arn) == 2


def test_payload_over_6_mb_is_split_into_several_invocations(wdb: WriteDb) -> None:  # noqa: F811
    # 400 vectors of 1024 floats written with 17 significant digits are ~8 MB of JSON: one
    # invocation would be refused by the Lambda endpoint's 6 MB request limit.
    name, arn = wdb.new_index(dimension=1024)
    vecs = [{"key": f"big-{i}", "data": [1.0 / (3 + i + j) for j in range(1024)]}
            for i in range(400)]
    assert len(json.dumps(vecs)) > 6 * 1024 * 1024
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                            (name, Jsonb(vecs))).fetchone() == (400,)
    assert wdb.count(arn) == 400


def test_event_writes_are_queued_and_land(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    queued = wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s, "
                              "invocation_type => 'Event')",
                              (name, Jsonb(vectors_for(700)))).fetchone()
    assert queued == (700,)
    deadline = time.monotonic() + 20
    while wdb.count(arn) < 700 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wdb.count(arn) == 700
    assert wdb.conn.execute("SELECT s3vl.delete_vectors(index_name => %s, "
                            "vector_ids => ARRAY['k-00000', 'k-00001'], "
                            "invocation_type => 'Event')", (name,)).fetchone() == (2,)
    deadline = time.monotonic() + 20
    while wdb.count(arn) > 698 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wdb.count(arn) == 698


def test_delete_counts_distinct_keys(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                     (name, Jsonb(vectors_for(3))))
    assert wdb.conn.execute("SELECT s3vl.delete_vectors(index_name => %s, "
                            "vector_ids => ARRAY['k-00000', 'k-00000', "
                            "'never'])", (name,)).fetchone() == (2,)
    assert wdb.count(arn) == 2


BIG = "x" * 1500
PUT_ERRORS: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("not an array", {"key": "a"}, "22023", ("vectors must be a JSON array", "object")),
    ("element not object", [1], "22023", ("vectors[0]", "key")),
    ("missing key", [{"data": [1, 2, 3]}], "22023", ("vectors[0]", "1 to 1024")),
    ("long key", [{"key": "k" * 1025, "data": [1, 2, 3]}], "22023", ("vectors[0]", "1024")),
    ("empty key", [{"key": "", "data": [1, 2, 3]}], "22023", ("vectors[0]",)),
    ("no data", [{"key": "a"}], "22023", ("vectors[0].data", "float32")),
    ("string element", [{"key": "a", "data": [1, "2", 3]}], "22023",
     ("vectors[0].data", "element 2", "number")),
    ("float32 overflow", [{"key": "a", "data": [1, 1e39, 3]}], "22000",
     ("vectors[0].data", "finite float32")),
    ("dimension", [{"key": "ok", "data": [1, 2, 3]}, {"key": "a", "data": [1, 2]}], "22000",
     ("vectors[1].data", "dimension 2", "dimension 3")),
    ("all zero cosine", [{"key": "a", "data": [0, 0, 0]}], "22023", ("all zeros", "cosine")),
    ("metadata not object", [{"key": "a", "data": [1, 2, 3], "metadata": [1]}], "22023",
     ("vectors[0].metadata", "JSON object")),
    ("too many metadata keys",
     [{"key": "a", "data": [1, 2, 3], "metadata": {f"m{i}": i for i in range(51)}}], "22023",
     ("51 keys", "at most 50")),
    ("metadata over 40 KB",
     [{"key": "a", "data": [1, 2, 3], "metadata": {"body": "y" * 41000}}], "22023",
     ("vectors[0].metadata", "at most 40960 bytes")),
    ("filterable over 2 KB",
     [{"key": "a", "data": [1, 2, 3], "metadata": {"title": BIG, "tag": BIG}}], "22023",
     ("filterable metadata", "at most 2048 bytes", "non-filterable")),
    ("duplicate key", [{"key": "a", "data": [1, 2, 3]}, {"key": "b", "data": [1, 2, 3]},
                       {"key": "a", "data": [3, 2, 1]}], "22023",
     ("vectors[2]", "\"a\"", "vectors[0]", "unique")),
]


@pytest.mark.parametrize("label,vectors,sqlstate,fragments", PUT_ERRORS,
                         ids=[e[0] for e in PUT_ERRORS])
def test_put_validation_errors_write_nothing(wdb: WriteDb, label: str, vectors: Any,  # noqa: F811
                                             sqlstate: str, fragments: tuple[str, ...]) -> None:
    name, arn = wdb.new_index(non_filterable=["body"])
    # A valid vector first: a bad one later in the same call must stop the whole call.
    if isinstance(vectors, list) and label != "element not object":
        vectors = [{"key": "good-first", "data": [0.5, 0.5, 0.5]}, *vectors]
        fragments = tuple(f.replace("vectors[0]", "vectors[1]").replace("vectors[2]", "vectors[3]")
                          .replace("vectors[1].data", "vectors[2].data")
                          if label in {"dimension", "duplicate key"} else
                          f.replace("vectors[0]", "vectors[1]") for f in fragments)
    expect_error(wdb.conn, "SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                           (name, Jsonb(vectors)), sqlstate,
                 "s3vl.put_vectors", *fragments)
    assert wdb.count(arn) == 0


def test_non_filterable_key_may_exceed_2_kb(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index(non_filterable=["body"])
    vec = [{"key": "a", "data": [1, 2, 3], "metadata": {"body": "z" * 30000, "tag": "t"}}]
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s)",
                            (name, Jsonb(vec))).fetchone() == (1,)
    assert wdb.count(arn) == 1


def test_other_argument_errors(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    one = Jsonb([{"key": "a", "data": [1, 2, 3]}])
    expect_error(wdb.conn, "SELECT s3vl.put_vectors(index_name => %s, vectors => %s, "
                           "invocation_type => 'DryRun')", (name, one), "22023",
                 "invocation_type", "Event")
    expect_error(wdb.conn, "SELECT s3vl.put_vectors(index_name => 'no-such-index', vectors => %s)",
                           (one,), "42704",
                 "no-such-index")
    expect_error(wdb.conn, "SELECT s3vl.put_vector(index_name => %s, vector_id => 'a', "
                           "vector => ARRAY[1, 'NaN', 3]::float8[])",
                 (name,), "22000", "vector", "finite")
    expect_error(wdb.conn, "SELECT s3vl.put_vector(index_name => %s, vector_id => NULL, "
                           "vector => ARRAY[1, 2, 3]::float8[])",
                 (name,), "22023", "s3vl.put_vector: vector_id")
    expect_error(wdb.conn, "SELECT s3vl.delete_vectors(index_name => %s, "
                           "vector_ids => ARRAY[]::text[])", (name,), "22023",
                 "keys", "non-empty")
    expect_error(wdb.conn, "SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['a', "
                           "NULL])", (name,), "22023",
                 "vector_ids element 2", "1 to 1024")
    expect_error(wdb.conn, "SELECT s3vl.delete_vectors(index_name => %s, "
                           "vector_ids => ARRAY[repeat('k', 1025)])", (name,),
                 "22023", "vector_ids element 1", "1025 characters")
    assert wdb.count(arn) == 0
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => '[]')",
                            (name,)).fetchone() == (0,)


def test_compact_json_size_matches_python(wdb: WriteDb) -> None:  # noqa: F811
    for value in [{"a": 1, "b": [1, 2, {"c": "x, y: z"}]}, {"q": "say \"hi\", ok: \\"},
                  {"é": "ünïcode", "n": None, "t": True}]:
        expected = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                  sort_keys=True).encode())
        got = wdb.conn.execute("SELECT s3vl._compact_json_bytes(%s)", (Jsonb(value),)).fetchone()
        assert got == (expected,), value


def test_writes_are_granted_to_writer_not_reader(wdb: WriteDb) -> None:  # noqa: F811
    for signature in ["s3vl.put_vectors(jsonb, text, text)",
                      "s3vl.put_vector(text, float8[], text, jsonb)",
                      "s3vl.delete_vectors(text[], text, text)"]:
        row = wdb.conn.execute("SELECT has_function_privilege('s3vl_reader', %s, 'EXECUTE'), "
                               "has_function_privilege('s3vl_writer', %s, 'EXECUTE')",
                               (signature, signature)).fetchone()
        assert row == (False, True), signature


def test_event_payloads_stay_under_the_1_mb_async_limit(wdb: WriteDb) -> None:  # noqa: F811
    # ~4 MB of vectors: one Event invocation would be refused by the endpoint (1 MB async limit).
    name, arn = wdb.new_index(dimension=1024)
    vecs = [{"key": f"ev-{i}", "data": [1.0 / (7 + i + j) for j in range(1024)]}
            for i in range(200)]
    assert len(json.dumps(vecs)) > 3 * 1024 * 1024
    assert wdb.conn.execute("SELECT s3vl.put_vectors(index_name => %s, vectors => %s, "
                            "invocation_type => 'Event')",
                            (name, Jsonb(vecs))).fetchone() == (200,)
    deadline = time.monotonic() + 30
    while wdb.count(arn) < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wdb.count(arn) == 200
