"""Text in, rows out through the whole local stack: SQL (s3vl.embed, s3vl.semantic_search,
s3vl.semantic_hybrid_search, query_vectors_where with query_text, set_embedding_model) ->
aws_lambda stand-in -> Lambda endpoint -> function -> local Bedrock Runtime (the real model) and
the S3 Vectors emulator. Also through a policy-bound role, index grants and the result cache."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from s3vl_local.stack import StackInfo

pytestmark = pytest.mark.stack

MODEL = "amazon.titan-embed-text-v2:0"
DOCS = {
    "earbuds": ("Noise cancelling wireless earbuds with a charging case", "audio"),
    "headphones": ("Over-ear bluetooth headphones for long flights", "audio"),
    "speaker": ("Portable speaker for the beach", "audio"),
    "skillet": ("Cast iron skillet for the stove and the oven", "kitchen"),
    "espresso": ("Espresso machine with a milk frother", "kitchen"),
    "tent": ("Waterproof two-person camping tent", "outdoor"),
}


def bedrock_invocations(stack: StackInfo) -> int:
    with urllib.request.urlopen(stack.bedrock_endpoint + "/_s3vl/health", timeout=5) as resp:
        return int(json.loads(resp.read())["invocations"])


def expect_error(conn: psycopg.Connection[Any], sql: str, params: Any, sqlstate: str,
                 words: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as err:
        conn.execute(sql, params)
    assert err.value.sqlstate == sqlstate, (err.value.sqlstate, str(err.value))
    assert words in str(err.value), str(err.value)
    return err.value


class Index:
    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn


@pytest.fixture
def db(local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        yield conn


def _new_index(stack: StackInfo, client: Any, dimension: int) -> tuple[str, str]:
    name = f"emb-{uuid.uuid4().hex[:8]}"
    client.create_index(vectorBucketName=stack.bucket_name, indexName=name, dataType="float32",
                        dimension=dimension, distanceMetric="cosine")
    arn = stack.index_arn.rsplit("/", 1)[0] + "/" + name
    return name, arn


@pytest.fixture
def index(db: psycopg.Connection[Any], s3vectors_client: Any,
          local_stack: StackInfo) -> Iterator[Index]:
    """A 512-d index with the Titan V2 model; DOCS embedded by s3vl.embed (one invocation)."""
    name, arn = _new_index(local_stack, s3vectors_client, 512)
    db.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
    db.execute("SELECT s3vl.set_embedding_model(%s, %s)", (name, MODEL))
    rows = db.execute("SELECT ordinal, embedding FROM s3vl.embed(%s::text[], %s)",
                      ([t for t, _ in DOCS.values()], name)).fetchall()
    vectors = [{"key": k, "data": {"float32": e}, "metadata": {"kind": kind, "text": text}}
               for (k, (text, kind)), (_, e) in zip(DOCS.items(), rows, strict=True)]
    s3vectors_client.put_vectors(indexArn=arn, vectors=vectors)
    yield Index(name, arn)
    db.execute("RESET ROLE")
    db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (name,))
    db.execute("DELETE FROM s3vl.index_grants WHERE index_name = %s", (name,))
    db.execute("SELECT s3vl.unregister_index(%s)", (name,))
    s3vectors_client.delete_index(indexArn=arn)


def test_the_model_is_shown_and_checked(db: psycopg.Connection[Any], index: Index,
                                        s3vectors_client: Any, local_stack: StackInfo) -> None:
    assert db.execute("SELECT dimension, embedding_model FROM s3vl.list_indexes() "
                      "WHERE index_name = %s", (index.name,)).fetchone() == (512, MODEL)
    assert db.execute("SELECT embedding_model FROM s3vl.describe_index(%s)",
                      (index.name,)).fetchone() == (MODEL,)
    expect_error(db, "SELECT s3vl.set_embedding_model(%s, 'amazon.titan-embed-g1-text-02')",
                 (index.name,), "22023", "model_id must be one of amazon.titan-embed-text-v2:0")
    small, small_arn = _new_index(local_stack, s3vectors_client, 384)
    try:
        db.execute("SELECT s3vl.register_index(%s, %s)", (small, small_arn))
        expect_error(db, "SELECT s3vl.set_embedding_model(%s, %s)", (small, MODEL), "22023",
                     "has dimension 384, which amazon.titan-embed-text-v2:0 does not produce "
                     "(it produces 256, 512, 1024)")
        err = expect_error(db, "SELECT s3vl.semantic_search('tea', %s)", (small,), "55000",
                           f'index "{small}" has no embedding model')
        assert "s3vl.set_embedding_model" in (err.diag.message_hint or "")
        expect_error(db, "SELECT s3vl.embed('tea', %s)", (small,), "55000", "no embedding model")
    finally:
        db.execute("SELECT s3vl.unregister_index(%s)", (small,))
        s3vectors_client.delete_index(indexArn=small_arn)
    db.execute("SELECT s3vl.set_embedding_model(%s, NULL)", (index.name,))
    expect_error(db, "SELECT s3vl.embed('tea', %s)", (index.name,), "55000", "no embedding model")


def test_embed_one_and_many(db: psycopg.Connection[Any], index: Index) -> None:
    one = db.execute("SELECT s3vl.embed('wireless earbuds', %s)", (index.name,)).fetchone()[0]
    assert len(one) == 512 and abs(sum(x * x for x in one) - 1.0) < 1e-5
    rows = db.execute("SELECT ordinal, embedding FROM s3vl.embed(ARRAY['cast iron pan', "
                      "'wireless earbuds'], %s)", (index.name,)).fetchall()
    assert [r[0] for r in rows] == [1, 2]
    assert max(abs(a - b) for a, b in zip(rows[1][1], one, strict=True)) < 1e-6
    assert db.execute("SELECT count(*) FROM s3vl.embed('{}'::text[], %s)",
                      (index.name,)).fetchone() == (0,)


@pytest.mark.parametrize(("sql", "words"), [
    ("SELECT s3vl.embed('', %s)", "input_text must be a text of 1 to 50000 characters"),
    ("SELECT s3vl.embed('   ', %s)", "(got only white space)"),
    ("SELECT s3vl.embed(repeat('x', 50001), %s)", "(got 50001 characters)"),
    ("SELECT s3vl.embed(NULL::text, %s)", "(got NULL)"),
    ("SELECT * FROM s3vl.embed(ARRAY['ok', NULL], %s)", "input_texts[2] must be a text"),
    ("SELECT * FROM s3vl.embed(array_fill('x'::text, ARRAY[101]), %s)",
     "at most 100 texts (got 101 texts)"),
    ("SELECT * FROM s3vl.semantic_search('', %s)", "query_text must be a text of 1 to 50000"),
    ("SELECT * FROM s3vl.semantic_search('tea', %s, top_k => 0)", "top_k must be between 1"),
    ("SELECT * FROM s3vl.semantic_hybrid_search(repeat('x', 1025), 'text', %s)",
     "query_text must be a text of 1 to 1024"),
])
def test_bad_text_is_refused_before_any_call(db: psycopg.Connection[Any], index: Index,
                                            local_stack: StackInfo, sql: str,
                                            words: str) -> None:
    before = bedrock_invocations(local_stack)
    expect_error(db, sql, (index.name,), "22023", words)
    assert bedrock_invocations(local_stack) == before


def test_semantic_search_text_in_rows_out(db: psycopg.Connection[Any], index: Index,
                                          local_stack: StackInfo) -> None:
    before = bedrock_invocations(local_stack)
    rows = db.execute("SELECT vector_id, distance, similarity_score, metadata->>'kind' FROM "
                      "s3vl.semantic_search('wireless earbuds', %s, top_k => 3)",
                      (index.name,)).fetchall()
    assert [r[0] for r in rows[:2]] == ["earbuds", "headphones"]
    assert all(abs(r[2] - (1 - r[1])) < 1e-9 for r in rows)
    assert bedrock_invocations(local_stack) - before == 1  # one embedding, same invocation
    kitchen = db.execute("SELECT vector_id FROM s3vl.semantic_search('something to cook with', "
                         "%s, top_k => 2, metadata_filter => '{\"kind\": \"kitchen\"}', "
                         "return_metadata => false)", (index.name,)).fetchall()
    assert {r[0] for r in kitchen} == {"skillet", "espresso"}


def test_semantic_hybrid_search(db: psycopg.Connection[Any], index: Index) -> None:
    db.execute("SELECT s3vl.set_index_mode(%s, 'ENHANCED')", (index.name,))
    db.execute("SELECT s3vl.add_text_search(%s, 'text', 'en')", (index.name,))
    deadline = time.monotonic() + 30
    while db.execute("SELECT text_search->0->>'status' FROM s3vl.describe_index(%s)",
                     (index.name,)).fetchone() != ("ACTIVE",):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    rows = db.execute("SELECT vector_id, fused_score, distance, text_score FROM "
                      "s3vl.semantic_hybrid_search('espresso machine', 'text', %s, top_k => 3)",
                      (index.name,)).fetchall()
    assert rows[0][0] == "espresso"
    assert rows[0][3] is not None and rows[0][2] is not None  # both halves found it
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)


def test_query_vectors_where_with_a_phrase(db: psycopg.Connection[Any], index: Index) -> None:
    db.execute("CREATE TEMP TABLE emb_stock (k text PRIMARY KEY, stock int)")
    db.execute("INSERT INTO emb_stock VALUES ('earbuds', 0), ('headphones', 3), ('speaker', 9), "
               "('skillet', 1), ('espresso', 2), ('tent', 5)")
    sql = ("SELECT key FROM s3vl.query_vectors_where(query_text => 'wireless earbuds',"
           " source => 'emb_stock', key_column => 'k', predicate => 'stock > 0', "
           "top_k => 2, index_name => %s, strategy => %s)")
    # strategy, the last option of the phrase form, reaches the plan: both plans agree, and a
    # strategy that is none of the three is refused.
    for strategy in ("auto", "prefilter", "iterative"):
        rows = db.execute(sql, (index.name, strategy)).fetchall()
        assert [r[0] for r in rows] == ["headphones", "speaker"], strategy
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="strategy must be"):
        db.execute(sql, (index.name, "fastest"))


def test_cache_answers_a_repeated_phrase(db: psycopg.Connection[Any], index: Index,
                                         local_stack: StackInfo) -> None:
    db.execute("SELECT s3vl.set_cache(%s, interval '5 minutes')", (index.name,))
    try:
        query = ("SELECT vector_id FROM s3vl.semantic_search('bluetooth headphones', %s, "
                 "top_k => 2)")
        first = db.execute(query, (index.name,)).fetchall()
        before = bedrock_invocations(local_stack)
        hits = db.execute("SELECT hits FROM s3vl.cache_stats()").fetchone()[0]
        assert db.execute(query, (index.name,)).fetchall() == first
        assert db.execute("SELECT hits FROM s3vl.cache_stats()").fetchone()[0] == hits + 1
        assert bedrock_invocations(local_stack) == before  # no embedding, no invocation
        one = "SELECT s3vl.embed('bluetooth headphones', %s)"
        vector = db.execute(one, (index.name,)).fetchone()[0]
        before = bedrock_invocations(local_stack)
        assert db.execute(one, (index.name,)).fetchone()[0] == vector
        assert bedrock_invocations(local_stack) == before
    finally:
        db.execute("SELECT s3vl.set_cache(%s, NULL)", (index.name,))
        db.execute("SELECT s3vl.clear_cache()")  # other tests count hits from zero


def test_through_a_policy_bound_role_and_grants(db: psycopg.Connection[Any],
                                                index: Index) -> None:
    suffix = uuid.uuid4().hex[:8]
    bound, other = f"emb_audio_{suffix}", f"emb_other_{suffix}"
    db.execute(f'CREATE ROLE "{bound}" IN ROLE s3vl_reader')
    db.execute(f'CREATE ROLE "{other}" IN ROLE s3vl_reader')
    try:
        db.execute("SELECT s3vl.create_policy(%s, %s, '{\"kind\": \"kitchen\"}')",
                   (index.name, bound))
        db.execute(f'SET ROLE "{bound}"')
        rows = db.execute("SELECT vector_id FROM s3vl.semantic_search('wireless earbuds', %s, "
                          "top_k => 5)", (index.name,)).fetchall()
        assert {r[0] for r in rows} == {"skillet", "espresso"}  # the policy, not the phrase
        wide = db.execute("SELECT vector_id FROM s3vl.semantic_search('wireless earbuds', %s, "
                          "top_k => 5, metadata_filter => '{\"kind\": \"audio\"}')",
                          (index.name,)).fetchall()
        assert wide == []  # its filter is ANDed with the policy, never widened
        assert len(db.execute("SELECT s3vl.embed('tea', %s)", (index.name,)).fetchone()[0]) == 512
        db.execute("RESET ROLE")
        # Grants: once the index has one, a role without it is refused, even to embed.
        db.execute("SELECT s3vl.grant_index(%s, %s)", (index.name, bound))
        db.execute(f'SET ROLE "{other}"')
        expect_error(db, "SELECT s3vl.embed('tea', %s)", (index.name,), "42501", "s3vl.embed")
        expect_error(db, "SELECT * FROM s3vl.semantic_search('tea', %s)", (index.name,), "42501",
                     "s3vl.semantic_search")
        db.execute("RESET ROLE")
        db.execute(f'SET ROLE "{bound}"')
        assert db.execute("SELECT count(*) FROM s3vl.semantic_search('tea', %s)",
                          (index.name,)).fetchone() == (2,)
        expect_error(db, "SELECT s3vl.set_embedding_model(%s, NULL)", (index.name,), "42501",
                     "set_embedding_model")
    finally:
        db.execute("RESET ROLE")
        db.execute("DELETE FROM s3vl.index_policies WHERE index_name = %s", (index.name,))
        db.execute("DELETE FROM s3vl.index_grants WHERE index_name = %s", (index.name,))
        db.execute(f'DROP ROLE "{bound}"')
        db.execute(f'DROP ROLE "{other}"')
