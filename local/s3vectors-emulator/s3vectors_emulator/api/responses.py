"""The handlers of the S3 Vectors operations: each parses its request and calls the models.

A handler gets the state and a `Request` already routed, size-checked, decoded and checked
against botocore's model (`dispatch.py`), and returns the response members. Rules that need the
state live in the models; what is left here is reading fields and shaping answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s3vectors_emulator import constants as c
from s3vectors_emulator.api import params as p
from s3vectors_emulator.api.refs import bucket_ref, index_ref
from s3vectors_emulator.api.vector_json import float32_block
from s3vectors_emulator.backend.models import EmulatorState, VectorIndex
from s3vectors_emulator.exceptions import ValidationError
from s3vectors_emulator.search import queries

Body = dict[str, Any]


@dataclass(frozen=True)
class Request:
    region: str  # from the SigV4 scope, else the emulator's region
    body: Body  # JSON members, with those the path and query string carry
    may_hold_booleans: bool  # see vector_json.float32_block


Handler = Callable[[EmulatorState, Request], Body]


def _index(state: EmulatorState, req: Request) -> VectorIndex:
    return state.index(*index_ref(req.region, req.body))


# ---- buckets ------------------------------------------------------------------------------------


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


def create_vector_bucket(state: EmulatorState, req: Request) -> Body:
    body = req.body
    name = p.string(body, "vectorBucketName", required=True)
    assert name is not None
    bucket = state.create_bucket(req.region, name, _encryption(body), p.string_map(body, "tags"))
    return {"vectorBucketArn": bucket.arn}


def get_vector_bucket(state: EmulatorState, req: Request) -> Body:
    return {"vectorBucket": state.bucket(*bucket_ref(req.region, req.body)).describe()}


def _listed(
    state: EmulatorState,
    body: Body,
    member: str,
    items: list[Any],
    summary: Callable[[Any], Body],
) -> Body:
    """One page of a list by name (ListVectorBuckets, ListIndexes): `items` sorted by name."""
    limit = p.integer_or(
        body,
        "maxResults",
        c.LIST_BUCKETS_MAX_RESULTS_DEFAULT,
        low=c.LIST_BUCKETS_MAX_RESULTS_MIN,
        high=c.LIST_BUCKETS_MAX_RESULTS_MAX,
    )
    token = p.string(body, "nextToken", min_len=1, max_len=512)
    if token is not None:
        after = state.list_tokens.decode(token).get("after")
        if not isinstance(after, str):
            raise ValidationError("nextToken: invalid token", "nextToken")
        items = [i for i in items if i.name > after]
    page = items[:limit]
    out: Body = {member: [summary(i) for i in page]}
    if len(items) > limit:
        out["nextToken"] = state.list_tokens.encode({"after": page[-1].name})
    return out


def list_vector_buckets(state: EmulatorState, req: Request) -> Body:
    prefix = p.string(req.body, "prefix", min_len=1, max_len=63)
    return _listed(
        state,
        req.body,
        "vectorBuckets",
        state.list_buckets(req.region, prefix),
        lambda b: {
            "vectorBucketName": b.name,
            "vectorBucketArn": b.arn,
            "creationTime": b.creation_time,
        },
    )


def delete_vector_bucket(state: EmulatorState, req: Request) -> Body:
    state.delete_bucket(*bucket_ref(req.region, req.body))
    return {}


def put_vector_bucket_default_index_mode(state: EmulatorState, req: Request) -> Body:
    bucket = state.bucket(*bucket_ref(req.region, req.body))
    bucket.set_default_index_mode(req.body["defaultIndexMode"])
    return {}


def put_vector_bucket_policy(state: EmulatorState, req: Request) -> Body:
    bucket = state.bucket(*bucket_ref(req.region, req.body))
    policy = p.string(req.body, "policy", required=True, min_len=1)
    assert policy is not None
    bucket.put_policy(policy)
    return {}


def get_vector_bucket_policy(state: EmulatorState, req: Request) -> Body:
    return {"policy": state.bucket(*bucket_ref(req.region, req.body)).get_policy()}


def delete_vector_bucket_policy(state: EmulatorState, req: Request) -> Body:
    state.bucket(*bucket_ref(req.region, req.body)).policy = None
    return {}


# ---- indexes ------------------------------------------------------------------------------------


def create_index(state: EmulatorState, req: Request) -> Body:
    body = req.body
    bucket_region, bucket = bucket_ref(req.region, body)
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
    keys = _non_filterable_keys(config)
    text = _text_configs(
        config.get("textSearchConfigurations") or [],
        "metadataConfiguration.textSearchConfigurations",
    )
    assert name is not None and dimension is not None and metric is not None
    index = state.create_index(
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


def _non_filterable_keys(config: Body) -> list[str]:
    where = "metadataConfiguration.nonFilterableMetadataKeys"
    keys = p.array(config, "nonFilterableMetadataKeys", high=c.NON_FILTERABLE_KEYS_MAX) or []
    for key in keys:
        if not isinstance(key, str) or not (
            c.METADATA_KEY_NAME_MIN <= len(key) <= c.METADATA_KEY_NAME_MAX
        ):
            raise ValidationError(
                f"{where}: each key must be a string of "
                f"{c.METADATA_KEY_NAME_MIN}-{c.METADATA_KEY_NAME_MAX} characters",
                where,
            )
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{where}: keys must be unique", where)
    return keys


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


def get_index(state: EmulatorState, req: Request) -> Body:
    return {"index": _index(state, req).describe()}


def list_indexes(state: EmulatorState, req: Request) -> Body:
    bucket = state.bucket(*bucket_ref(req.region, req.body))
    prefix = p.string(req.body, "prefix", min_len=1, max_len=63)
    found = sorted(bucket.indexes.values(), key=lambda i: i.name)
    if prefix:
        found = [i for i in found if i.name.startswith(prefix)]
    return _listed(
        state,
        req.body,
        "indexes",
        found,
        lambda i: {
            "vectorBucketName": i.bucket_name,
            "indexName": i.name,
            "indexArn": i.arn,
            "creationTime": i.creation_time,
        },
    )


def delete_index(state: EmulatorState, req: Request) -> Body:
    index = _index(state, req)
    state.delete_index(index.region, index.bucket_name, index.name)
    return {}


def update_index_mode(state: EmulatorState, req: Request) -> Body:
    state.set_index_mode(_index(state, req), req.body["indexMode"])
    return {}


def update_metadata_configuration(state: EmulatorState, req: Request) -> Body:
    index = _index(state, req)
    add, delete = req.body.get("add"), req.body.get("delete")
    if (add is None) == (delete is None):
        raise ValidationError("add/delete: specify either add or delete, but not both", "add")
    index.require_enhanced_for_text()
    if add is not None:
        where = "add.textSearchConfigurations"
        configs = _text_configs(add.get("textSearchConfigurations") or [], where)
        if not configs:
            raise ValidationError(f"{where}: give at least one configuration to add", where)
        state.add_text_configs(index, configs, where)
    else:
        assert delete is not None
        where = "delete.textSearchConfigurations"
        keys = [item["metadataKey"] for item in delete.get("textSearchConfigurations") or []]
        if not keys:
            raise ValidationError(f"{where}: give at least one metadata key to delete", where)
        index.delete_text_configs(keys, where)
    return {"indexArn": index.arn}


# ---- vectors ------------------------------------------------------------------------------------


def put_vectors(state: EmulatorState, req: Request) -> Body:
    index = _index(state, req)
    vectors = p.array(req.body, "vectors", required=True, low=1, high=c.PUT_VECTORS_MAX)
    assert vectors is not None
    state.write_limiter.admit(index.arn, len(vectors))
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
    block = float32_block(
        [(k, v.get("data")) for k, v in zip(keys, vectors, strict=True)],
        index.dimension,
        "vectors",
        req.may_hold_booleans,
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


def get_vectors(state: EmulatorState, req: Request) -> Body:
    index = _index(state, req)
    keys = _keys(req.body, c.GET_VECTORS_MAX)
    with_data, with_meta = p.boolean(req.body, "returnData"), p.boolean(req.body, "returnMetadata")
    return {"vectors": [_vector_out(index, r, with_data, with_meta) for r in index.rows_of(keys)]}


def delete_vectors(state: EmulatorState, req: Request) -> Body:
    index = _index(state, req)
    keys = _keys(req.body, c.DELETE_VECTORS_MAX)
    state.write_limiter.admit(index.arn, len(keys))
    index.delete(keys)
    return {}


def _segment(body: Body) -> tuple[int, int]:
    """(segmentCount, segmentIndex) of ListVectors: (1, 0) without segments."""
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
    return count, segment


def list_vectors(state: EmulatorState, req: Request) -> Body:
    body = req.body
    index = _index(state, req)
    limit = p.integer_or(
        body,
        "maxResults",
        c.LIST_VECTORS_MAX_RESULTS_DEFAULT,
        low=c.LIST_VECTORS_MAX_RESULTS_MIN,
        high=c.LIST_VECTORS_MAX_RESULTS_MAX,
    )
    count, segment = _segment(body)
    with_data, with_meta = p.boolean(body, "returnData"), p.boolean(body, "returnMetadata")
    after = None
    token = p.string(body, "nextToken", min_len=1, max_len=c.NEXT_TOKEN_MAX)
    if token is not None:
        decoded = state.list_tokens.decode(token)
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
        out["nextToken"] = state.list_tokens.encode(
            {"ix": index.arn, "sc": count, "si": segment, "after": last}
        )
    return out


def query_vectors(state: EmulatorState, req: Request) -> Body:
    body = req.body
    index = _index(state, req)
    top_k = p.integer(body, "topK", required=True, low=c.TOP_K_MIN, high=c.TOP_K_MAX)
    assert top_k is not None
    mode = body.get("queryMode")
    raw_vector = body.get("queryVector")
    classic, pairs = queries.plan(index, mode, body.get("queryTexts"), raw_vector is not None)
    vector = None
    if raw_vector is not None:
        vector = float32_block(
            [("queryVector", raw_vector)], index.dimension, "queryVector", req.may_hold_booleans
        )
    query = queries.Query(
        top_k=top_k,
        mode=mode,
        classic=classic,
        pairs=pairs,
        vector=vector,
        raw_filter=body.get("filter"),
        with_metadata=p.boolean(body, "returnMetadata"),
        with_distance=p.boolean(body, "returnDistance"),
        with_scores=p.boolean(body, "returnScores"),
        token=p.string(body, "nextToken", min_len=1, max_len=4096),
    )
    return state.query(index, query)


# ---- tags ---------------------------------------------------------------------------------------


def _resource_arn(body: Body) -> str:
    arn = p.string(body, "resourceArn", required=True)
    assert arn is not None
    return arn


def tag_resource(state: EmulatorState, req: Request) -> Body:
    state.tag(_resource_arn(req.body), p.string_map(req.body, "tags"))
    return {}


def untag_resource(state: EmulatorState, req: Request) -> Body:
    state.untag(_resource_arn(req.body), req.body.get("tagKeys") or [])
    return {}


def list_tags_for_resource(state: EmulatorState, req: Request) -> Body:
    return {"tags": state.tags_of(_resource_arn(req.body))}
