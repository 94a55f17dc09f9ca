"""Which bucket or index a request names: by ARN, by name, or both (then they must agree).

Checked before any lookup, so a malformed name is a 400 whatever exists.
"""

from __future__ import annotations

from typing import Any

from s3vectors_emulator.api import params as p
from s3vectors_emulator.exceptions import ValidationError
from s3vectors_emulator.names import (
    parse_bucket_arn,
    parse_index_arn,
    validate_bucket_name,
    validate_index_name,
)

Body = dict[str, Any]


def bucket_ref(region: str, body: Body) -> tuple[str, str]:
    """(region, bucket) named by vectorBucketArn or vectorBucketName.

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


def index_ref(region: str, body: Body) -> tuple[str, str, str]:
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
