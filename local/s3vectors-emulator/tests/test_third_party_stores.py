"""LangChain's `AmazonS3Vectors` and LlamaIndex's `S3VectorStore` against the emulator, both
in-process (`mock_s3vectors()`) and over HTTP (the pytest plugin's `s3vectors_endpoint`): add,
search with a metadata filter, delete. Embeddings are a deterministic bag of words, so the
nearest texts are known. Needs the package's `integrations` extra (s3vl's bootstrap installs it).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from s3vectors_emulator import mock_s3vectors

pytest.importorskip("langchain_aws", reason="needs s3vectors-emulator[integrations]")
pytest.importorskip("llama_index.vector_stores.s3", reason="needs s3vectors-emulator[integrations]")

from langchain_core.embeddings import Embeddings
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

REGION = "us-east-1"
BUCKET = "stores"
DIMENSION = 32
TEXTS = {
    "red": ("red running shoes for the trail", {"kind": "shoe", "price": 90}),
    "blue": ("blue rain boots", {"kind": "boot", "price": 60}),
    "green": ("green trail running shoes", {"kind": "shoe", "price": 120}),
    "socks": ("wool running socks", {"kind": "sock", "price": 15}),
}


def embed(text: str) -> list[float]:
    """A deterministic bag of words: each word adds 1 at a fixed position (CRC32), normalised."""
    vector = [0.0] * DIMENSION
    for word in text.lower().split():
        vector[zlib.crc32(word.encode()) % DIMENSION] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class BagOfWords(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


@pytest.fixture(params=["mock", "server"])
def emulated(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty emulator with bucket BUCKET, reached by clients made with no endpoint URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    if request.param == "server":
        endpoint = request.getfixturevalue("s3vectors_endpoint")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", endpoint)
        boto3.client("s3vectors", region_name=REGION).create_vector_bucket(vectorBucketName=BUCKET)
        yield request.param
        return
    with mock_s3vectors():
        boto3.client("s3vectors", region_name=REGION).create_vector_bucket(vectorBucketName=BUCKET)
        yield request.param


def test_langchain_amazon_s3_vectors(emulated: str) -> None:
    from langchain_aws.vectorstores import AmazonS3Vectors

    store = AmazonS3Vectors(
        vector_bucket_name=BUCKET,
        index_name="langchain",
        embedding=BagOfWords(),
        region_name=REGION,
        distance_metric="cosine",
    )
    ids = store.add_texts(
        [text for text, _ in TEXTS.values()],
        metadatas=[meta for _, meta in TEXTS.values()],
        ids=list(TEXTS),
    )
    assert ids == list(TEXTS)
    found = store.similarity_search("running shoes", k=4, filter={"kind": {"$eq": "shoe"}})
    assert [doc.id for doc in found][:2] in (["green", "red"], ["red", "green"])
    assert {doc.id for doc in found} == {"red", "green"}
    assert found[0].page_content in (TEXTS["red"][0], TEXTS["green"][0])
    cheap = store.similarity_search("running", k=4, filter={"price": {"$lt": 100}})
    assert {doc.id for doc in cheap} == {"red", "blue", "socks"}
    store.delete(ids=["red"])
    found = store.similarity_search("running shoes", k=4, filter={"kind": "shoe"})
    assert [doc.id for doc in found] == ["green"]
    assert [doc.id for doc in store.get_by_ids(["blue"])] == ["blue"]
    with pytest.raises(ValueError, match="'red' not found"):
        store.get_by_ids(["red"])


def test_llamaindex_s3_vector_store(emulated: str) -> None:
    from llama_index.vector_stores.s3 import S3VectorStore

    session = boto3.Session(region_name=REGION)
    store = S3VectorStore.create_index_from_bucket(
        bucket_name_or_arn=BUCKET,
        index_name="llamaindex",
        dimension=DIMENSION,
        distance_metric="cosine",
        sync_session=session,
    )
    nodes = [
        TextNode(id_=key, text=text, metadata=dict(meta), embedding=embed(text))
        for key, (text, meta) in TEXTS.items()
    ]
    nodes[0].relationships = {}  # no source document: ref_doc_id is "None"
    assert store.add(nodes) == list(TEXTS)
    shoes = MetadataFilters(filters=[MetadataFilter(key="kind", value="shoe")])
    result = store.query(
        VectorStoreQuery(query_embedding=embed("running shoes"), similarity_top_k=4, filters=shoes)
    )
    assert set(result.ids or []) == {"red", "green"}
    assert result.similarities is not None and all(0 <= s <= 1 for s in result.similarities)
    pricey = MetadataFilters(
        filters=[MetadataFilter(key="price", value=50, operator=FilterOperator.GT)]
    )
    result = store.query(
        VectorStoreQuery(query_embedding=embed("boots"), similarity_top_k=1, filters=pricey)
    )
    assert result.ids == ["blue"]
    store.delete_nodes(node_ids=["red"])
    result = store.query(
        VectorStoreQuery(query_embedding=embed("running shoes"), similarity_top_k=4, filters=shoes)
    )
    assert result.ids == ["green"]
    assert [n.node_id for n in store.get_nodes(node_ids=["green", "red"])] == ["green"]


def test_llamaindex_with_an_index_arn_is_refused_as_by_aws(emulated: str) -> None:
    """Given an index ARN, S3VectorStore sends it with vectorBucketName: both forms, which the
    service refuses (400) before any lookup; so does the emulator."""
    from llama_index.vector_stores.s3 import S3VectorStore

    client = boto3.client("s3vectors", region_name=REGION)
    client.create_index(
        vectorBucketName=BUCKET,
        indexName="by-arn",
        dataType="float32",
        dimension=DIMENSION,
        distanceMetric="cosine",
    )
    arn = client.get_index(vectorBucketName=BUCKET, indexName="by-arn")["index"]["indexArn"]
    store = S3VectorStore(
        index_name_or_arn=arn,
        bucket_name_or_arn=BUCKET,
        sync_session=boto3.Session(region_name=REGION),
    )
    with pytest.raises(ClientError) as caught:
        store.add([TextNode(id_="x", text="x", embedding=embed("x"))])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    message = caught.value.response["Error"]["Message"]
    assert message == "Must specify either indexArn or both vectorBucketName and indexName"
