"""Sync that embeds: a table tracked with text_column (no embedding column) through the whole
local stack. The function embeds each row's text (local Bedrock Runtime, real model) before
PutVectors; a change to the text re-embeds, a change to a metadata column keeps the stored
vector; a row whose text the model refuses fails alone and waits, nothing is lost."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from s3vl_local.stack import StackInfo

pytestmark = pytest.mark.stack

MODEL = "amazon.titan-embed-text-v2:0"


def bedrock_invocations(stack: StackInfo) -> int:
    with urllib.request.urlopen(stack.bedrock_endpoint + "/_s3vl/health", timeout=5) as resp:
        return int(json.loads(resp.read())["invocations"])


class Tracked:
    def __init__(self, index: str, arn: str, table: str) -> None:
        self.index, self.arn, self.table = index, arn, table


@pytest.fixture
def db(local_stack: StackInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(local_stack.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def tracked(db: psycopg.Connection[Any], s3vectors_client: Any,
            local_stack: StackInfo) -> Iterator[Tracked]:
    suffix = uuid.uuid4().hex[:8]
    index, table = f"embsync-{suffix}", f"public.notes_{suffix}"
    s3vectors_client.create_index(vectorBucketName=local_stack.bucket_name, indexName=index,
                                  dataType="float32", dimension=256, distanceMetric="cosine")
    arn = local_stack.index_arn.rsplit("/", 1)[0] + "/" + index
    db.execute("SELECT s3vl.register_index(%s, %s)", (index, arn))
    db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, body text, topic text, "
               "views integer DEFAULT 0)")
    yield Tracked(index, arn, table)
    db.execute("SELECT s3vl.untrack_table(%s)", (table,))
    db.execute(f"DROP TABLE {table}")
    db.execute("SELECT s3vl.unregister_index(%s)", (index,))
    s3vectors_client.delete_index(indexArn=arn)


def stored(client: Any, arn: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
    out = client.list_vectors(indexArn=arn, returnData=True, returnMetadata=True)
    return {v["key"]: (v["data"]["float32"], v.get("metadata") or {}) for v in out["vectors"]}


def track(db: psycopg.Connection[Any], t: Tracked) -> None:
    db.execute("SELECT s3vl.track_table(%s, 'id', NULL, %s, ARRAY['topic'], "
               "text_column => 'body')", (t.table, t.index))


def test_tracking_needs_a_model_and_one_source_of_vectors(db: psycopg.Connection[Any],
                                                          tracked: Tracked) -> None:
    with pytest.raises(psycopg.Error) as err:
        track(db, tracked)
    assert err.value.sqlstate == "55000" and "no embedding model" in str(err.value)
    db.execute("SELECT s3vl.set_embedding_model(%s, %s)", (tracked.index, MODEL))
    for embedding, text, got in ((None, None, "neither"), ("body", "body", "both")):
        with pytest.raises(psycopg.Error) as err:
            db.execute("SELECT s3vl.track_table(%s, 'id', %s, %s, text_column => %s)",
                       (tracked.table, embedding, tracked.index, text))
        assert err.value.sqlstate == "22023"
        assert f"exactly one of embedding_column and text_column (got {got})" in str(err.value)
    with pytest.raises(psycopg.Error) as err:
        db.execute("SELECT s3vl.track_table(%s, 'id', NULL, %s, text_column => 'views')",
                   (tracked.table, tracked.index))
    assert err.value.sqlstate == "42804" and "must be text, varchar or char" in str(err.value)


def test_sync_embeds_and_re_embeds_only_changed_text(db: psycopg.Connection[Any],
                                                     tracked: Tracked, s3vectors_client: Any,
                                                     local_stack: StackInfo) -> None:
    db.execute("SELECT s3vl.set_embedding_model(%s, %s)", (tracked.index, MODEL))
    track(db, tracked)
    db.execute(f"INSERT INTO {tracked.table} (id, body, topic) VALUES "
               "(1, 'Wireless earbuds with noise cancelling', 'audio'), "
               "(2, 'A cast iron skillet for searing steak', 'kitchen'), "
               "(3, 'A tent that stays dry in heavy rain', 'outdoor')")
    before = bedrock_invocations(local_stack)
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s)",
                      (tracked.index,)).fetchone() == (3, 0)
    assert bedrock_invocations(local_stack) - before == 3  # one InvokeModel per row
    first = stored(s3vectors_client, tracked.arn)
    assert set(first) == {"1", "2", "3"} and first["2"][1] == {"topic": "kitchen"}
    expected = db.execute("SELECT s3vl.embed('A cast iron skillet for searing steak', %s)",
                          (tracked.index,)).fetchone()[0]
    assert max(abs(a - b) for a, b in zip(first["2"][0], expected, strict=True)) < 1e-5
    assert db.execute("SELECT count(*) FROM s3vl.stale_rows(%s)",
                      (tracked.table,)).fetchone() == (0,)
    # A column that is not tracked: nothing queued. A metadata column: the stored vector is kept.
    db.execute(f"UPDATE {tracked.table} SET views = 5")
    db.execute(f"UPDATE {tracked.table} SET topic = 'cooking' WHERE id = 2")
    before = bedrock_invocations(local_stack)
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s)",
                      (tracked.index,)).fetchone() == (1, 0)
    assert bedrock_invocations(local_stack) == before  # not embedded again
    second = stored(s3vectors_client, tracked.arn)
    assert second["2"] == (first["2"][0], {"topic": "cooking"})
    # The text changed: embedded again, and the new vector answers the new meaning.
    db.execute(f"UPDATE {tracked.table} SET body = 'Bluetooth headphones for flights' "
               "WHERE id = 3")
    before = bedrock_invocations(local_stack)
    assert db.execute("SELECT upserted FROM s3vl.sync(%s)", (tracked.index,)).fetchone() == (1,)
    assert bedrock_invocations(local_stack) - before == 1
    rows = db.execute("SELECT key FROM s3vl.query_table('travel headphones', %s, 'id', "
                      "top_k => 2)", (tracked.table,)).fetchall()
    assert rows[0] == ("3",)
    db.execute(f"DELETE FROM {tracked.table} WHERE id = 1")
    assert db.execute("SELECT deleted FROM s3vl.sync(%s)", (tracked.index,)).fetchone() == (1,)
    assert set(stored(s3vectors_client, tracked.arn)) == {"2", "3"}


def test_a_refused_text_fails_alone_and_waits(db: psycopg.Connection[Any], tracked: Tracked,
                                              s3vectors_client: Any) -> None:
    db.execute("SELECT s3vl.set_embedding_model(%s, %s)", (tracked.index, MODEL))
    track(db, tracked)
    db.execute(f"INSERT INTO {tracked.table} (id, body, topic) VALUES (1, 'espresso', 'a'), "
               "(2, '   ', 'b'), (3, 'camping stove', 'c'), (4, 'trail shoes', 'd')")
    row = db.execute("SELECT upserted, failed, last_error FROM s3vl.sync(%s)",
                     (tracked.index,)).fetchone()
    assert row[:2] == (3, 1), row
    assert "must not be empty or only white space" in row[2]
    assert set(stored(s3vectors_client, tracked.arn)) == {"1", "3", "4"}
    pending = db.execute("SELECT key, attempts, next_attempt_at > now() FROM s3vl.sync_outbox "
                         "WHERE source = %s::regclass", (tracked.table,)).fetchall()
    assert pending == [("2", 1, True)]  # kept, backing off
    db.execute(f"UPDATE {tracked.table} SET body = 'a kettle' WHERE id = 2")  # fixed: retried
    assert db.execute("SELECT upserted, failed FROM s3vl.sync(%s, retry_now => true)",
                      (tracked.index,)).fetchone() == (1, 0)
    assert set(stored(s3vectors_client, tracked.arn)) == {"1", "2", "3", "4"}
