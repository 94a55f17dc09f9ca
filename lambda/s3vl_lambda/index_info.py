"""GetIndex, cached per index for the life of the execution environment.

The cache is read only for what cannot change after CreateIndex (dimension, metric, non-filterable
keys), and an entry is dropped when the service says the index is gone or rejects a request. The
index mode and text search configurations can change, so only get_index reports them, from a
fresh GetIndex.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .deadline import Deadline
from .errors import ACCESS_DENIED, NOT_FOUND, VALIDATION_ERROR, S3vlError
from .index_ref import IndexRef
from .service import call


@dataclass(frozen=True)
class IndexInfo:
    index_arn: str | None
    index_name: str
    vector_bucket_name: str
    dimension: int
    distance_metric: str
    data_type: str
    non_filterable_metadata_keys: frozenset[str]
    creation_time: str | None
    index_mode: str | None = None
    # (metadata_key, language or None, status or None), in the service's order
    text_search: tuple[tuple[str, str | None, str | None], ...] = ()

    def to_result(self) -> dict[str, Any]:
        return {
            "index_arn": self.index_arn,
            "index_name": self.index_name,
            "vector_bucket_name": self.vector_bucket_name,
            "dimension": self.dimension,
            "distance_metric": self.distance_metric,
            "data_type": self.data_type,
            "non_filterable_metadata_keys": sorted(self.non_filterable_metadata_keys),
            "creation_time": self.creation_time,
            "index_mode": self.index_mode,
            "text_search": [
                {"metadata_key": key, "language": language, "status": status}
                for key, language, status in self.text_search
            ],
        }


_cache: dict[IndexRef, IndexInfo] = {}
_lock = threading.Lock()


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return None if value is None else str(value)


def _parse(ref: IndexRef, response: dict[str, Any]) -> IndexInfo:
    index = response.get("index") or {}
    meta_conf = index.get("metadataConfiguration") or {}
    return IndexInfo(
        index_arn=index.get("indexArn") or ref.arn,
        index_name=index.get("indexName") or ref.index,
        vector_bucket_name=index.get("vectorBucketName") or ref.bucket,
        dimension=int(index["dimension"]),
        distance_metric=str(index.get("distanceMetric", "")).lower(),
        data_type=str(index.get("dataType", "float32")),
        non_filterable_metadata_keys=frozenset(meta_conf.get("nonFilterableMetadataKeys") or ()),
        creation_time=_iso(index.get("creationTime")),
        index_mode=index.get("indexMode"),
        text_search=tuple(
            (c["metadataKey"], c.get("language"), c.get("status"))
            for c in meta_conf.get("textSearchConfigurations") or ()
        ),
    )


def get_index_info(ref: IndexRef, deadline: Deadline, *, refresh: bool = False) -> IndexInfo:
    if not refresh:
        cached = _cache.get(ref)
        if cached is not None:
            return cached
    info = _parse(ref, call(ref, deadline, "get_index"))
    with _lock:
        _cache[ref] = info
    return info


def index_info_if_allowed(ref: IndexRef, deadline: Deadline) -> IndexInfo | None:
    """GetIndex for the pre-checks (dimension, metric, non-filterable keys), or None when the
    function's role may not call GetIndex: the data call then goes ahead and the service
    validates it (QueryVectors reports the metric itself)."""
    try:
        return get_index_info(ref, deadline)
    except S3vlError as err:
        if err.error_type == ACCESS_DENIED:
            return None
        raise


def forget_on_error(ref: IndexRef, error: S3vlError) -> None:
    """Drop a cached entry the service contradicted (index deleted, or recreated differently)."""
    if error.error_type in (NOT_FOUND, VALIDATION_ERROR):
        with _lock:
            _cache.pop(ref, None)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
