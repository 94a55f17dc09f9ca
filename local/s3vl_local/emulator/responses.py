"""The S3 Vectors REST JSON wire format: routing, request parsing and response shapes.

`Dispatcher.handle` turns one HTTP request (method, path, query, headers, body) into a status,
headers and body. It is shared by the HTTP server and the in-process mock, so both behave the
same; state and search live in `models.py`, the filter language in `filters.py`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np

from . import codec, shapes, vector_json
from . import constants as c
from . import params as p
from .exceptions import (
    ConflictError,
    InternalServerError,
    NotFoundError,
    ServiceError,
    UnknownOperationError,
    ValidationError,
)
from .faults import FaultInjector
from .filters import compile_filter, uses_operator
from .models import (
    EmulatorState,
    VectorBucket,
    VectorIndex,
    parse_bucket_arn,
    parse_index_arn,
    validate_bucket_name,
    validate_index_name,
)
from .textindex import check_query_texts, fuse, text_ranking

Body = dict[str, Any]
Handler = Callable[["Dispatcher", str, Body], Body]

# Set by the dispatcher: whether the raw body holds a JSON boolean anywhere. numpy silently turns
# true/false into 1/0, so vector data is checked element by element only when this is set.
HAS_BOOLEANS = "__s3vl_has_booleans"
logger = logging.getLogger(__name__)
_NUMBER_TYPES = {int, float}
_VECTOR_BODIES = frozenset({"PutVectors", "QueryVectors"})
_SPECIAL_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def _json(
    status: int, payload: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    return Response(status, headers, codec.dumps(payload))


def error_response(error: ServiceError) -> Response:
    return _json(error.status, error.body(), {"x-amzn-ErrorType": error.code})


def _encode_token(payload: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode_token(token: str, name: str = "nextToken") -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise ValidationError(f"{name}: invalid token", name)
    return decoded


@dataclass
class _QueryPages:
    fingerprint: str
    rows: list[dict[str, Any]]
    expires: float


class Dispatcher:
    """Routes S3 Vectors requests to the models; one instance per emulator."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        region: str = c.DEFAULT_REGION,
        faults: FaultInjector | None = None,
        query_page_size: int = c.QUERY_PAGE_SIZE_DEFAULT,
        fast_json: bool = True,
        text_build_seconds: float = c.TEXT_BUILD_SECONDS_DEFAULT,
    ) -> None:
        shapes.require_operations(OPERATIONS)
        self.state = state or EmulatorState()
        self.text_build_seconds = text_build_seconds
        # Vector bodies through simdjson into numpy rows (vector_json); False: orjson only.
        self.fast_json = fast_json and vector_json.available()
        self.region = region
        self.faults = faults or FaultInjector()
        self.query_page_size = query_page_size
        self._query_pages: OrderedDict[str, _QueryPages] = OrderedDict()
        self._pages_lock = threading.Lock()

    # ---- entry point --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        try:
            operation, args = self._route(method, path, query)
            self.faults.apply(operation)
            if len(body) > c.REQUEST_PAYLOAD_MAX_BYTES:
                raise ValidationError(
                    f"request: payload of {len(body)} bytes exceeds the "
                    f"{c.REQUEST_PAYLOAD_MAX_BYTES} byte (20 MiB) limit",
                    "request",
                )
            fast = None
            if self.fast_json and operation in _VECTOR_BODIES:
                fast = vector_json.loads_with_arrays(body)
            payload = fast[0] if fast is not None else self._parse_body(body, operation)
            payload.update(args)
            # Rows from the fast path hold numbers only; booleans elsewhere are not vector data.
            payload[HAS_BOOLEANS] = fast is None and (b"true" in body or b"false" in body)
            shapes.validate_input(operation, payload)
            region = self._region(headers)
            lock = self.state.lock.read if operation in READ_ONLY else self.state.lock.write
            with lock():
                result = OPERATIONS[operation](self, region, payload)
            return _json(200, result)
        except ServiceError as error:
            return error_response(error)
        except Exception as exc:  # a bug here must still look like a service fault to clients
            logger.exception("unexpected error in %s %s", method, path)
            return error_response(InternalServerError(f"emulator error: {type(exc).__name__}"))

    def _route(self, method: str, path: str, query: Mapping[str, list[str]]) -> tuple[str, Body]:
        path = path.split("?", 1)[0]
        if path.startswith("/tags/"):
            arn = unquote(path[len("/tags/") :])
            if method == "GET":
                return "ListTagsForResource", {"resourceArn": arn}
            if method == "POST":
                return "TagResource", {"resourceArn": arn}
            if method == "DELETE":
                return "UntagResource", {
                    "resourceArn": arn,
                    "tagKeys": list(query.get("tagKeys", [])),
                }
        operation = path.strip("/")
        if method == "POST" and operation in OPERATIONS:
            return operation, {}
        raise UnknownOperationError(
            f"{method} {path}: not an S3 Vectors operation supported by the s3vl emulator"
        )

    @staticmethod
    def _parse_body(body: bytes, operation: str) -> Body:
        if not body or body.isspace():  # not strip(): that copies a body of up to 20 MiB
            return {}
        try:
            parsed = codec.loads(body)
        except codec.TooDeep as exc:
            # Only QueryVectors' filter is free to nest; elsewhere the whole body is at fault.
            field = "filter" if operation == "QueryVectors" else "request"
            raise ValidationError(
                f"{field}: nested deeper than {c.FILTER_DEPTH_MAX} levels", field
            ) from exc
        except ValueError as exc:
            raise ValidationError(f"request: body is not valid JSON ({exc})", "request") from exc
        if not isinstance(parsed, dict):
            raise ValidationError("request: body must be a JSON object", "request")
        return parsed

    def _region(self, headers: Mapping[str, str]) -> str:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        match = _REGION_IN_AUTH.search(auth)
        return match["region"] if match else self.region

    # ---- resource references ------------------------------------------------------------------

    def bucket_ref(self, region: str, body: Body) -> tuple[str, str]:
        """(region, bucket) named by vectorBucketArn or vectorBucketName, checked before lookup.

        Both may be sent (the model marks neither required); they must then name the same bucket.
        """
        name = p.string(body, "vectorBucketName")
        arn = p.string(body, "vectorBucketArn")
        if name is None and arn is None:
            raise ValidationError(
                "vectorBucketName/vectorBucketArn: give one of them", "vectorBucketName"
            )
        if name is not None:
            validate_bucket_name(name)
        if arn is None:
            assert name is not None
            return region, name
        arn_region, arn_bucket = parse_bucket_arn(arn)
        if name is not None and name != arn_bucket:
            raise ValidationError(
                f"vectorBucketArn: names bucket '{arn_bucket}' but vectorBucketName is '{name}'",
                "vectorBucketArn",
            )
        return arn_region, arn_bucket

    def index_ref(self, region: str, body: Body) -> tuple[str, str, str]:
        """(region, bucket, index) named by indexArn or vectorBucketName + indexName.

        Both forms may be sent together (LlamaIndex does); they must then name the same index.
        """
        arn = p.string(body, "indexArn")
        bucket = p.string(body, "vectorBucketName")
        name = p.string(body, "indexName")
        if bucket is not None:
            validate_bucket_name(bucket)
        if name is not None:
            validate_index_name(name)
        if arn is None:
            if bucket is None or name is None:
                raise ValidationError(
                    "indexArn: give indexArn, or both vectorBucketName and indexName", "indexArn"
                )
            return region, bucket, name
        arn_region, arn_bucket, arn_index = parse_index_arn(arn)
        if bucket not in (None, arn_bucket) or name not in (None, arn_index):
            raise ValidationError(
                f"indexArn: names index '{arn_index}' in bucket '{arn_bucket}', which differs "
                "from the vectorBucketName/indexName sent with it",
                "indexArn",
            )
        return arn_region, arn_bucket, arn_index

    def index(self, region: str, body: Body) -> VectorIndex:
        return self.state.index(*self.index_ref(region, body))

    # ---- text search backfill -----------------------------------------------------------------

    def backfill(self, index: VectorIndex, specs: list[tuple[str, str | None]]) -> None:
        """Add text search configurations to an index: BUILDING until every existing vector is
        indexed and the build delay has passed. Called under the write lock."""
        configs = index.add_text(specs, time.time() + self.text_build_seconds, backfill=True)
        keys = list(index.keys)
        step = c.TEXT_BACKFILL_SLICE
        index.backfill_text(configs, keys[:step])
        if len(keys) <= step:
            for config in configs:
                config.built = True
            return
        worker = threading.Thread(
            target=self._backfill_rest,
            args=(index, configs, keys, step),
            name="s3vl-text-backfill",
            daemon=True,
        )
        worker.start()

    def _backfill_rest(
        self, index: VectorIndex, configs: list[Any], keys: list[str], step: int
    ) -> None:
        for start in range(step, len(keys), step):
            with self.state.lock.write():
                if all(config.dropped for config in configs):
                    return
                index.backfill_text(configs, keys[start : start + step])
        with self.state.lock.write():
            for config in configs:
                config.built = True

    # ---- query pages --------------------------------------------------------------------------

    def store_pages(self, fingerprint: str, rows: list[dict[str, Any]]) -> str:
        token = _encode_token({"q": uuid.uuid4().hex})
        now = time.monotonic()
        with self._pages_lock:
            for stale in [t for t, pg in self._query_pages.items() if pg.expires < now]:
                del self._query_pages[stale]
            self._query_pages[token] = _QueryPages(
                fingerprint, rows, now + c.QUERY_TOKEN_TTL_SECONDS
            )
            while len(self._query_pages) > c.QUERY_TOKEN_CACHE_MAX:
                self._query_pages.popitem(last=False)
        return token

    def take_pages(self, token: str, fingerprint: str) -> list[dict[str, Any]]:
        _decode_token(token)
        with self._pages_lock:
            pages = self._query_pages.pop(token, None)
        if pages is None or pages.expires < time.monotonic():
            raise ValidationError("nextToken: unknown or expired query token", "nextToken")
        if pages.fingerprint != fingerprint:
            self.store_back(token, pages)
            raise ValidationError(
                "nextToken: was issued for a different query; send the same index, queryVector, "
                "topK, filter and return flags with it",
                "nextToken",
            )
        return pages.rows

    def store_back(self, token: str, pages: _QueryPages) -> None:
        with self._pages_lock:
            self._query_pages[token] = pages


# ---- operations ---------------------------------------------------------------------------------


def _encryption(body: Body) -> dict[str, str] | None:
    config = p.obj(body, "encryptionConfiguration")
    if config is None:
        return None
    sse = p.string(config, "sseType") or "AES256"
    if sse not in ("AES256", "aws:kms"):
        raise ValidationError(
            "encryptionConfiguration.sseType: must be AES256 or aws:kms",
            "encryptionConfiguration.sseType",
        )
    kms = p.string(config, "kmsKeyArn", min_len=1, max_len=2048)
    if sse == "aws:kms" and kms is None:
        raise ValidationError(
            "encryptionConfiguration.kmsKeyArn: is required when sseType is aws:kms",
            "encryptionConfiguration.kmsKeyArn",
        )
    out = {"sseType": sse}
    if kms is not None:
        out["kmsKeyArn"] = kms
    return out


def create_vector_bucket(d: Dispatcher, region: str, body: Body) -> Body:
    name = p.string(body, "vectorBucketName", required=True)
    assert name is not None
    bucket = d.state.create_bucket(region, name, _encryption(body), p.string_map(body, "tags"))
    return {"vectorBucketArn": bucket.arn}


def get_vector_bucket(d: Dispatcher, region: str, body: Body) -> Body:
    return {"vectorBucket": d.state.bucket(*d.bucket_ref(region, body)).describe()}


def _paged_names(
    body: Body, items: list[Any], name_of: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    limit = (
        p.integer(
            body,
            "maxResults",
            low=c.LIST_BUCKETS_MAX_RESULTS_MIN,
            high=c.LIST_BUCKETS_MAX_RESULTS_MAX,
        )
        or c.LIST_BUCKETS_MAX_RESULTS_DEFAULT
    )
    token = p.string(body, "nextToken", min_len=1, max_len=512)
    if token is not None:
        after = _decode_token(token).get("after")
        if not isinstance(after, str):
            raise ValidationError("nextToken: invalid token", "nextToken")
        items = [i for i in items if name_of(i) > after]
    page = items[:limit]
    more = len(items) > limit
    return page, (_encode_token({"after": name_of(page[-1])}) if more else None)


def list_vector_buckets(d: Dispatcher, region: str, body: Body) -> Body:
    prefix = p.string(body, "prefix", min_len=1, max_len=63)
    buckets, token = _paged_names(body, d.state.list_buckets(region, prefix), lambda b: b.name)
    out: Body = {
        "vectorBuckets": [
            {"vectorBucketName": b.name, "vectorBucketArn": b.arn, "creationTime": b.creation_time}
            for b in buckets
        ]
    }
    if token:
        out["nextToken"] = token
    return out


def delete_vector_bucket(d: Dispatcher, region: str, body: Body) -> Body:
    d.state.delete_bucket(*d.bucket_ref(region, body))
    return {}


def create_index(d: Dispatcher, region: str, body: Body) -> Body:
    bucket_region, bucket = d.bucket_ref(region, body)
    name = p.string(body, "indexName", required=True)
    data_type = p.string(body, "dataType", required=True)
    if data_type not in c.DATA_TYPES:
        raise ValidationError(f"dataType: must be one of {list(c.DATA_TYPES)}", "dataType")
    dimension = p.integer(
        body, "dimension", required=True, low=c.DIMENSION_MIN, high=c.DIMENSION_MAX
    )
    metric = p.string(body, "distanceMetric", required=True)
    if metric not in c.DISTANCE_METRICS:
        raise ValidationError(
            f"distanceMetric: must be one of {list(c.DISTANCE_METRICS)}", "distanceMetric"
        )
    config = p.obj(body, "metadataConfiguration") or {}
    keys = p.array(config, "nonFilterableMetadataKeys", high=c.NON_FILTERABLE_KEYS_MAX) or []
    for key in keys:
        if not isinstance(key, str) or not (
            c.METADATA_KEY_NAME_MIN <= len(key) <= c.METADATA_KEY_NAME_MAX
        ):
            raise ValidationError(
                "metadataConfiguration.nonFilterableMetadataKeys: each key must be a string of "
                f"{c.METADATA_KEY_NAME_MIN}-{c.METADATA_KEY_NAME_MAX} characters",
                "metadataConfiguration.nonFilterableMetadataKeys",
            )
    if len(set(keys)) != len(keys):
        raise ValidationError(
            "metadataConfiguration.nonFilterableMetadataKeys: keys must be unique",
            "metadataConfiguration.nonFilterableMetadataKeys",
        )
    text = _text_configs(
        config.get("textSearchConfigurations") or [],
        "metadataConfiguration.textSearchConfigurations",
    )
    assert name is not None and dimension is not None and metric is not None
    index = d.state.create_index(
        bucket_region,
        bucket,
        name,
        dimension,
        metric,
        keys,
        _encryption(body),
        p.string_map(body, "tags"),
        text,
    )
    return {"indexArn": index.arn}


def _text_configs(items: list[Any], where: str) -> list[tuple[str, str | None]]:
    """(metadata key, language) of text search configurations, one per key (model-checked)."""
    out: list[tuple[str, str | None]] = []
    for item in items:
        if item.get("status") is not None:
            raise ValidationError(
                f"{where}.status: is reported by GetIndex and cannot be set", f"{where}.status"
            )
        key = item["metadataKey"]
        if any(key == seen for seen, _ in out):
            raise ValidationError(
                f"{where}: metadata key '{key}' appears more than once; one configuration per key",
                where,
            )
        out.append((key, item.get("language")))
    return out


def update_index_mode(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    mode = body["indexMode"]
    if mode == "CLASSIC":
        bucket = d.state.bucket(index.region, index.bucket_name)
        if not bucket.classic_allowed:
            raise ValidationError(
                "indexMode: CLASSIC is only available for indexes in vector buckets created "
                "before 2026-09-30",
                "indexMode",
            )
        if index.text:
            raise ValidationError(
                "indexMode: the index has text search configurations, which need ENHANCED; "
                "delete them with UpdateMetadataConfiguration first",
                "indexMode",
            )
    index.index_mode = mode
    return {}


def put_vector_bucket_default_index_mode(d: Dispatcher, region: str, body: Body) -> Body:
    bucket = d.state.bucket(*d.bucket_ref(region, body))
    mode = body["defaultIndexMode"]
    if mode == "CLASSIC" and not bucket.classic_allowed:
        raise ValidationError(
            "defaultIndexMode: CLASSIC is only available for vector buckets created before "
            "2026-09-30",
            "defaultIndexMode",
        )
    bucket.default_index_mode = mode
    return {}


def update_metadata_configuration(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    add, delete = body.get("add"), body.get("delete")
    if (add is None) == (delete is None):
        raise ValidationError("add/delete: specify either add or delete, but not both", "add")
    if index.index_mode != "ENHANCED":
        raise ValidationError(
            f"indexArn: index '{index.name}' is CLASSIC; text search configurations need an "
            "ENHANCED index (UpdateIndexMode)",
            "indexArn",
        )
    if add is not None:
        where = "add.textSearchConfigurations"
        configs = _text_configs(add.get("textSearchConfigurations") or [], where)
        if not configs:
            raise ValidationError(f"{where}: give at least one configuration to add", where)
        for key, _ in configs:
            if key in index.text:
                raise ConflictError(
                    f"metadata key '{key}' already has a text search configuration on index "
                    f"'{index.name}'"
                )
        if len(index.text) + len(configs) > c.TEXT_SEARCH_CONFIGS_MAX:
            raise ValidationError(
                f"{where}: an index has at most {c.TEXT_SEARCH_CONFIGS_MAX} text search "
                f"configurations ({len(index.text)} exist, {len(configs)} to add)",
                where,
            )
        d.backfill(index, configs)
    else:
        assert delete is not None
        where = "delete.textSearchConfigurations"
        keys = [item["metadataKey"] for item in delete.get("textSearchConfigurations") or []]
        if not keys:
            raise ValidationError(f"{where}: give at least one metadata key to delete", where)
        for key in keys:
            if key not in index.text:
                raise ValidationError(
                    f"{where}: metadata key '{key}' has no text search configuration", where
                )
        index.drop_text(keys)
    return {"indexArn": index.arn}


def get_index(d: Dispatcher, region: str, body: Body) -> Body:
    return {"index": d.index(region, body).describe()}


def list_indexes(d: Dispatcher, region: str, body: Body) -> Body:
    bucket: VectorBucket = d.state.bucket(*d.bucket_ref(region, body))
    prefix = p.string(body, "prefix", min_len=1, max_len=63)
    found = sorted(bucket.indexes.values(), key=lambda i: i.name)
    if prefix:
        found = [i for i in found if i.name.startswith(prefix)]
    page, token = _paged_names(body, found, lambda i: i.name)
    out: Body = {
        "indexes": [
            {
                "vectorBucketName": i.bucket_name,
                "indexName": i.name,
                "indexArn": i.arn,
                "creationTime": i.creation_time,
            }
            for i in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


def delete_index(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    d.state.delete_index(index.region, index.bucket_name, index.name)
    return {}


def put_vector_bucket_policy(d: Dispatcher, region: str, body: Body) -> Body:
    bucket = d.state.bucket(*d.bucket_ref(region, body))
    policy = p.string(body, "policy", required=True, min_len=1)
    assert policy is not None
    try:
        parsed = json.loads(policy)
    except ValueError as exc:
        raise ValidationError("policy: must be a JSON policy document", "policy") from exc
    if not isinstance(parsed, dict):
        raise ValidationError("policy: must be a JSON policy document", "policy")
    bucket.policy = policy
    return {}


def get_vector_bucket_policy(d: Dispatcher, region: str, body: Body) -> Body:
    bucket = d.state.bucket(*d.bucket_ref(region, body))
    if bucket.policy is None:
        raise NotFoundError(f"The vector bucket '{bucket.name}' has no bucket policy")
    return {"policy": bucket.policy}


def delete_vector_bucket_policy(d: Dispatcher, region: str, body: Body) -> Body:
    bucket = d.state.bucket(*d.bucket_ref(region, body))
    bucket.policy = None
    return {}


def _float32_block(
    items: list[Any], dimension: int, field: str, may_hold_booleans: bool = True
) -> np.ndarray[Any, Any]:
    """Turn a list of `{"float32": [...]}` unions into an (n, dimension) float32 matrix."""
    rows: list[Any] = []
    numpy_rows = 0  # rows from vector_json's fast path: float64 arrays, numbers only
    for label, data in items:
        if not isinstance(data, dict) or len(data) != 1 or "float32" not in data:
            raise ValidationError(
                f"{field}: '{label}' data must be {{\"float32\": [numbers]}}", field
            )
        values = data["float32"]
        if not isinstance(values, list | np.ndarray):  # ndarray: from vector_json's fast path
            raise ValidationError(f"{field}: '{label}' data.float32 must be an array", field)
        if len(values) != dimension:
            raise ValidationError(
                f"{field}: '{label}' has dimension {len(values)}, but the index dimension is "
                f"{dimension}",
                field,
            )
        rows.append(values)
        numpy_rows += isinstance(values, np.ndarray)
    # The fast path turns every float32 array of a body into a row, so rows are all numpy or none.
    if rows and numpy_rows == len(rows):
        with np.errstate(over="ignore"):  # beyond float32 becomes inf: check_vectors reports it
            return np.array(rows, dtype=np.float32)
    try:
        raw: np.ndarray[Any, Any] = np.array(rows)
    except (ValueError, TypeError):
        raw = np.array(0)
    if (
        raw.dtype.kind not in "fiu"
        or raw.ndim != 2
        or (may_hold_booleans and any(not set(map(type, row)) <= _NUMBER_TYPES for row in rows))
    ):
        raw = _numbers_slowly(rows, field)
    with np.errstate(over="ignore"):
        return raw.astype(np.float32)


def _numbers_slowly(rows: list[list[Any]], field: str) -> np.ndarray[Any, Any]:
    """Element-wise conversion for rows that are not plain numbers: botocore sends NaN and
    infinities as the strings "NaN"/"Infinity"/"-Infinity"; anything else non-numeric is an error.
    """
    out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[i, j] = value
            elif isinstance(value, str) and value in _SPECIAL_FLOATS:
                out[i, j] = _SPECIAL_FLOATS[value]
            else:
                raise ValidationError(
                    f"{field}: data.float32 must contain only numbers (got {value!r})", field
                )
    return out


def put_vectors(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    vectors = p.array(body, "vectors", required=True, low=1, high=c.PUT_VECTORS_MAX)
    assert vectors is not None
    keys: list[str] = []
    metadata: list[dict[str, Any]] = []
    for item in vectors:
        if not isinstance(item, dict):
            raise ValidationError("vectors: each item must be an object", "vectors")
        key = p.string(
            item, "key", required=True, min_len=c.VECTOR_KEY_MIN, max_len=c.VECTOR_KEY_MAX
        )
        assert key is not None
        meta = item.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise ValidationError(
                f"vectors.metadata: '{key}' metadata must be an object", "vectors.metadata"
            )
        index.check_metadata(key, meta)
        keys.append(key)
        metadata.append(meta)
    block = _float32_block(
        [(k, v.get("data")) for k, v in zip(keys, vectors, strict=True)],
        index.dimension,
        "vectors",
        bool(body.get(HAS_BOOLEANS, True)),
    )
    index.check_vectors(keys, block)
    index.put(keys, block, metadata)
    return {}


def _vector_out(index: VectorIndex, row: int, with_data: bool, with_metadata: bool) -> Body:
    out: Body = {"key": index.keys[row]}
    if with_data:
        out["data"] = {"float32": index.vector(row)}
    if with_metadata:
        out["metadata"] = index.metadata[row]
    return out


def _keys(body: Body, high: int) -> list[str]:
    keys = p.array(body, "keys", required=True, low=1, high=high)
    assert keys is not None
    for key in keys:
        if not isinstance(key, str) or not c.VECTOR_KEY_MIN <= len(key) <= c.VECTOR_KEY_MAX:
            raise ValidationError(
                f"keys: each key must be a string of {c.VECTOR_KEY_MIN}-{c.VECTOR_KEY_MAX} "
                "characters",
                "keys",
            )
    return keys


def get_vectors(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    keys = _keys(body, c.GET_VECTORS_MAX)
    with_data, with_meta = p.boolean(body, "returnData"), p.boolean(body, "returnMetadata")
    out, seen = [], set()
    for key in keys:
        row = index.row_of.get(key)
        if row is None or key in seen:
            continue
        seen.add(key)
        out.append(_vector_out(index, row, with_data, with_meta))
    return {"vectors": out}


def delete_vectors(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    index.delete(_keys(body, c.DELETE_VECTORS_MAX))
    return {}


def list_vectors(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    limit = (
        p.integer(
            body,
            "maxResults",
            low=c.LIST_VECTORS_MAX_RESULTS_MIN,
            high=c.LIST_VECTORS_MAX_RESULTS_MAX,
        )
        or c.LIST_VECTORS_MAX_RESULTS_DEFAULT
    )
    count = p.integer(
        body, "segmentCount", low=c.LIST_SEGMENT_COUNT_MIN, high=c.LIST_SEGMENT_COUNT_MAX
    )
    segment = p.integer(body, "segmentIndex", low=0, high=c.LIST_SEGMENT_COUNT_MAX - 1)
    if (count is None) != (segment is None):
        raise ValidationError("segmentCount/segmentIndex: each requires the other", "segmentCount")
    count, segment = count or 1, segment or 0
    if segment >= count:
        raise ValidationError(
            f"segmentIndex: {segment} must be less than segmentCount {count}", "segmentIndex"
        )
    with_data, with_meta = p.boolean(body, "returnData"), p.boolean(body, "returnMetadata")
    after = None
    token = p.string(body, "nextToken", min_len=1, max_len=c.NEXT_TOKEN_MAX)
    if token is not None:
        decoded = _decode_token(token)
        if (
            decoded.get("sc") != count
            or decoded.get("si") != segment
            or decoded.get("ix") != index.arn
        ):
            raise ValidationError(
                "nextToken: was issued for a different index or segment", "nextToken"
            )
        after = decoded.get("after")
        if not isinstance(after, str):
            raise ValidationError("nextToken: invalid token", "nextToken")
    row_bytes = (index.dimension * 4 if with_data else 0) + (256 if with_meta else 0)
    rows, last = index.list_page(count, segment, after, limit, row_bytes)
    out: Body = {"vectors": [_vector_out(index, r, with_data, with_meta) for r in rows]}
    if last is not None:
        out["nextToken"] = _encode_token(
            {"ix": index.arn, "sc": count, "si": segment, "after": last}
        )
    return out


def query_vectors(d: Dispatcher, region: str, body: Body) -> Body:
    index = d.index(region, body)
    top_k = p.integer(body, "topK", required=True, low=c.TOP_K_MIN, high=c.TOP_K_MAX)
    assert top_k is not None
    mode = body.get("queryMode")
    if mode == "CLASSIC" and index.index_mode == "ENHANCED":
        raise ValidationError("queryMode: CLASSIC cannot be used on an ENHANCED index", "queryMode")
    classic = (mode or index.index_mode) == "CLASSIC"
    texts = body.get("queryTexts")
    pairs: list[tuple[str, str]] = []
    if texts is not None:
        if index.index_mode != "ENHANCED":
            raise ValidationError(
                f"queryTexts: full-text and hybrid search need an ENHANCED index; index "
                f"'{index.name}' is CLASSIC",
                "queryTexts",
            )
        pairs = check_query_texts(texts, index.text)
    query = body.get("queryVector")
    if query is None and not pairs:
        raise ValidationError(
            "queryVector: a request needs queryVector, queryTexts or both", "queryVector"
        )
    vector = None
    if query is not None:
        vector = _float32_block(
            [("queryVector", query)],
            index.dimension,
            "queryVector",
            bool(body.get(HAS_BOOLEANS, True)),
        )
        index.check_query(vector)
    with_meta, with_distance = p.boolean(body, "returnMetadata"), p.boolean(body, "returnDistance")
    with_scores = p.boolean(body, "returnScores")
    raw_filter = body.get("filter")
    where = None
    if raw_filter is not None:
        where = compile_filter(raw_filter, frozenset(index.non_filterable_keys))
        if classic and uses_operator(where, "$startsWith"):
            raise ValidationError(
                "filter: $startsWith needs an ENHANCED index or queryMode ENHANCED", "filter"
            )
    token = p.string(body, "nextToken", min_len=1, max_len=4096)
    fingerprint = hashlib.sha256(
        json.dumps(
            [index.arn, top_k, raw_filter, with_meta, with_distance, with_scores, mode, pairs],
            sort_keys=True,
        ).encode()
        + (vector.tobytes() if vector is not None else b"")
    ).hexdigest()
    if token is not None:
        rows = d.take_pages(token, fingerprint)
    elif not pairs:
        assert vector is not None
        rows = []
        for row, distance in index.query(vector[0], top_k, where, classic):
            item: Body = {"key": index.keys[row]}
            if with_distance:
                item["distance"] = float(np.float32(distance))
            if with_meta:
                item["metadata"] = index.metadata[row]
            rows.append(item)
    else:
        rows = _text_rows(index, pairs, vector, top_k, where, with_meta, with_distance, with_scores)
    page, rest = rows[: d.query_page_size], rows[d.query_page_size :]
    out: Body = {"vectors": page, "distanceMetric": index.distance_metric}
    if rest:
        out["nextToken"] = d.store_pages(fingerprint, rest)
    return out


def _text_rows(
    index: VectorIndex,
    pairs: list[tuple[str, str]],
    vector: np.ndarray[Any, Any] | None,
    top_k: int,
    where: Any,
    with_meta: bool,
    with_distance: bool,
    with_scores: bool,
) -> list[Body]:
    """Rows of a full-text (BM25) or hybrid (RRF) query; the filter applies to both rankings,
    each ranking is topK deep."""
    hits = text_ranking(pairs, index.text, top_k, index.allowed_keys(where))
    bm25 = {hit.key: hit.bm25 for hit in hits}
    distances: dict[str, float] = {}
    if vector is None:
        ranked: list[tuple[str, float | None]] = [(hit.key, None) for hit in hits]
    else:
        nearest_rows = index.query(vector[0], top_k, where)
        distances = {index.keys[row]: float(np.float32(dist)) for row, dist in nearest_rows}
        fused = fuse(list(distances), [hit.key for hit in hits])
        ranked = [(key, score) for key, score in fused[:top_k]]
    rows: list[Body] = []
    for key, fused_score in ranked:
        item: Body = {"key": key}
        distance = distances.get(key)
        if with_distance and distance is not None:
            item["distance"] = distance
        if with_scores:
            scores: Body = {}
            if fused_score is not None:
                scores["fused"] = fused_score
            matched = bm25.get(key)
            if matched:
                scores["bm25Scores"] = [
                    {"metadataKey": name, "score": score} for name, score in matched.items()
                ]
            if distance is not None:
                scores["vectorDistance"] = distance
            item["scores"] = scores
        if with_meta:
            item["metadata"] = index.metadata[index.row_of[key]]
        rows.append(item)
    return rows


def _tag_target(d: Dispatcher, body: Body) -> str:
    arn = p.string(body, "resourceArn", required=True)
    assert arn is not None
    if not d.state.resource_exists(arn):
        raise NotFoundError(f"The specified resource could not be found: '{arn}'")
    return arn


def tag_resource(d: Dispatcher, region: str, body: Body) -> Body:
    arn = _tag_target(d, body)
    tags = p.string_map(body, "tags")
    if not tags:
        raise ValidationError("tags: at least one tag is required", "tags")
    d.state.tags.setdefault(arn, {}).update(tags)
    return {}


def untag_resource(d: Dispatcher, region: str, body: Body) -> Body:
    arn = _tag_target(d, body)
    keys = body.get("tagKeys") or []
    if not keys:
        raise ValidationError("tagKeys: at least one tag key is required", "tagKeys")
    current = d.state.tags.get(arn, {})
    for key in keys:
        current.pop(key, None)
    return {}


def list_tags_for_resource(d: Dispatcher, region: str, body: Body) -> Body:
    return {"tags": dict(d.state.tags.get(_tag_target(d, body), {}))}


# Operations that never change state run under the shared (read) side of the lock.
READ_ONLY = frozenset(
    {
        "GetVectorBucket",
        "ListVectorBuckets",
        "GetIndex",
        "ListIndexes",
        "GetVectorBucketPolicy",
        "GetVectors",
        "ListVectors",
        "QueryVectors",
        "ListTagsForResource",
    }
)

OPERATIONS: dict[str, Handler] = {
    "CreateVectorBucket": create_vector_bucket,
    "GetVectorBucket": get_vector_bucket,
    "ListVectorBuckets": list_vector_buckets,
    "DeleteVectorBucket": delete_vector_bucket,
    "CreateIndex": create_index,
    "GetIndex": get_index,
    "ListIndexes": list_indexes,
    "DeleteIndex": delete_index,
    "PutVectorBucketPolicy": put_vector_bucket_policy,
    "GetVectorBucketPolicy": get_vector_bucket_policy,
    "DeleteVectorBucketPolicy": delete_vector_bucket_policy,
    "PutVectors": put_vectors,
    "GetVectors": get_vectors,
    "DeleteVectors": delete_vectors,
    "ListVectors": list_vectors,
    "QueryVectors": query_vectors,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "UpdateIndexMode": update_index_mode,
    "PutVectorBucketDefaultIndexMode": put_vector_bucket_default_index_mode,
    "UpdateMetadataConfiguration": update_metadata_configuration,
}
