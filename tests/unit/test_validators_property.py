"""Property-based tests (hypothesis) for the request validators."""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3vl_lambda import limits
from s3vl_lambda.errors import S3vlError
from s3vl_lambda.fields import (
    check_key,
    check_metadata,
    check_vector,
    get_int,
    json_size,
    wire_size,
)
from s3vl_lambda.index_ref import parse_index_arn

FAST = settings(max_examples=60, deadline=None)

finite32 = st.floats(
    min_value=-limits.FLOAT32_MAX, max_value=limits.FLOAT32_MAX, allow_nan=False, width=32
)


@FAST
@given(st.lists(finite32, min_size=1, max_size=64))
def test_finite_float32_vectors_pass_unchanged(vector: list[float]) -> None:
    assert check_vector(vector, "v") == vector


@FAST
@given(
    st.lists(finite32, min_size=1, max_size=32),
    st.sampled_from([math.nan, math.inf, -math.inf, 3.5e38, -1e39]),
    st.data(),
)
def test_one_bad_value_is_named_by_position(
    vector: list[float], bad: float, data: st.DataObject
) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(vector)))
    vector.insert(i, bad)
    with pytest.raises(S3vlError) as info:
        check_vector(vector, "query_vector")
    assert info.value.field == f"query_vector[{i}]"
    assert "finite float32" in info.value.message


@FAST
@given(st.lists(st.one_of(st.text(max_size=3), st.none(), st.booleans()), min_size=1, max_size=5))
def test_non_numbers_are_refused(values: list[Any]) -> None:
    with pytest.raises(S3vlError) as info:
        check_vector(values, "v")
    assert info.value.field == "v[0]" and "number" in info.value.message


@FAST
@given(st.integers(min_value=limits.MAX_DIMENSION + 1, max_value=limits.MAX_DIMENSION + 50))
def test_dimension_above_the_limit(n: int) -> None:
    with pytest.raises(S3vlError) as info:
        check_vector([0.5] * n, "v")
    assert str(limits.MAX_DIMENSION) in info.value.message


@FAST
@given(st.text(min_size=0, max_size=1100))
def test_keys_by_length(key: str) -> None:
    if limits.MIN_KEY_LENGTH <= len(key) <= limits.MAX_KEY_LENGTH:
        assert check_key(key, "k") == key
    else:
        with pytest.raises(S3vlError) as info:
            check_key(key, "k")
        assert "1024" in info.value.message


@FAST
@given(st.integers(min_value=-20_000, max_value=20_000))
def test_top_k_range(n: int) -> None:
    req = {"top_k": n}
    if limits.MIN_TOP_K <= n <= limits.MAX_TOP_K:
        assert get_int(req, "top_k", 10, limits.MIN_TOP_K, limits.MAX_TOP_K) == n
    else:
        with pytest.raises(S3vlError) as info:
            get_int(req, "top_k", 10, limits.MIN_TOP_K, limits.MAX_TOP_K)
        assert info.value.field == "top_k" and str(limits.MAX_TOP_K) in info.value.message


json_scalar = st.one_of(st.text(max_size=40), st.integers(), st.booleans())


@FAST
@given(st.dictionaries(st.text(min_size=1, max_size=10), json_scalar, max_size=60))
def test_metadata_accepted_iff_within_limits(meta: dict[str, Any]) -> None:
    ok = len(meta) <= limits.MAX_METADATA_KEYS and (
        json_size(meta) <= limits.MAX_FILTERABLE_METADATA_BYTES
    )
    if ok:
        assert check_metadata(meta, "m", frozenset()) == meta
    else:
        with pytest.raises(S3vlError):
            check_metadata(meta, "m", frozenset())


name = st.from_regex(re.compile(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]"), fullmatch=True)


@FAST
@given(
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.sampled_from(["us-east-1", "cn-northwest-1", "us-gov-east-1", "ap-southeast-2"]),
    st.from_regex(re.compile(r"[0-9]{12}"), fullmatch=True),
    name,
    name,
)
def test_arn_round_trip(partition: str, region: str, account: str, bucket: str, index: str) -> None:
    arn = f"arn:{partition}:s3vectors:{region}:{account}:bucket/{bucket}/index/{index}"
    ref = parse_index_arn(arn)
    assert (ref.region, ref.bucket, ref.index, ref.arn) == (region, bucket, index, arn)


@FAST
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(min_value=-(10**40), max_value=10**40),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_fast_path_agrees_with_the_element_rule(values: list[Any]) -> None:
    def ok(x: Any) -> bool:
        return (
            not isinstance(x, bool)
            and isinstance(x, (int, float))
            and -limits.FLOAT32_MAX <= x <= limits.FLOAT32_MAX
        )

    if all(ok(x) for x in values):
        assert check_vector(values, "v") == values
    else:
        with pytest.raises(S3vlError) as info:
            check_vector(values, "v")
        first_bad = next(i for i, x in enumerate(values) if not ok(x))
        assert info.value.field == f"v[{first_bad}]"


@functools.lru_cache(maxsize=1)
def _put_operation() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("s3vectors").operation_model(
        "PutVectors"
    )


def _put_body_size(vectors: list[dict[str, Any]]) -> int:
    """Bytes of the PutVectors body botocore would send for `vectors`."""
    from botocore.serialize import create_serializer

    serializer = create_serializer("rest-json", include_validation=False)
    request = serializer.serialize_to_request(
        {"indexArn": "x", "vectors": vectors}, _put_operation()
    )
    return len(request["body"])


@FAST
@given(
    st.text(min_size=1, max_size=30),
    st.lists(finite32, min_size=1, max_size=16),
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=4),
)
def test_put_size_estimate_bounds_the_real_body(
    key: str, vector: list[float], metadata: dict[str, Any]
) -> None:
    from s3vl_lambda.index_info import IndexInfo
    from s3vl_lambda.operations.write import check_put_vector

    info = IndexInfo(None, "i", "b", len(vector), "euclidean", "float32", frozenset(), None)
    out, estimate = check_put_vector(
        {"key": key, "data": vector, "metadata": metadata}, 0, info
    )
    empty = _put_body_size([])
    assert _put_body_size([out]) - empty <= estimate


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@FAST
@given(json_values)
def test_sizes_are_the_lengths_of_the_compact_encodings(value: Any) -> None:
    # The fast paths (empty object, plain key) must give what json.dumps gives.
    utf8 = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert json_size(value) == len(utf8)
    assert wire_size(value) == len(json.dumps(value, separators=(",", ":")))


def _one_check(item: Any, i: int, info: Any) -> Any:
    from s3vl_lambda.operations.write import check_put_vector

    try:
        return check_put_vector(item, i, info)
    except S3vlError as err:
        return ("error", err.field, err.message)


_put_items = st.one_of(
    st.builds(lambda k, v: {"key": k, "data": v},
              st.text(min_size=0, max_size=4), st.lists(finite32, min_size=0, max_size=4)),
    st.builds(lambda k, v, m: {"key": k, "data": {"float32": v}, "metadata": m},
              st.text(min_size=1, max_size=4),
              st.lists(st.one_of(finite32, st.floats(), st.booleans(), st.integers(), st.none()),
                       min_size=3, max_size=3),
              st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3),
                              max_size=3)),
    st.builds(lambda v: {"key": "k", "data": v}, st.just([0.0, 0.0, 0.0])),
    st.none() | st.integers() | st.text(max_size=3),
)


@FAST
@given(st.lists(_put_items, min_size=1, max_size=6),
       st.sampled_from([None, "cosine", "euclidean"]))
def test_batch_check_agrees_with_one_vector_at_a_time(items: list[Any], metric: Any) -> None:
    """check_put_vectors (a fast path for well-formed batches) gives exactly the vectors, sizes
    and first error of check_put_vector applied in order."""
    from s3vl_lambda.index_info import IndexInfo
    from s3vl_lambda.operations.write import check_put_vectors

    info = (None if metric is None else
            IndexInfo(None, "i", "b", 3, metric, "float32", frozenset({"note"}), None))
    expected: Any = []
    for i, item in enumerate(items):
        one = _one_check(item, i, info)
        if isinstance(one, tuple) and one and one[0] == "error":
            expected = one
            break
        expected.append(one)
    try:
        got: Any = check_put_vectors(items, [info] * len(items))
    except S3vlError as err:
        got = ("error", err.field, err.message)
    assert got == expected


def test_batch_check_takes_the_fast_path_for_well_formed_vectors() -> None:
    from s3vl_lambda.index_info import IndexInfo
    from s3vl_lambda.operations import write

    info = IndexInfo(None, "i", "b", 3, "cosine", "float32", frozenset(), None)
    items = [{"key": f"k{i}", "data": [1.0, float(i), 0.5], "metadata": {"n": i}}
             for i in range(50)]
    fast = write._check_put_vectors_fast(items, [info] * 50)
    assert fast == [write.check_put_vector(item, i, info) for i, item in enumerate(items)]
    assert write.check_put_vectors([], []) == []
    # An earlier vector's bad number is the error, not a later vector's metadata that cannot
    # even be measured (a lone surrogate, which json.loads accepts).
    odd = [{"key": "a", "data": ["x", 1.0, 0.5]},
           {"key": "b", "data": [1.0, 0.0, 0.5], "metadata": {"note": "\ud800"}}]
    with pytest.raises(S3vlError) as caught:
        write.check_put_vectors(odd, [info] * 2)
    assert caught.value.field == "vectors[0].data[0]"
    items[7]["data"] = [1.0, float("nan"), 0.5]
    assert write._check_put_vectors_fast(items, [info] * 50) is None
    with pytest.raises(S3vlError) as caught:
        write.check_put_vectors(items, [info] * 50)
    assert caught.value.field == "vectors[7].data[1]"
