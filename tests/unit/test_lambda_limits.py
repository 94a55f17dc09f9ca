"""The limits module agrees with the botocore service model and the service facts."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from s3vl_lambda import limits


@pytest.fixture(scope="module")
def model() -> Any:
    return botocore.session.get_session().get_service_model("s3vectors")


@pytest.mark.parametrize(
    ("shape", "low", "high"),
    [
        ("Dimension", limits.MIN_DIMENSION, limits.MAX_DIMENSION),
        ("VectorKey", limits.MIN_KEY_LENGTH, limits.MAX_KEY_LENGTH),
        ("PutVectorsInputList", 1, limits.MAX_PUT_VECTORS_PER_CALL),
        ("GetVectorsInputList", 1, limits.MAX_GET_KEYS_PER_CALL),
        ("DeleteVectorsInputList", 1, limits.MAX_DELETE_KEYS_PER_CALL),
        ("ListVectorsMaxResults", limits.MIN_LIST_MAX_RESULTS, limits.MAX_LIST_MAX_RESULTS),
        ("ListVectorsSegmentCount", limits.MIN_SEGMENT_COUNT, limits.MAX_SEGMENT_COUNT),
        ("VectorBucketName", limits.MIN_NAME_LENGTH, limits.MAX_NAME_LENGTH),
        ("IndexName", limits.MIN_NAME_LENGTH, limits.MAX_NAME_LENGTH),
        ("QueryTextList", limits.MIN_QUERY_TEXTS, limits.MAX_QUERY_TEXTS),
        ("QueryTextString", limits.MIN_QUERY_TEXT_LENGTH, limits.MAX_QUERY_TEXT_LENGTH),
        ("MetadataKey", limits.MIN_METADATA_KEY_LENGTH, limits.MAX_METADATA_KEY_LENGTH),
        ("QueryVectorsNextToken", limits.MIN_NEXT_TOKEN_LENGTH, limits.MAX_NEXT_TOKEN_LENGTH),
        ("TextSearchConfigurationKeys", limits.MIN_TEXT_SEARCH_CONFIGS,
         limits.MAX_TEXT_SEARCH_CONFIGS),
    ],
)
def test_limits_match_the_service_model(model: Any, shape: str, low: int, high: int) -> None:
    meta = model.shape_for(shape).metadata
    assert meta.get("min") == low
    assert meta.get("max") == high


def test_top_k_has_the_documented_range(model: Any) -> None:
    assert model.shape_for("TopK").metadata.get("min") == limits.MIN_TOP_K
    assert limits.MAX_TOP_K == 10_000  # facts §1.1: 10,000 since 2026-06 (paged)


def test_distance_metrics_match_the_model(model: Any) -> None:
    assert set(model.shape_for("DistanceMetric").enum) == set(limits.DISTANCE_METRICS)


def test_text_search_enums_match_the_model(model: Any) -> None:
    assert set(model.shape_for("LanguageCode").enum) == set(limits.TEXT_SEARCH_LANGUAGES)
    assert set(model.shape_for("IndexMode").enum) == set(limits.INDEX_MODES)
    add = model.shape_for("MetadataConfigurationAddTextSearchConfigurationsList").metadata
    assert add.get("max") == limits.MAX_TEXT_SEARCH_CONFIGS


def test_float32_max() -> None:
    import struct

    assert struct.unpack("f", struct.pack("f", limits.FLOAT32_MAX))[0] == limits.FLOAT32_MAX
    # Beyond the limit, float32 rounds to infinity, which the service rejects.
    beyond = struct.unpack("f", struct.pack("f", limits.FLOAT32_MAX * 1.001))[0]
    assert beyond == float("inf")
