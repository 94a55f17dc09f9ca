"""Which bucket or index a request names: by ARN or by name, never both (as the service).

Checked before any lookup: a request that names an index both by ARN and by bucket + name (or a
bucket both by name and by ARN), or by neither, is a 400 with the service's text whatever
exists; a malformed name is a 400 too. An ARN of another partition, account or region names
nothing this emulator holds: 404, with the service's not-found text.
"""

from __future__ import annotations

from typing import Any

from s3vectors_emulator import messages as m
from s3vectors_emulator.api import params as p
from s3vectors_emulator.exceptions import NotFoundError, ValidationError
from s3vectors_emulator.names import (
    parse_bucket_arn,
    parse_index_arn,
    validate_bucket_name,
    validate_index_name,
)

Body = dict[str, Any]


def bucket_ref(region: str, body: Body) -> tuple[str, str]:
    """(region, bucket) named by exactly one of vectorBucketName and vectorBucketArn."""
    name = p.string(body, "vectorBucketName")
    arn = p.string(body, "vectorBucketArn")
    if (name is None) == (arn is None):
        raise ValidationError(m.BUCKET_FORMS, "vectorBucketName")
    if name is not None:
        validate_bucket_name(name)
        return region, name
    assert arn is not None
    parsed = parse_bucket_arn(arn)
    if not parsed.is_own(region):
        raise NotFoundError(m.BUCKET_NOT_FOUND)
    return region, parsed.bucket


def index_ref(region: str, body: Body) -> tuple[str, str, str]:
    """(region, bucket, index) named by indexArn alone, or by vectorBucketName + indexName."""
    arn = p.string(body, "indexArn")
    bucket = p.string(body, "vectorBucketName")
    name = p.string(body, "indexName")
    by_name = bucket is not None and name is not None
    if (arn is None) != by_name or (arn is not None and (bucket, name) != (None, None)):
        raise ValidationError(m.INDEX_FORMS, "indexArn")
    if arn is None:
        assert bucket is not None and name is not None
        validate_bucket_name(bucket)
        validate_index_name(name)
        return region, bucket, name
    parsed = parse_index_arn(arn)
    if not parsed.is_own(region):
        raise NotFoundError(m.INDEX_NOT_FOUND)
    assert parsed.index is not None
    return region, parsed.bucket, parsed.index
