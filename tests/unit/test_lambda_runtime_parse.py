"""The local runtime parses an event as the stdlib json module does, fast path or not."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3vl_local.lambda_endpoint import runtime
from s3vl_local.lambda_endpoint.runtime import InvalidRequestContent, parse_event

events = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=80, deadline=None)
@given(events)
def test_any_event_parses_as_json_does(event: Any) -> None:
    body = json.dumps(event).encode()
    assert parse_event(body) == json.loads(body)


@pytest.mark.parametrize("body, expected", [
    (b'{"top_k": 123456789012345678901234567890}', {"top_k": 123456789012345678901234567890}),
    (b'{"a": 1, "a": 2}', {"a": 2}),
    (b"[1e400]", [math.inf]),
    (b"[[1, 2], [3, 123456789012345678901234]]", [[1, 2], [3, 123456789012345678901234]]),
    (b'{"a": [{"b": -123456789012345678901234}]}', {"a": [{"b": -123456789012345678901234}]}),
    (b"[1.5e19, 18446744073709551615]", [1.5e19, 18446744073709551615]),
    (b"  ", {}),
])
def test_what_orjson_reads_otherwise_falls_back(body: bytes, expected: Any) -> None:
    got = parse_event(body)
    assert got == expected
    assert repr(got) == repr(expected)  # ints stay ints, floats floats


def test_nan_is_accepted_as_json_accepts_it() -> None:
    assert math.isnan(parse_event(b"[NaN]")[0])


def test_invalid_json_is_worded_by_json() -> None:
    with pytest.raises(InvalidRequestContent, match=r"Expecting value at line 1, column 7"):
        parse_event(b'{"a": }')


def test_a_batch_of_vectors_takes_the_fast_path() -> None:
    body = json.dumps({"vectors": [{"key": f"k{i}", "data": [0.25] * 8} for i in range(50)]})
    assert runtime._parse_fast(body.encode()) is not runtime._NOT_PARSED


def test_long_fractions_stay_on_the_fast_path() -> None:
    # float8 output as PostgreSQL writes it: up to 17 significant digits after leading zeros.
    body = b'{"data": [0.00012345678901234567, -1.2345678901234567e-05, 123456789.12345678]}'
    assert runtime._parse_fast(body) == json.loads(body)


def test_a_long_negative_integer_is_read_by_json() -> None:
    assert runtime._parse_fast(b"[-12345678901234567890123]") is runtime._NOT_PARSED
