"""Vectorised filter evaluation: per-key metadata columns and boolean masks over an index.

A filtered query over 100,000 vectors would spend most of its time calling a Python predicate
per vector. Instead each filtered key gets a column (built once per index version, then reused
by every query until the next write): numbers as float64, strings as integer codes, booleans as
int8, plus the few rows whose value is a list, which keep the reference Python evaluation.
`filters.matches` stays the single definition of the semantics; tests compare both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from s3vectors_emulator.search.filters import (
    NEGATED,
    Condition,
    Logical,
    Node,
    is_number,
    value_matches,
)

Mask = npt.NDArray[np.bool_]

_NOT_STRING = -1
_UNKNOWN_STRING = -2


@dataclass
class Column:
    present: Mask
    numbers: npt.NDArray[np.float64]  # NaN where the value is not a number
    codes: npt.NDArray[np.int32]  # string code, -1 where the value is not a string
    booleans: npt.NDArray[np.int8]  # 0/1, -1 where the value is not a boolean
    vocabulary: dict[str, int] = field(default_factory=dict)
    list_rows: list[int] = field(default_factory=list)
    list_values: list[list[Any]] = field(default_factory=list)


def build_column(metadata: Sequence[dict[str, Any]], key: str) -> Column:
    count = len(metadata)
    column = Column(
        present=np.zeros(count, dtype=bool),
        numbers=np.full(count, np.nan),
        codes=np.full(count, _NOT_STRING, dtype=np.int32),
        booleans=np.full(count, -1, dtype=np.int8),
    )
    vocabulary = column.vocabulary
    for row, md in enumerate(metadata):
        if key not in md:
            continue
        value = md[key]
        column.present[row] = True
        if isinstance(value, bool):
            column.booleans[row] = int(value)
        elif isinstance(value, str):
            column.codes[row] = vocabulary.setdefault(value, len(vocabulary))
        elif is_number(value):
            column.numbers[row] = value
        elif isinstance(value, list):
            column.list_rows.append(row)
            column.list_values.append(value)
    return column


def _scalar_equal(column: Column, arg: object) -> Mask:
    if isinstance(arg, bool):
        return np.equal(column.booleans, int(arg))
    if isinstance(arg, str):
        return np.equal(column.codes, column.vocabulary.get(arg, _UNKNOWN_STRING))
    assert isinstance(arg, int | float)
    return np.equal(column.numbers, float(arg))


def _positive(column: Column, op: str, arg: Any) -> Mask:
    """Rows whose present value satisfies a positive operator ($eq $in ranges $startsWith)."""
    if op == "$eq":
        mask = _scalar_equal(column, arg)
    elif op == "$in":
        mask = np.zeros(column.present.shape, dtype=bool)
        for value in arg:
            mask |= _scalar_equal(column, value)
    elif op == "$gt":
        mask = column.numbers > arg
    elif op == "$gte":
        mask = column.numbers >= arg
    elif op == "$lt":
        mask = column.numbers < arg
    elif op == "$lte":
        mask = column.numbers <= arg
    else:  # $startsWith
        codes = [code for text, code in column.vocabulary.items() if text.startswith(arg)]
        mask = np.isin(column.codes, codes)
    for row, value in zip(column.list_rows, column.list_values, strict=True):
        mask[row] = value_matches(op, value, arg)
    return mask


class ColumnCache:
    """Columns of one index, valid for one index version."""

    def __init__(self) -> None:
        self.version = -1
        self.columns: dict[str, Column] = {}

    def column(self, metadata: Sequence[dict[str, Any]], version: int, key: str) -> Column:
        if version != self.version:
            self.version, self.columns = version, {}
        found = self.columns.get(key)
        if found is None:
            found = self.columns[key] = build_column(metadata, key)
        return found


def filter_mask(
    node: Node, metadata: Sequence[dict[str, Any]], version: int, cache: ColumnCache
) -> Mask:
    """Boolean mask of the rows matching `node`, identical to `filters.matches` per row."""
    if isinstance(node, Logical):
        masks = [filter_mask(part, metadata, version, cache) for part in node.parts]
        combined = masks[0].copy()
        for mask in masks[1:]:
            if node.op == "$and":
                combined &= mask
            else:
                combined |= mask
        return combined
    assert isinstance(node, Condition)
    column = cache.column(metadata, version, node.key)
    if node.op == "$exists":
        return column.present.copy() if node.arg else ~column.present
    if node.op in NEGATED:
        return ~(column.present & _positive(column, NEGATED[node.op], node.arg))
    return column.present & _positive(column, node.op, node.arg)
