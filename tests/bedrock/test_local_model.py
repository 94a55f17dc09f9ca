"""The local Bedrock Runtime's model: all-MiniLM-L6-v2 in numpy gives sentence-transformers'
vectors, texts that mean the same are closer than texts that do not, and the 384 -> 256/512/1024
maps are deterministic (512 and 1024 isometric, 256 a documented lossy projection)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s3vl_local.bedrock import dimensions, minilm, titan
from s3vl_local.demo import data as demo_data

# (text, same meaning, different meaning)
PAIRS = [
    ("wireless earbuds", "bluetooth in-ear headphones", "cast iron skillet"),
    ("a comfortable chair for my back", "ergonomic office seating", "waterproof camping tent"),
    ("make espresso at home", "coffee machine for the kitchen", "fast gaming laptop"),
    ("The cat sat on the mat.", "A kitten was sitting on the rug.", "Stock markets fell sharply."),
]


@pytest.fixture(scope="module")
def model() -> minilm.MiniLM:
    return minilm.shared()


def test_same_vectors_as_sentence_transformers(model: minilm.MiniLM) -> None:
    """data/demo/product_embeddings.npy was computed by sentence-transformers' encode."""
    data = demo_data.load()
    picks = [0, 7, 123, 299]
    texts = [f"{data.products[i].name}. {data.products[i].description}" for i in picks]
    ours = minilm.normalize(model.encode(texts).vectors)
    theirs = data.product_vectors[picks]
    assert np.abs(ours - theirs).max() < 1e-5
    # one at a time (no padding) gives the same vector as in a padded batch
    alone = minilm.normalize(model.encode(texts[:1]).vectors)
    assert np.abs(alone[0] - ours[0]).max() < 1e-5


@pytest.mark.parametrize("dimension", [256, 512, 1024])
def test_texts_meaning_the_same_are_closer(dimension: int) -> None:
    for text, same, other in PAIRS:
        vectors = [titan.answer(titan.parse(titan.TITAN_V2, {"inputText": t,
                                                            "dimensions": dimension}))
                   ["embedding"] for t in (text, same, other)]
        assert all(len(v) == dimension for v in vectors)
        near = titan.cosine(vectors[0], vectors[1])
        far = titan.cosine(vectors[0], vectors[2])
        assert near > far + 0.2, (text, near, far)


def test_isometric_maps_keep_cosine_exactly(model: minilm.MiniLM) -> None:
    texts = [t for pair in PAIRS for t in pair]
    native = minilm.normalize(model.encode(texts).vectors).astype(np.float64)
    for dimension in (512, 1024):
        q = dimensions.basis(dimension).astype(np.float64)
        assert q.shape == (dimension, minilm.NATIVE_DIMENSION)
        assert np.abs(q.T @ q - np.eye(minilm.NATIVE_DIMENSION)).max() < 1e-5
        mapped = dimensions.to_dimension(native.astype(np.float32), dimension).astype(np.float64)
        assert np.abs(mapped @ mapped.T - native @ native.T).max() < 1e-5
        assert dimensions.isometric(dimension)


def test_projection_to_256_is_lossy_but_close(model: minilm.MiniLM) -> None:
    texts = [t for pair in PAIRS for t in pair]
    native = minilm.normalize(model.encode(texts).vectors).astype(np.float64)
    projected = minilm.normalize(dimensions.to_dimension(native.astype(np.float32), 256))
    errors = [abs(float(native[i] @ native[j]) - float(projected[i] @ projected[j]))
              for i, j in itertools.combinations(range(len(texts)), 2)]
    assert not dimensions.isometric(256)
    assert 0 < max(errors) < 0.15  # docs/embeddings.md gives the measured figures
    assert float(np.mean(errors)) < 0.06


def test_maps_are_deterministic() -> None:
    dimensions.basis.cache_clear()
    first = dimensions.basis(512).copy()
    dimensions.basis.cache_clear()
    assert np.array_equal(first, dimensions.basis(512))
    assert not np.array_equal(dimensions.basis(1024)[:512], first)


def test_request_checks() -> None:
    with pytest.raises(titan.BedrockError) as err:
        titan.parse("amazon.titan-embed-text-v1", {"inputText": "x"})
    assert err.value.code == "ResourceNotFoundException"
    for body, words in (({"inputText": ""}, "minLength"),
                        ({"inputText": "x" * 50_001}, "maxLength: 50000"),
                        ({}, "required key [inputText]"),
                        ({"inputText": "x", "dimensions": 384}, "dimensions"),
                        ({"inputText": "x", "normalize": "yes"}, "normalize"),
                        ({"inputText": "x", "colour": 1}, "extraneous key [colour]")):
        with pytest.raises(titan.BedrockError) as err:
            titan.parse(titan.TITAN_V2, body)
        assert err.value.code == "ValidationException" and words in err.value.message
    assert titan.parse(titan.TITAN_V2, {"inputText": "x"}).dimension == 1024  # Titan's default
