"""The function's filter evaluator (lambda/s3vl_lambda/metadata_filter.py) against the emulator's
QueryVectors filter (s3vectors_emulator/search/filters.py): for random filters, valid or not, both
accept or both refuse; for accepted ones, both give the same answer on random metadata."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3vectors_emulator.exceptions import ValidationError as EmulatorValidationError
from s3vectors_emulator.search import filters as emulator_filters
from s3vl_lambda.errors import S3vlError
from s3vl_lambda.metadata_filter import compile_filter

KEYS = ["genre", "year", "tags", "", "$x"]
STRINGS = st.sampled_from(["news", "sport", "ne", "", "2024"])
NUMBERS = st.one_of(st.integers(-3, 2030), st.sampled_from([0.5, 2024.0, -1.5, 1e300]))
SCALARS = st.one_of(STRINGS, NUMBERS, st.booleans())
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4))
OPERANDS = st.one_of(VALUES, st.none(), st.dictionaries(st.just("k"), SCALARS, max_size=1))
OPERATORS = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
                             "$exists", "$startsWith", "$regex"])
METADATA = st.dictionaries(st.sampled_from([*KEYS[:3], "other"]), VALUES, max_size=4)


def _conditions() -> st.SearchStrategy[Any]:
    field = st.one_of(
        SCALARS,  # implicit $eq
        st.dictionaries(OPERATORS, OPERANDS, min_size=0, max_size=2),
        st.lists(SCALARS, max_size=2),  # not a valid implicit operand
    )
    return st.dictionaries(st.sampled_from(KEYS), field, min_size=0, max_size=2)


FILTERS = st.recursive(
    _conditions(),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(["$and", "$or", "$not"]), st.lists(inner, max_size=3),
                        min_size=1, max_size=1),
        st.tuples(inner, inner).map(lambda pair: {**pair[0], **pair[1]}),
    ),
    max_leaves=12,
)


def _emulator(node: Any, non_filterable: frozenset[str]) -> Any:
    try:
        return emulator_filters.compile_filter(node, non_filterable)
    except EmulatorValidationError:
        return None


def _function(node: Any, non_filterable: frozenset[str]) -> Any:
    try:
        return compile_filter(node, non_filterable)
    except S3vlError as err:
        assert err.error_type == "ValidationError" and err.field == "metadata_filter"
        return None


@settings(max_examples=600, deadline=None)
@given(node=FILTERS, metadata=st.lists(METADATA, min_size=1, max_size=6),
       non_filterable=st.sampled_from([frozenset(), frozenset({"tags"})]))
def test_function_filter_agrees_with_emulator(node: Any, metadata: list[dict[str, Any]],
                                              non_filterable: frozenset[str]) -> None:
    emulated = _emulator(node, non_filterable)
    ours = _function(node, non_filterable)
    assert (emulated is None) == (ours is None), node
    if ours is None:
        return
    for m in metadata:
        assert ours(m) == emulator_filters.matches(emulated, m), (node, m)


@pytest.mark.parametrize(("node", "metadata", "expected"), [
    ({"genre": "news"}, {"genre": ["sport", "news"]}, True),  # $eq on a list: any element
    ({"genre": {"$ne": "news"}}, {}, True),  # $ne matches a missing key
    ({"year": {"$gt": 2020}}, {"year": "2024"}, False),  # no coercion
    ({"year": {"$in": [1]}}, {"year": True}, False),  # true is not 1
    ({"$or": [{"a": {"$exists": False}}, {"a": 1}]}, {"a": 1.0}, True),
    ({"tags": {"$nin": ["x"]}}, {"tags": ["y", "x"]}, False),
    ({"year": {"$gte": 2020, "$lt": 2024}}, {"year": 2023}, True),
])
def test_documented_semantics(node: Any, metadata: dict[str, Any], expected: bool) -> None:
    assert compile_filter(node)(metadata) is expected
    assert emulator_filters.matches(emulator_filters.compile_filter(node), metadata) is expected


@pytest.mark.parametrize("node", [
    {}, {"$and": []}, {"a": {"$regex": "x"}}, {"a": {"$in": []}}, {"a": {"$gt": "1"}},
    {"a": [1]}, {"a": {"$exists": 1}}, {"$not": [{"a": 1}]},
    {"a": {"$in": list(range(101))}},
])
def test_malformed_filters_are_refused(node: Any) -> None:
    with pytest.raises(S3vlError) as caught:
        compile_filter(node)
    assert caught.value.field == "metadata_filter"


def test_the_function_does_not_import_the_emulator() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lambda" / "s3vl_lambda"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import s3vl_local" not in text and "from s3vl_local" not in text, path


def test_constraint_and_depth_limits_are_the_emulators() -> None:
    from s3vectors_emulator import constants
    from s3vl_lambda import limits

    assert limits.MAX_FILTER_CONSTRAINTS == constants.FILTER_CONSTRAINTS_MAX
    assert limits.MAX_FILTER_DEPTH == constants.FILTER_DEPTH_MAX
