"""Full-text and hybrid search through the whole local stack: SQL (s3vl.search_text,
s3vl.hybrid_search, the administration functions) -> aws_lambda stand-in -> Lambda endpoint ->
function -> S3 Vectors emulator. Rows are compared with the emulator's own answer to the same
QueryVectors asked directly with boto3 (returnScores), so the whole mapping is checked."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from s3vl_local.stack import StackInfo

DOCS: dict[str, tuple[list[float], dict[str, Any]]] = {
    "t-1": ([1.0, 0.0, 0.0], {"name": "Trail running shoes", "genre": "shoes",
                              "description": "light shoes for trail running"}),
    "t-2": ([0.8, 0.6, 0.0], {"name": "Road running shoes", "genre": "shoes",
                              "description": "cushioned shoes for the road"}),
    "t-3": ([0.0, 1.0, 0.0], {"name": "Waterproof trail jacket", "genre": "jackets",
                              "description": "a jacket for rain on the trail"}),
    "t-4": ([0.0, 0.0, 1.0], {"name": "Espresso machine", "genre": "kitchen",
                              "description": "great coffee at home"}),
    "t-5": ([-1.0, 0.0, 0.0], {"name": "Wingtip trail shoes", "genre": "shoes",
                               "description": "shoes from Wingtip"}),
}
Q = [1.0, 0.0, 0.0]


def client_for(stack: StackInfo) -> Any:
    import boto3

    return boto3.client("s3vectors", endpoint_url=stack.s3vectors_endpoint,
                        region_name=stack.region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


class TextIndex:
    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn


def make_index(stack: StackInfo, conn: psycopg.Connection[Any]) -> TextIndex:
    client = client_for(stack)
    name = f"text-{uuid.uuid4().hex[:8]}"
    client.create_index(vectorBucketName=stack.bucket_name, indexName=name, dataType="float32",
                        dimension=3, distanceMetric="cosine",
                        metadataConfiguration={"nonFilterableMetadataKeys": ["description"]})
    arn: str = client.get_index(vectorBucketName=stack.bucket_name,
                                indexName=name)["index"]["indexArn"]
    client.put_vectors(indexArn=arn, vectors=[
        {"key": k, "data": {"float32": v}, "metadata": m} for k, (v, m) in DOCS.items()])
    conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    return TextIndex(name, arn)


def drop_index(stack: StackInfo, conn: psycopg.Connection[Any], index: TextIndex) -> None:
    conn.execute("SELECT s3vl.unregister_index(%s)", (index.name,))
    client_for(stack).delete_index(indexArn=index.arn)


def wait_active(conn: psycopg.Connection[Any], name: str, keys: set[str]) -> list[Any]:
    deadline = time.monotonic() + 30
    while True:
        row = conn.execute("SELECT text_search FROM s3vl.describe_index(%s)", (name,)).fetchone()
        assert row is not None
        if {e["metadata_key"] for e in row[0] if e["status"] == "ACTIVE"} >= keys:
            return list(row[0])
        assert time.monotonic() < deadline, row
        time.sleep(0.1)


@pytest.fixture
def db(local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def searchable(local_stack: StackInfo) -> Iterator[TextIndex]:
    """An index whose name (en) and description (standard analyzer) are ACTIVE."""
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        index = make_index(local_stack, conn)
        conn.execute("SELECT s3vl.add_text_search(%s, 'name', 'en')", (index.name,))
        conn.execute("SELECT s3vl.add_text_search(%s, 'description')", (index.name,))
        wait_active(conn, index.name, {"name", "description"})
        yield index
        drop_index(local_stack, conn, index)


def direct(local_stack: StackInfo, index: TextIndex, texts: dict[str, str],
           vector: list[float] | None = None, top_k: int = 10,
           flt: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The emulator's own answer to the same query, asked with boto3."""
    params: dict[str, Any] = {
        "indexArn": index.arn, "topK": top_k, "returnScores": True, "returnMetadata": True,
        "queryTexts": [{"metadataKey": k, "text": t} for k, t in texts.items()]}
    if vector is not None:
        params["queryVector"] = {"float32": vector}
    if flt is not None:
        params["filter"] = flt
    vectors: list[dict[str, Any]] = client_for(local_stack).query_vectors(**params)["vectors"]
    return vectors


def bm25_sum(entry: dict[str, Any]) -> float | None:
    scores = entry.get("scores", {}).get("bm25Scores") or []
    return sum(s["score"] for s in scores) if scores else None


def test_administration_lifecycle(local_stack: StackInfo, db: psycopg.Connection[Any]) -> None:
    index = make_index(local_stack, db)
    try:
        row = db.execute("SELECT index_mode, text_search FROM s3vl.describe_index(%s)",
                         (index.name,)).fetchone()
        assert row == ("ENHANCED", [])
        db.execute("SELECT s3vl.set_index_mode(%s, 'enhanced')", (index.name,))
        db.execute("SELECT s3vl.add_text_search(%s, 'name', 'EN')", (index.name,))
        # Right after the add the key is BUILDING: the service refuses, SQL names the argument.
        with pytest.raises(psycopg.Error) as caught:
            db.execute("SELECT * FROM s3vl.search_text('trail', 'name', %s)",
                       (index.name,)).fetchall()
        assert caught.value.sqlstate == "22023"
        assert 's3vl.search_text: metadata_key "name": ' in str(caught.value.diag.message_primary)
        assert "BUILDING" in str(caught.value.diag.message_primary)
        configs = wait_active(db, index.name, {"name"})
        assert configs == [{"metadata_key": "name", "language": "en", "status": "ACTIVE"}]
        assert db.execute("SELECT count(*) FROM s3vl.search_text('trail', 'name', %s)",
                          (index.name,)).fetchone() == (3,)
        # The service's refusals: the same key again (ConflictException), CLASSIC for an index
        # of a bucket created after 2026-09-30 (ValidationException).
        for statement, sqlstate in (("SELECT s3vl.add_text_search(%s, 'name', 'en')", "SV005"),
                                    ("SELECT s3vl.set_index_mode(%s, 'CLASSIC')", "22023")):
            with pytest.raises(psycopg.Error) as caught:
                db.execute(statement, (index.name,))
            assert caught.value.sqlstate == sqlstate, caught.value
        db.execute("SELECT s3vl.drop_text_search(%s, 'name')", (index.name,))
        assert db.execute("SELECT text_search FROM s3vl.describe_index(%s)",
                          (index.name,)).fetchone() == ([],)
        with pytest.raises(psycopg.Error) as caught:
            db.execute("SELECT * FROM s3vl.search_text('trail', 'name', %s)",
                       (index.name,)).fetchall()
        assert caught.value.sqlstate == "22023"
        assert 'metadata_key "name"' in str(caught.value.diag.message_primary)
        assert "s3vl.add_text_search" in str(caught.value.diag.message_hint)
    finally:
        drop_index(local_stack, db, index)


def test_search_text_is_the_services_bm25_ranking(local_stack: StackInfo,
                                                  db: psycopg.Connection[Any],
                                                  searchable: TextIndex) -> None:
    rows = db.execute("SELECT vector_id, text_score, metadata FROM s3vl.search_text("
                      "'trail shoes', 'name', %s)", (searchable.name,)).fetchall()
    expected = direct(local_stack, searchable, {"name": "trail shoes"})
    assert [r[0] for r in rows] == [e["key"] for e in expected]
    assert [r[1] for r in rows] == pytest.approx([bm25_sum(e) for e in expected], abs=1e-6)
    assert [r[2] for r in rows] == [e["metadata"] for e in expected]
    # Both trail-and-shoes documents first, a shoe without "trail" and the jacket after.
    assert set(r[0] for r in rows[:2]) == {"t-1", "t-5"} and "t-4" not in [r[0] for r in rows]
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(rows))


def test_search_text_on_several_keys_sums_scores(local_stack: StackInfo,
                                                 db: psycopg.Connection[Any],
                                                 searchable: TextIndex) -> None:
    texts = {"name": "shoes", "description": "Wingtip"}
    rows = db.execute("SELECT vector_id, text_score FROM s3vl.search_text(%s::jsonb, %s, "
                      "top_k => 3)",
                      (Jsonb(texts), searchable.name)).fetchall()
    expected = direct(local_stack, searchable, texts, top_k=3)
    assert [r[0] for r in rows] == [e["key"] for e in expected]
    assert rows[0][0] == "t-5"  # the only document matching both keys
    assert [r[1] for r in rows] == pytest.approx([bm25_sum(e) for e in expected], abs=1e-6)


def test_hybrid_search_fuses_and_keeps_nulls(local_stack: StackInfo,
                                             db: psycopg.Connection[Any],
                                             searchable: TextIndex) -> None:
    rows = db.execute("SELECT vector_id, fused_score, distance, text_score FROM "
                      "s3vl.hybrid_search(%s::float8[], 'espresso', 'name', %s, top_k => 3)",
                      (Q, searchable.name)).fetchall()
    expected = direct(local_stack, searchable, {"name": "espresso"}, vector=Q, top_k=3)
    assert [r[0] for r in rows] == [e["key"] for e in expected]
    for row, entry in zip(rows, expected, strict=True):
        assert row[1] == pytest.approx(entry["scores"]["fused"], abs=1e-9)
        vector_distance = entry["scores"].get("vectorDistance")
        assert (row[2] is None) == (vector_distance is None)
        if vector_distance is not None:
            assert row[2] == pytest.approx(vector_distance, abs=1e-6)
        assert row[3] == (None if bm25_sum(entry) is None else pytest.approx(bm25_sum(entry)))
    by_id = {r[0]: r for r in rows}
    # The vector ranking (top 3) is t-1, t-2, t-3; "espresso" matches t-4 only.
    assert by_id["t-4"][2] is None and by_id["t-4"][3] is not None  # only the text found it
    assert by_id["t-1"][3] is None and by_id["t-1"][2] == pytest.approx(0.0, abs=1e-6)


def test_filter_applies_to_text_and_hybrid(local_stack: StackInfo, db: psycopg.Connection[Any],
                                           searchable: TextIndex) -> None:
    flt = '{"genre": "jackets"}'
    assert db.execute("SELECT vector_id FROM s3vl.search_text('trail', 'name', %s, "
                      "metadata_filter => %s)", (searchable.name, flt)).fetchall() == [("t-3",)]
    rows = db.execute("SELECT vector_id FROM s3vl.hybrid_search(%s::float8[], 'trail', 'name', "
                      "%s, metadata_filter => %s)", (Q, searchable.name, flt)).fetchall()
    assert rows == [("t-3",)]


def test_key_without_text_search_is_named(db: psycopg.Connection[Any],
                                          searchable: TextIndex) -> None:
    with pytest.raises(psycopg.Error) as caught:
        db.execute("SELECT * FROM s3vl.search_text('shoes', 'genre', %s)",
                   (searchable.name,)).fetchall()
    assert caught.value.sqlstate == "22023"
    assert str(caught.value.diag.message_primary).startswith(
        's3vl.search_text: metadata_key "genre": ')


def test_writes_reach_the_text_index_and_the_cache(db: psycopg.Connection[Any],
                                                   searchable: TextIndex) -> None:
    db.execute("SELECT s3vl.set_cache(%s, '10 minutes')", (searchable.name,))
    try:
        query = "SELECT vector_id FROM s3vl.search_text('teapot', 'name', %s)"
        assert db.execute(query, (searchable.name,)).fetchall() == []
        hits = db.execute("SELECT hits FROM s3vl.cache_stats()").fetchone()
        assert db.execute(query, (searchable.name,)).fetchall() == []
        assert db.execute("SELECT hits FROM s3vl.cache_stats()").fetchone()[0] == hits[0] + 1
        db.execute("SELECT s3vl.put_vector(index_name => %s, vector_id => 't-9', "
                   "vector => ARRAY[0, 0.6, 0.8]::float8[], "
                   "metadata => '{\"name\": \"Cast iron teapot\", \"genre\": \"kitchen\"}')",
                   (searchable.name,))
        assert db.execute(query, (searchable.name,)).fetchall() == [("t-9",)]
        db.execute("SELECT s3vl.delete_vectors(index_name => %s, vector_ids => ARRAY['t-9'])",
                   (searchable.name,))
        assert db.execute(query, (searchable.name,)).fetchall() == []
    finally:
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (searchable.name,))
        # The hit/miss counters are global (and not transactional): leave them at zero, as the
        # README cookbook's cache example expects.
        db.execute("SELECT s3vl.clear_cache()")
