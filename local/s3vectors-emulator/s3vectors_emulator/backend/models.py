"""State of the emulated service (the backend, in moto's terms): vector buckets, their indexes,
policies and tags, the pending QueryVectors pages, and the rules that need that state.

Requests arrive here already parsed and shape-checked by `responses.py`; one index's vectors and
searches live in `vectorindex.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from s3vectors_emulator import constants as c
from s3vectors_emulator import messages as m
from s3vectors_emulator.backend.backfill import add_text_configs
from s3vectors_emulator.backend.locking import ReadWriteLock
from s3vectors_emulator.backend.pagetokens import TokenStore
from s3vectors_emulator.backend.querypages import QueryPages
from s3vectors_emulator.backend.vectorindex import VectorIndex
from s3vectors_emulator.backend.writelimits import WriteLimiter
from s3vectors_emulator.exceptions import ConflictError, NotFoundError, ValidationError
from s3vectors_emulator.names import (
    bucket_arn,
    is_bucket_arn,
    is_index_arn,
    parse_bucket_arn,
    parse_index_arn,
    validate_bucket_name,
    validate_index_name,
)
from s3vectors_emulator.search import queries

__all__ = ["EmulatorState", "VectorBucket", "VectorIndex"]


@dataclass
class VectorBucket:
    region: str
    name: str
    encryption: dict[str, str] | None = None
    creation_time: float = field(default_factory=time.time)
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    policy: str | None = None
    default_index_mode: str = "ENHANCED"

    @property
    def arn(self) -> str:
        return bucket_arn(self.region, self.name)

    @property
    def classic_allowed(self) -> bool:
        """Only buckets created before 2026-09-30 may hold CLASSIC indexes."""
        return self.creation_time < c.CLASSIC_CUTOFF_EPOCH

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "vectorBucketName": self.name,
            "vectorBucketArn": self.arn,
            "creationTime": self.creation_time,
            "defaultIndexMode": self.default_index_mode,
        }
        out["encryptionConfiguration"] = dict(self.encryption or {"sseType": "AES256"})
        return out

    def set_default_index_mode(self, mode: str) -> None:
        if mode == "CLASSIC" and not self.classic_allowed:
            raise ValidationError(
                "defaultIndexMode: CLASSIC is only available for vector buckets created before "
                "2026-09-30",
                "defaultIndexMode",
            )
        self.default_index_mode = mode

    def put_policy(self, policy: str) -> None:
        try:
            parsed = json.loads(policy)
        except ValueError as exc:
            raise ValidationError("policy: must be a JSON policy document", "policy") from exc
        if not isinstance(parsed, dict):
            raise ValidationError("policy: must be a JSON policy document", "policy")
        self.policy = policy

    def get_policy(self) -> str:
        if self.policy is None:
            raise NotFoundError(m.POLICY_NOT_FOUND)
        return self.policy


class EmulatorState:
    """All buckets of all regions, plus resource tags, behind one readers-writer lock."""

    def __init__(self) -> None:
        self.lock = ReadWriteLock()
        self.buckets: dict[tuple[str, str], VectorBucket] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.query_pages = QueryPages()
        self.list_tokens = TokenStore()
        # PutVectors/DeleteVectors rates per index; off unless the emulator is asked for them.
        self.write_limiter = WriteLimiter()
        # Settings of the emulator (Emulator's options):
        # the --classic-buckets switch: new buckets are dated before 2026-09-30, CLASSIC default;
        self.classic_buckets = False
        # how many results a QueryVectors page holds;
        self.query_page_size = c.QUERY_PAGE_SIZE_DEFAULT
        # how long a text search configuration added to an index stays BUILDING.
        self.text_build_seconds = c.TEXT_BUILD_SECONDS_DEFAULT

    def reset(self) -> None:
        """Forget every bucket, index, tag and pending query page (settings stay)."""
        with self.lock.write():
            self.buckets.clear()
            self.tags.clear()
            self.query_pages = QueryPages()
            self.list_tokens = TokenStore()
            self.write_limiter.reset()

    # ---- lookups ------------------------------------------------------------------------------

    def bucket(self, region: str, name: str) -> VectorBucket:
        found = self.buckets.get((region, name))
        if found is None:
            raise NotFoundError(m.BUCKET_NOT_FOUND)
        return found

    def index(self, region: str, bucket: str, name: str) -> VectorIndex:
        # A missing bucket is reported as a missing index, as the service does.
        holder = self.buckets.get((region, bucket))
        found = holder.indexes.get(name) if holder is not None else None
        if found is None:
            raise NotFoundError(m.INDEX_NOT_FOUND)
        return found

    def resource_exists(self, arn: str) -> bool:
        """Whether the bucket or index ARN names a live resource; a malformed ARN is a 400."""
        if is_index_arn(arn):
            parsed = parse_index_arn(arn, "resourceArn")
            found = self.buckets.get((parsed.region, parsed.bucket))
            return parsed.is_own(parsed.region) and found is not None and (
                parsed.index in found.indexes
            )
        if is_bucket_arn(arn):
            parsed = parse_bucket_arn(arn, "resourceArn")
            return parsed.is_own(parsed.region) and (parsed.region, parsed.bucket) in self.buckets
        raise ValidationError(f"Invalid resource ARN: '{arn[:200]}'", "resourceArn")

    # ---- buckets ------------------------------------------------------------------------------

    def create_bucket(
        self, region: str, name: str, encryption: dict[str, str] | None, tags: dict[str, str]
    ) -> VectorBucket:
        validate_bucket_name(name)
        if (region, name) in self.buckets:
            raise ConflictError(m.BUCKET_EXISTS)
        bucket = VectorBucket(region=region, name=name, encryption=encryption)
        if self.classic_buckets:
            bucket.creation_time = min(bucket.creation_time, c.CLASSIC_CUTOFF_EPOCH - 86400.0)
            bucket.default_index_mode = "CLASSIC"
        self.buckets[(region, name)] = bucket
        if tags:
            self.tags[bucket.arn] = dict(tags)
        return bucket

    def delete_bucket(self, region: str, name: str) -> None:
        bucket = self.bucket(region, name)
        if bucket.indexes:
            raise ConflictError(m.BUCKET_NOT_EMPTY)
        del self.buckets[(region, name)]
        self.tags.pop(bucket.arn, None)

    def list_buckets(self, region: str, prefix: str | None) -> list[VectorBucket]:
        found = [b for (r, n), b in self.buckets.items() if r == region]
        if prefix:
            found = [b for b in found if b.name.startswith(prefix)]
        return sorted(found, key=lambda b: b.name)

    # ---- indexes ------------------------------------------------------------------------------

    def create_index(
        self,
        region: str,
        bucket_name: str,
        name: str,
        dimension: int,
        metric: str,
        non_filterable: Sequence[str],
        encryption: dict[str, str] | None,
        tags: dict[str, str],
        text: Sequence[tuple[str, str | None]] = (),
    ) -> VectorIndex:
        validate_index_name(name)
        bucket = self.bucket(region, bucket_name)
        if name in bucket.indexes:
            raise ConflictError(m.INDEX_EXISTS)
        index = VectorIndex(
            region=region,
            bucket_name=bucket_name,
            name=name,
            dimension=dimension,
            distance_metric=metric,
            non_filterable_keys=tuple(non_filterable),
            encryption=encryption or bucket.encryption,
            index_mode=bucket.default_index_mode,
        )
        if text and index.index_mode != "ENHANCED":
            raise ValidationError(
                "metadataConfiguration.textSearchConfigurations: full-text search needs an "
                f"ENHANCED index, and new indexes in bucket '{bucket_name}' are CLASSIC (see "
                "PutVectorBucketDefaultIndexMode)",
                "metadataConfiguration.textSearchConfigurations",
            )
        index.add_text(text, ready_at=0.0)  # nothing to backfill yet: ACTIVE at once
        bucket.indexes[name] = index
        if tags:
            self.tags[index.arn] = dict(tags)
        return index

    def delete_index(self, region: str, bucket_name: str, name: str) -> None:
        index = self.index(region, bucket_name, name)
        del self.bucket(region, bucket_name).indexes[name]
        self.tags.pop(index.arn, None)
        for config in index.text.values():
            config.dropped = True  # stops a backfill still running

    def set_index_mode(self, index: VectorIndex, mode: str) -> None:
        if mode == "CLASSIC":
            if not self.bucket(index.region, index.bucket_name).classic_allowed:
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

    # ---- text search configurations -----------------------------------------------------------

    def add_text_configs(
        self, index: VectorIndex, configs: Sequence[tuple[str, str | None]], where: str
    ) -> None:
        """Add configurations to an existing index: BUILDING while the vectors are indexed."""
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
        add_text_configs(self.lock, index, configs, time.time() + self.text_build_seconds)

    # ---- queries ------------------------------------------------------------------------------

    def query(self, index: VectorIndex, query: queries.Query) -> dict[str, Any]:
        return queries.run(index, query, self.query_pages, self.query_page_size)

    # ---- tags ---------------------------------------------------------------------------------

    def _require_resource(self, arn: str) -> None:
        if not self.resource_exists(arn):
            raise NotFoundError(m.RESOURCE_NOT_FOUND)

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        self._require_resource(arn)
        if not tags:
            raise ValidationError("tags: at least one tag is required", "tags")
        self.tags.setdefault(arn, {}).update(tags)

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        self._require_resource(arn)
        if not keys:
            raise ValidationError("tagKeys: at least one tag key is required", "tagKeys")
        current = self.tags.get(arn, {})
        for key in keys:
            current.pop(key, None)

    def tags_of(self, arn: str) -> dict[str, str]:
        self._require_resource(arn)
        return dict(self.tags.get(arn, {}))
