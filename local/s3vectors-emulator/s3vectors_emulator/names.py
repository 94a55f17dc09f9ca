"""Bucket and index names and their ARNs: the naming rules of the AWS user guide (the model
carries only the lengths), checked before any lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3vectors_emulator import constants as c
from s3vectors_emulator.exceptions import ValidationError

_INDEX_ARN = re.compile(
    r"^arn:aws[-a-z0-9]*:s3vectors:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"bucket/(?P<bucket>[^/]+)/index/(?P<index>[^/]+)$"
)
_BUCKET_ARN = re.compile(
    r"^arn:aws[-a-z0-9]*:s3vectors:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"bucket/(?P<bucket>[^/]+)$"
)


def bucket_arn(region: str, bucket: str) -> str:
    return f"arn:aws:s3vectors:{region}:{c.ACCOUNT_ID}:bucket/{bucket}"


def index_arn(region: str, bucket: str, index: str) -> str:
    return f"{bucket_arn(region, bucket)}/index/{index}"


def is_index_arn(arn: str) -> bool:
    return _INDEX_ARN.match(arn) is not None


def is_bucket_arn(arn: str) -> bool:
    return _BUCKET_ARN.match(arn) is not None


def parse_index_arn(arn: str, field_name: str = "indexArn") -> tuple[str, str, str]:
    match = _INDEX_ARN.match(arn)
    if not match:
        raise ValidationError(f"{field_name}: '{arn}' is not a vector index ARN", field_name)
    validate_bucket_name(match["bucket"], field_name)
    validate_index_name(match["index"], field_name)
    return match["region"], match["bucket"], match["index"]


def parse_bucket_arn(arn: str, field_name: str = "vectorBucketArn") -> tuple[str, str]:
    match = _BUCKET_ARN.match(arn)
    if not match:
        raise ValidationError(f"{field_name}: '{arn}' is not a vector bucket ARN", field_name)
    validate_bucket_name(match["bucket"], field_name)
    return match["region"], match["bucket"]


@dataclass(frozen=True)
class _NameRule:
    what: str
    low: int
    high: int
    pattern: re.Pattern[str]
    allowed: str

    def check(self, name: str, field_name: str) -> None:
        if not self.low <= len(name) <= self.high:
            raise ValidationError(
                f"{field_name}: Invalid {self.what} '{name}': length {len(name)} is outside "
                f"{self.low}-{self.high} characters",
                field_name,
            )
        if not self.pattern.match(name):
            raise ValidationError(
                f"{field_name}: Invalid {self.what} '{name}': only {self.allowed} are allowed, "
                "and it must start and end with a letter or digit",
                field_name,
            )


_BUCKET_RULE = _NameRule(
    "vector bucket name",
    c.BUCKET_NAME_MIN,
    c.BUCKET_NAME_MAX,
    re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"),
    "lowercase letters, digits and '-'",
)
_INDEX_RULE = _NameRule(
    "index name",
    c.INDEX_NAME_MIN,
    c.INDEX_NAME_MAX,
    re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"),
    "lowercase letters, digits, '-' and '.'",
)


def validate_bucket_name(name: str, field_name: str = "vectorBucketName") -> None:
    _BUCKET_RULE.check(name, field_name)


def validate_index_name(name: str, field_name: str = "indexName") -> None:
    _INDEX_RULE.check(name, field_name)
