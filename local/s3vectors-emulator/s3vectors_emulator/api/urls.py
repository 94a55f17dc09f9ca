"""The routing table: every operation the emulator serves, written once.

Each route names its handler, whether it only reads (shared side of the state lock, no snapshot
needed) and the kind of body it takes. Operations are `POST /{Operation}`, except the tagging
ones, which address `/tags/{resourceArn}` by HTTP method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote

from s3vectors_emulator.api import responses as r
from s3vectors_emulator.exceptions import UnknownOperationError

TAGS_PATH = "/tags/"


class BodyKind(Enum):
    JSON = "json"  # a JSON object
    VECTORS = "vectors"  # holds vector data: vector_json's fast path first
    QUERY = "query"  # as VECTORS, and its filter is free to nest

    @property
    def has_vectors(self) -> bool:
        return self is not BodyKind.JSON

    @property
    def too_deep_field(self) -> str:
        """What a body nested beyond the parsers' depth is blamed on."""
        return "filter" if self is BodyKind.QUERY else "request"


@dataclass(frozen=True)
class Route:
    handler: r.Handler
    read_only: bool = False
    body: BodyKind = BodyKind.JSON
    tags_method: str | None = None  # set: served as `<tags_method> /tags/{resourceArn}`


# Order as listed to clients (fault configuration errors name them in this order).
ROUTES: dict[str, Route] = {
    "CreateVectorBucket": Route(r.create_vector_bucket),
    "GetVectorBucket": Route(r.get_vector_bucket, read_only=True),
    "ListVectorBuckets": Route(r.list_vector_buckets, read_only=True),
    "DeleteVectorBucket": Route(r.delete_vector_bucket),
    "CreateIndex": Route(r.create_index),
    "GetIndex": Route(r.get_index, read_only=True),
    "ListIndexes": Route(r.list_indexes, read_only=True),
    "DeleteIndex": Route(r.delete_index),
    "PutVectorBucketPolicy": Route(r.put_vector_bucket_policy),
    "GetVectorBucketPolicy": Route(r.get_vector_bucket_policy, read_only=True),
    "DeleteVectorBucketPolicy": Route(r.delete_vector_bucket_policy),
    "PutVectors": Route(r.put_vectors, body=BodyKind.VECTORS),
    "GetVectors": Route(r.get_vectors, read_only=True),
    "ListVectors": Route(r.list_vectors, read_only=True),
    "DeleteVectors": Route(r.delete_vectors),
    "QueryVectors": Route(r.query_vectors, read_only=True, body=BodyKind.QUERY),
    "TagResource": Route(r.tag_resource, tags_method="POST"),
    "UntagResource": Route(r.untag_resource, tags_method="DELETE"),
    "ListTagsForResource": Route(r.list_tags_for_resource, read_only=True, tags_method="GET"),
    "UpdateIndexMode": Route(r.update_index_mode),
    "PutVectorBucketDefaultIndexMode": Route(r.put_vector_bucket_default_index_mode),
    "UpdateMetadataConfiguration": Route(r.update_metadata_configuration),
}

OPERATION_NAMES: tuple[str, ...] = tuple(ROUTES)


def resolve(method: str, path: str, query: Mapping[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """The operation a request names, and the members its path and query string carry."""
    path = path.split("?", 1)[0]
    if path.startswith(TAGS_PATH):
        for name, route in ROUTES.items():
            if route.tags_method == method:
                # Members absent from the URL stay absent: the model check then names them.
                arn = unquote(path[len(TAGS_PATH) :])
                args: dict[str, Any] = {"resourceArn": arn} if arn else {}
                if method == "DELETE" and "tagKeys" in query:
                    args["tagKeys"] = list(query["tagKeys"])
                return name, args
    elif method == "POST" and path.strip("/") in ROUTES:
        return path.strip("/"), {}
    raise UnknownOperationError(
        f"{method} {path}: not an S3 Vectors operation served by the emulator"
    )
