"""s3vl.put_vector_arrays: writes from parallel arrays (keys, 2-D float8[] vectors, jsonb[]
metadata) through the real stack, and every validation error before any call."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from psycopg.types.json import Jsonb

from sql.sql_helpers import expect_error
from sql.writes_helpers import WriteDb, wdb  # noqa: F401  (fixture)

pytestmark = pytest.mark.stack

PUT = ("SELECT s3vl.put_vector_arrays(index_name => %s, vector_ids => %s, vectors => %s::float8[], "
       "metadata => %s::jsonb[])")


def rows_for(n: int, dim: int = 3) -> tuple[list[str], list[list[float]], list[Jsonb]]:
    rng = np.random.default_rng(n)
    vectors = rng.uniform(-1, 1, (n, dim)).tolist()
    return ([f"a-{i:05d}" for i in range(n)], vectors,
            [Jsonb({"i": i, "even": i % 2 == 0}) for i in range(n)])


def stored(wdb: WriteDb, arn: str, keys: list[str]) -> dict[str, Any]:  # noqa: F811
    out: dict[str, Any] = {}
    for start in range(0, len(keys), 100):
        page = wdb.client.get_vectors(indexArn=arn, keys=keys[start:start + 100],
                                      returnData=True, returnMetadata=True)["vectors"]
        out.update({v["key"]: v for v in page})
    return out


@pytest.mark.parametrize("n", [1, 500, 501, 5000])
def test_round_trip_float32_exact(wdb: WriteDb, n: int) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    keys, vectors, metadata = rows_for(n)
    assert wdb.conn.execute(PUT, (name, keys, vectors, metadata)).fetchone() == (n,)
    assert wdb.count(arn) == n
    sample = [keys[0], keys[n // 2], keys[-1]]
    got = stored(wdb, arn, sample)
    for key in sample:
        i = keys.index(key)
        # The numbers travel as float32 text: S3 Vectors keeps exactly float32(x).
        assert got[key]["data"]["float32"] == [float(np.float32(x)) for x in vectors[i]]
        assert got[key]["metadata"] == {"i": i, "even": i % 2 == 0}
    top = wdb.conn.execute("SELECT vector_id FROM s3vl.query_vectors(%s, %s::float8[], 1)",
                           (name, vectors[-1])).fetchone()
    assert top == (keys[-1],)


def test_from_a_table_with_array_agg_and_no_metadata(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index(dimension=4, metric="euclidean")
    wdb.conn.execute("CREATE TEMP TABLE docs AS SELECT g AS id, ARRAY[g, g / 2.0, 0, -g]::float8[] "
                     "AS emb FROM generate_series(1, 1200) g")
    try:
        written = wdb.conn.execute(
            "SELECT s3vl.put_vector_arrays(index_name => %s, "
            "vector_ids => array_agg(id::text ORDER BY id), "
            "vectors => array_agg(emb ORDER BY id)) FROM docs", (name,)).fetchone()
    finally:
        wdb.conn.execute("DROP TABLE docs")
    assert written == (1200,)
    got = stored(wdb, arn, ["7", "1200"])
    assert got["7"]["data"]["float32"] == [7.0, 3.5, 0.0, -7.0]
    assert got["1200"]["metadata"] == {}


def test_extra_float_digits_of_the_session_changes_nothing(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    vectors = [[0.1, 1 / 3, 2.0 ** -20], [123456.789, -1e-30, 3.0]]
    wdb.conn.execute("SET extra_float_digits = -10")
    try:
        wdb.conn.execute(PUT, (name, ["p", "q"], vectors, None))
    finally:
        wdb.conn.execute("RESET extra_float_digits")
    got = stored(wdb, arn, ["p", "q"])
    assert got["p"]["data"]["float32"] == [float(np.float32(x)) for x in vectors[0]]
    assert got["q"]["data"]["float32"] == [float(np.float32(x)) for x in vectors[1]]


def test_values_below_float32_range_become_zero_not_an_error(wdb: WriteDb) -> None:  # noqa: F811
    # float8 -> float4 refuses them ("underflow"); S3 Vectors stores them as 0.
    name, arn = wdb.new_index()
    wdb.conn.execute(PUT, (name, ["tiny"], [[1e-46, 1.0, 2.0]], None))
    assert stored(wdb, arn, ["tiny"])["tiny"]["data"]["float32"] == [0.0, 1.0, 2.0]


def test_null_metadata_elements_and_json_null_mean_no_metadata(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    wdb.conn.execute(PUT, (name, ["m1", "m2", "m3"], [[1, 2, 3], [3, 2, 1], [1, 1, 1]],
                           [None, Jsonb(None), Jsonb({"k": "v"})]))
    got = stored(wdb, arn, ["m1", "m2", "m3"])
    assert [got[k]["metadata"] for k in ("m1", "m2", "m3")] == [{}, {}, {"k": "v"}]


def test_large_input_is_split_into_several_invocations(wdb: WriteDb) -> None:  # noqa: F811
    # 2,000 x 1,024 float32 numbers are ~20 MB of JSON: at least four 6 MB invocations.
    name, arn = wdb.new_index(dimension=1024)
    keys = [f"big-{i}" for i in range(2000)]
    vectors = np.random.default_rng(3).uniform(-1, 1, (2000, 1024)).tolist()
    wdb.conn.execute("SELECT s3vl.set_cache(%s, '1 minute')", (name,))
    wdb.conn.execute("SELECT * FROM s3vl.query_vectors(%s, %s::float8[], 1)", (name, vectors[0]))
    assert wdb.conn.execute(PUT, (name, keys, vectors, None)).fetchone() == (2000,)
    assert wdb.count(arn) == 2000
    # The write invalidated the cached (empty) answer.
    top = wdb.conn.execute("SELECT vector_id FROM s3vl.query_vectors(%s, %s::float8[], 1)",
                           (name, vectors[0])).fetchone()
    assert top == ("big-0",)


def test_event_writes_land(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    keys, vectors, metadata = rows_for(300)
    assert wdb.conn.execute(
        "SELECT s3vl.put_vector_arrays(index_name => %s, vector_ids => %s, "
        "vectors => %s::float8[], metadata => %s::jsonb[], invocation_type => 'Event')",
        (name, keys, vectors, metadata)).fetchone() == (300,)
    deadline = time.monotonic() + 20
    while wdb.count(arn) < 300 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wdb.count(arn) == 300


BIG = "x" * 1500
GOOD = [0.5, 0.5, 0.5]
ARRAY_ERRORS: list[tuple[str, Any, Any, Any, str, tuple[str, ...]]] = [
    ("no keys", [], [GOOD], None, "22023", ("vector_ids must be a non-empty",)),
    ("null key", ["a", None], [GOOD, GOOD], None, "22023", ("vector_ids element 2", "NULL")),
    ("long key", ["a", "k" * 1025], [GOOD, GOOD], None, "22023",
     ("vector_ids element 2", "1025 characters")),
    ("duplicate key", ["a", "b", "a"], [GOOD, GOOD, GOOD], None, "22023",
     ("vector_ids element 3", '"a"', "element 1", "unique")),
    ("one-dimensional vectors", ["a"], GOOD, None, "22023", ("two-dimensional", "1 dimension")),
    ("row count", ["a", "b"], [GOOD], None, "22023", ("1 rows", "2 elements")),
    ("null element", ["a", "b"], [GOOD, [1, None, 3]], None, "22023",
     ("vectors row 2", '"b"', "NULL")),
    ("nan", ["a", "b"], [GOOD, [1, float("nan"), 3]], None, "22000",
     ("vectors row 2", "finite")),
    ("infinity", ["a", "b"], [GOOD, [1, float("-inf"), 3]], None, "22000",
     ("vectors row 2", "finite")),
    ("float32 overflow", ["a", "b"], [GOOD, [1, 1e39, 3]], None, "22000",
     ("vectors row 2", "finite float32")),
    ("dimension", ["a"], [[1, 2]], None, "22000", ("dimension 2", "dimension 3")),
    ("all zero cosine", ["a", "z"], [GOOD, [0, 0, 0]], None, "22023",
     ("vectors row 2", '"z"', "all zeros", "cosine")),
    ("metadata length", ["a", "b"], [GOOD, GOOD], [Jsonb({})], "22023",
     ("metadata must be NULL", "1 elements for 2 keys")),
    ("metadata not object", ["a", "b"], [GOOD, GOOD], [Jsonb({}), Jsonb([1])], "22023",
     ("metadata element 2", "JSON object", "array")),
    ("too many metadata keys", ["a"], [GOOD], [Jsonb({f"m{i}": i for i in range(51)})], "22023",
     ("metadata element 1", "51 keys", "at most 50")),
    ("metadata over 40 KB", ["a"], [GOOD], [Jsonb({"body": "y" * 41000})], "22023",
     ("metadata element 1", "at most 40960 bytes")),
    ("filterable over 2 KB", ["a"], [GOOD], [Jsonb({"title": BIG, "tag": BIG})], "22023",
     ("filterable metadata", "at most 2048 bytes", "non-filterable keys of this index: body")),
]


@pytest.mark.parametrize("label,keys,vectors,metadata,sqlstate,fragments", ARRAY_ERRORS,
                         ids=[e[0] for e in ARRAY_ERRORS])
def test_validation_errors_write_nothing(wdb: WriteDb, label: str, keys: Any,  # noqa: F811
                                         vectors: Any, metadata: Any, sqlstate: str,
                                         fragments: tuple[str, ...]) -> None:
    name, arn = wdb.new_index(non_filterable=["body"])
    # Fresh float lists: psycopg refuses a list holding the same list twice, or ints and floats.
    vectors = [[None if x is None else float(x) for x in row] if isinstance(row, list) else
               float(row) for row in vectors]
    expect_error(wdb.conn, PUT, (name, keys, vectors, metadata), sqlstate,
                 "s3vl.put_vector_arrays", *fragments)
    assert wdb.count(arn) == 0


def test_other_argument_errors(wdb: WriteDb) -> None:  # noqa: F811
    name, arn = wdb.new_index()
    expect_error(wdb.conn, "SELECT s3vl.put_vector_arrays(index_name => %s, "
                           "vector_ids => ARRAY['a'], vectors => ARRAY[[1, 2, 3]]"
                           "::float8[], metadata => NULL, invocation_type => 'DryRun')", (name,),
                 "22023", "invocation_type", "Event")
    expect_error(wdb.conn, "SELECT s3vl.put_vector_arrays(index_name => 'no-such-index', "
                           "vector_ids => ARRAY['a'], "
                 "vectors => ARRAY[[1, 2, 3]]::float8[])", None, "42704", "no-such-index")
    expect_error(wdb.conn, "SELECT s3vl.put_vector_arrays(index_name => %s, "
                           "vector_ids => ARRAY['a'], vectors => NULL)", (name,),
                 "22023", "two-dimensional", "NULL")
    assert wdb.count(arn) == 0


def test_granted_to_writer_not_reader(wdb: WriteDb) -> None:  # noqa: F811
    signature = "s3vl.put_vector_arrays(text[], float8[], text, jsonb[], text)"
    row = wdb.conn.execute("SELECT has_function_privilege('s3vl_reader', %s, 'EXECUTE'), "
                           "has_function_privilege('s3vl_writer', %s, 'EXECUTE'), "
                           "has_function_privilege('public', %s, 'EXECUTE')",
                           (signature, signature, signature)).fetchone()
    assert row == (False, True, False)
