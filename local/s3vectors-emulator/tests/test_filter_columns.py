"""The vectorised filter path (`columns.filter_mask`) agrees with the reference `filters.matches`
on random metadata and random filters, including lists, missing keys and mixed types."""

from __future__ import annotations

import random
from typing import Any

import pytest

from s3vectors_emulator.backend.columns import ColumnCache, filter_mask
from s3vectors_emulator.search.filters import compile_filter, matches

KEYS = ["a", "b", "c"]
SCALARS: list[Any] = ["x", "y", "xy", "", 0, 1, 2.5, -3, True, False]


def random_value(rng: random.Random) -> Any:
    if rng.random() < 0.25:
        return [rng.choice(SCALARS) for _ in range(rng.randint(0, 3))]
    return rng.choice(SCALARS)


def random_metadata(rng: random.Random) -> dict[str, Any]:
    return {k: random_value(rng) for k in KEYS if rng.random() < 0.7}


def random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.3:
        op = rng.choice(["$and", "$or"])
        return {op: [random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    key = rng.choice(KEYS)
    op = rng.choice(
        [
            "$eq",
            "$ne",
            "$gt",
            "$gte",
            "$lt",
            "$lte",
            "$in",
            "$nin",
            "$exists",
            "$startsWith",
            "implicit",
        ]
    )
    scalar = rng.choice(SCALARS)
    if op == "implicit":
        return {key: scalar}
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {key: {op: rng.choice([0, 1, 2.5, -3])}}
    if op in ("$in", "$nin"):
        return {key: {op: rng.sample(SCALARS, rng.randint(1, 3))}}
    if op == "$exists":
        return {key: {op: rng.random() < 0.5}}
    if op == "$startsWith":
        return {key: {op: rng.choice(["x", "", "y"])}}
    return {key: {op: scalar}}


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_filter_equals_reference(seed: int) -> None:
    rng = random.Random(seed)
    metadata = [random_metadata(rng) for _ in range(300)]
    cache = ColumnCache()
    for _ in range(200):
        raw = random_filter(rng)
        node = compile_filter(raw)
        expected = [matches(node, md) for md in metadata]
        got = filter_mask(node, metadata, version=1, cache=cache).tolist()
        assert got == expected, raw
