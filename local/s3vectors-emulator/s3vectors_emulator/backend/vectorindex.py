"""One vector index: its vectors, metadata, text search configurations, writes and searches.

The vectors live in one contiguous float32 matrix that grows fourfold when full, so a put is
amortised O(1) per vector and a query never rebuilds anything. Deleting a vector moves the last
row into its slot. Requests arrive here already parsed and shape-checked; this module enforces
what needs the index (dimension, metric, metadata rules).
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from s3vectors_emulator import codec
from s3vectors_emulator import constants as c
from s3vectors_emulator import messages as m
from s3vectors_emulator.backend.columns import ColumnCache, filter_mask
from s3vectors_emulator.exceptions import ValidationError
from s3vectors_emulator.names import index_arn
from s3vectors_emulator.search.filters import Node
from s3vectors_emulator.search.knn import nearest
from s3vectors_emulator.search.text import DocIds
from s3vectors_emulator.search.textindex import TextConfig

F32 = npt.NDArray[np.float32]
Metadata = dict[str, Any]

_INDEX_SERIALS = itertools.count(1)


def metadata_bytes(metadata: Mapping[str, Any]) -> int:
    """Size of metadata as the emulator counts it: UTF-8 bytes of its compact JSON encoding."""
    return len(codec.dumps(metadata))


def _check_metadata_value(key: str, value: object, where: str) -> None:
    primitive = (str, bool, int, float)
    items = value if isinstance(value, list) else [value]
    if all(isinstance(v, primitive) for v in items):
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValidationError(f"{where}: metadata value of '{key}' is NaN or infinity", where)
        return
    raise ValidationError(
        f"{where}: metadata value of '{key}' must be a string, number, boolean or an array of "
        "those",
        where,
    )


@dataclass
class VectorIndex:
    region: str
    bucket_name: str
    name: str
    dimension: int
    distance_metric: str
    non_filterable_keys: tuple[str, ...] = ()
    encryption: dict[str, str] | None = None
    creation_time: float = field(default_factory=time.time)
    index_mode: str = "ENHANCED"
    text: dict[str, TextConfig] = field(default_factory=dict)
    text_ids: DocIds = field(default_factory=DocIds, repr=False)
    data: F32 = field(init=False)
    aux: F32 = field(init=False)
    keys: list[str] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)
    row_of: dict[str, int] = field(default_factory=dict)
    version: int = 0
    _sorted_keys: list[str] | None = field(default=None, init=False, repr=False)
    _columns: ColumnCache = field(default_factory=ColumnCache, init=False, repr=False)
    # Unique per index object in this process (unlike id()), so snapshots can tell a recreated
    # index of the same name from the one they last wrote.
    serial: int = field(default_factory=lambda: next(_INDEX_SERIALS), init=False)

    def __post_init__(self) -> None:
        self.data = np.empty((16, self.dimension), dtype=np.float32)
        self.aux = np.empty(16, dtype=np.float32)

    @property
    def arn(self) -> str:
        return index_arn(self.region, self.bucket_name, self.name)

    @property
    def count(self) -> int:
        return len(self.keys)

    def matrix(self) -> F32:
        return self.data[: self.count]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.name,
            "indexArn": self.arn,
            "creationTime": self.creation_time,
            "dataType": "float32",
            "dimension": self.dimension,
            "distanceMetric": self.distance_metric,
            "metadataConfiguration": {"nonFilterableMetadataKeys": list(self.non_filterable_keys)},
            "indexMode": self.index_mode,
        }
        if self.text:
            out["metadataConfiguration"]["textSearchConfigurations"] = [
                config.describe() for config in self.text.values()
            ]
        if self.encryption:
            out["encryptionConfiguration"] = dict(self.encryption)
        return out

    # ---- writes -------------------------------------------------------------------------------

    def _first_unusable(self, block: F32) -> tuple[int, bool] | None:
        """(row, all zeros) of the first row holding NaN/infinity, or all zeros on cosine."""
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            return int(np.argmin(finite)), False
        if self.distance_metric == "cosine":
            nonzero = np.any(block != 0, axis=1)
            if not nonzero.all():
                return int(np.argmin(nonzero)), True
        return None

    def check_vectors(self, keys: Sequence[str], block: F32) -> None:
        """Reject NaN/infinity and zero vectors on cosine, naming the first offending key."""
        bad = self._first_unusable(block)
        if bad is None:
            return
        row, zero = bad
        reason = (
            "is all zeros, which has no direction for the cosine distance metric"
            if zero
            else "contains NaN or infinity (or a value outside float32 range)"
        )
        raise ValidationError(m.invalid_record(keys[row], f"vector {reason}"), "vectors")

    def check_query(self, block: F32) -> None:
        bad = self._first_unusable(block)
        if bad is None:
            return
        reason = (
            "an all-zero vector has no direction for the cosine distance metric"
            if bad[1]
            else "contains NaN or infinity (or a value outside float32 range)"
        )
        raise ValidationError(f"queryVector: {reason}", "queryVector")

    def check_metadata(self, key: str, metadata: Metadata) -> None:
        where = "vectors.metadata"
        if len(metadata) > c.METADATA_KEYS_MAX:
            raise ValidationError(
                m.invalid_record(
                    key,
                    f"Metadata must have at most {c.METADATA_KEYS_MAX} keys, but has "
                    f"{len(metadata)}",
                ),
                where,
            )
        for name, value in metadata.items():
            kind = type(value)
            # Strings, integers, booleans and finite floats need no more look (the common case).
            if kind is str or kind is int or kind is bool or (kind is float and value - value == 0):
                continue
            _check_metadata_value(name, value, where)
        total = metadata_bytes(metadata)
        if total > c.METADATA_TOTAL_BYTES_MAX:
            raise ValidationError(
                m.invalid_record(
                    key,
                    f"Metadata must have at most {c.METADATA_TOTAL_BYTES_MAX} bytes, but has "
                    f"{total}",
                ),
                where,
            )
        size = total
        if any(k in metadata for k in self.non_filterable_keys):
            filterable = {k: v for k, v in metadata.items() if k not in self.non_filterable_keys}
            size = metadata_bytes(filterable)
        if size > c.METADATA_FILTERABLE_BYTES_MAX:
            raise ValidationError(
                m.invalid_record(
                    key,
                    f"Filterable metadata must have at most {c.METADATA_FILTERABLE_BYTES_MAX} "
                    f"bytes, but has {size} (declare large keys in nonFilterableMetadataKeys)",
                ),
                where,
            )

    def _reserve(self, needed: int) -> None:
        capacity = self.data.shape[0]
        if needed <= capacity:
            return
        # x4: growing copies every row (300 MB at 100k x 768), so grow rarely; pages that are
        # never written are never touched, so unused capacity costs address space only.
        new_capacity = max(needed, capacity * 4)
        grown = np.empty((new_capacity, self.dimension), dtype=np.float32)
        grown[: self.count] = self.data[: self.count]
        aux = np.empty(new_capacity, dtype=np.float32)
        aux[: self.count] = self.aux[: self.count]
        self.data, self.aux = grown, aux

    def _row_aux(self, block: F32) -> F32:
        wide = block.astype(np.float64)
        squares = np.einsum("ij,ij->i", wide, wide)
        if self.distance_metric == "cosine":
            return (1.0 / np.sqrt(squares)).astype(np.float32)  # type: ignore[no-any-return]
        return squares.astype(np.float32)  # type: ignore[no-any-return]

    def put(self, keys: Sequence[str], block: F32, metadata: Sequence[Metadata]) -> None:
        """Insert or overwrite; everything is validated already, so this cannot fail half-way."""
        aux = self._row_aux(block)
        self._reserve(self.count + len(keys))
        row_of, all_keys, all_metadata = self.row_of, self.keys, self.metadata
        rows: list[int] = []
        for key, meta in zip(keys, metadata, strict=True):
            row = row_of.get(key)
            for config in self.text.values():
                config.update(key, meta, row is not None)
            if row is None:
                row = len(all_keys)
                row_of[key] = row
                all_keys.append(key)
                all_metadata.append(meta)
            else:
                all_metadata[row] = meta
            rows.append(row)
        first = rows[0] if rows else 0
        if rows == list(range(first, first + len(rows))):
            # New keys only (the usual load): they take consecutive rows, a plain slice copy.
            self.data[first : first + len(rows)] = block
            self.aux[first : first + len(rows)] = aux
        else:
            # One fancy-indexed copy; with a key twice in one call the later row wins, as it
            # would row by row (numpy assigns in index order).
            self.data[np.array(rows, dtype=np.intp)] = block
            self.aux[np.array(rows, dtype=np.intp)] = aux
        self._changed()

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            row = self.row_of.pop(key, None)
            if row is None:
                continue
            for config in self.text.values():
                config.field.delete(key)
            last = self.count - 1
            if row != last:
                moved = self.keys[last]
                self.data[row] = self.data[last]
                self.aux[row] = self.aux[last]
                self.keys[row] = moved
                self.metadata[row] = self.metadata[last]
                self.row_of[moved] = row
            self.keys.pop()
            self.metadata.pop()
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._sorted_keys = None

    # ---- reads --------------------------------------------------------------------------------

    def vector(self, row: int) -> list[float]:
        return [float(x) for x in self.data[row].tolist()]

    def rows_of(self, keys: Iterable[str]) -> list[int]:
        """Rows of the keys that exist, in request order, each once."""
        rows, seen = [], set()
        for key in keys:
            row = self.row_of.get(key)
            if row is None or key in seen:
                continue
            seen.add(key)
            rows.append(row)
        return rows

    def sorted_keys(self) -> list[str]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.keys)
        return self._sorted_keys

    def list_page(
        self, segment_count: int, segment_index: int, after: str | None, limit: int, row_bytes: int
    ) -> tuple[list[int], str | None]:
        """Rows of the next page of one segment in key order, and the last key if more remain.

        A page holds at most `limit` vectors and stops once about 1 MiB of data was gathered.
        """
        ordered = self.sorted_keys()
        start = 0 if after is None else bisect.bisect_right(ordered, after)
        rows: list[int] = []
        budget = 1024 * 1024
        for key in ordered[start:]:
            if segment_count > 1 and zlib.crc32(key.encode()) % segment_count != segment_index:
                continue
            if len(rows) == limit or budget <= 0:
                return rows, self.keys[rows[-1]]
            row = self.row_of[key]
            rows.append(row)
            budget -= row_bytes + len(key)
        return rows, None

    def mask(self, where: Node | None) -> npt.NDArray[np.bool_] | None:
        if where is None:
            return None
        return filter_mask(where, self.metadata, self.version, self._columns)

    def allowed_keys(self, mask: npt.NDArray[np.bool_] | None) -> set[str] | None:
        """Keys of the vectors a filter's mask passes (None: no filter)."""
        if mask is None:
            return None
        keys = self.keys
        return {keys[row] for row in np.flatnonzero(mask).tolist()}

    def query(
        self, vector: F32, top_k: int, mask: npt.NDArray[np.bool_] | None, classic: bool = False
    ) -> list[tuple[int, float]]:
        """Nearest rows by ascending distance. ENHANCED: the filter selects the candidates
        first, so min(topK, matches) rows come back. CLASSIC: the filter applies to the
        CLASSIC_CANDIDATE_FACTOR x topK nearest vectors, so fewer than topK may come back.
        `mask` is the filter's (self.mask(where)), computed once by the caller."""
        matrix, aux = self.matrix(), self.aux[: self.count]
        if classic and mask is not None:
            depth = top_k * c.CLASSIC_CANDIDATE_FACTOR
            rows, distances = nearest(matrix, aux, vector, self.distance_metric, depth)
            keep = mask[rows]
            rows, distances = rows[keep][:top_k], distances[keep][:top_k]
        else:
            rows, distances = nearest(matrix, aux, vector, self.distance_metric, top_k, mask)
        return list(zip(rows.tolist(), distances.tolist(), strict=True))

    # ---- text search configurations -----------------------------------------------------------

    def add_text(
        self, configs: Sequence[tuple[str, str | None]], ready_at: float, backfill: bool = False
    ) -> list[TextConfig]:
        """Add configurations. Without `backfill` the existing vectors are indexed now; with it
        the configurations start unbuilt and the caller feeds `backfill_text` slices of keys."""
        added = []
        for key, language in configs:
            config = TextConfig(key, language, ready_at, self.text_ids, built=not backfill)
            if not backfill:
                config.index_all(self.keys, self.metadata)
            self.text[key] = config
            added.append(config)
        self._changed()
        return added

    def backfill_text(self, configs: Sequence[TextConfig], keys: Sequence[str]) -> None:
        """One slice of a backfill, run under the write lock: the current metadata of `keys`."""
        row_of, metadata = self.row_of, self.metadata
        current = {key: metadata[row_of[key]] for key in keys if key in row_of}
        for config in configs:
            if not config.dropped:
                config.backfill(keys, current)

    def require_enhanced_for_text(self) -> None:
        if self.index_mode != "ENHANCED":
            raise ValidationError(
                f"indexArn: index '{self.name}' is CLASSIC; text search configurations need an "
                "ENHANCED index (UpdateIndexMode)",
                "indexArn",
            )

    def delete_text_configs(self, keys: Sequence[str], where: str) -> None:
        for key in keys:
            if key not in self.text:
                raise ValidationError(
                    f"{where}: metadata key '{key}' has no text search configuration", where
                )
        self.drop_text(keys)

    def drop_text(self, keys: Iterable[str]) -> None:
        for key in keys:
            config = self.text.pop(key, None)
            if config is None:
                continue
            config.dropped = True
            config.field.clear()  # releases its hold on the ids shared with other configurations
        self._changed()
