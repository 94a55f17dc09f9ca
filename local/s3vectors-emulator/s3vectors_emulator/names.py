"""Bucket and index names and their ARNs: the naming rules of the AWS user guide (the model
carries only the lengths), checked before any lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3vectors_emulator import constants as c
from s3vectors_emulator import messages as m
from s3vectors_emulator.exceptions import ValidationError, between, constraint_error

PARTITION = "aws"
_INDEX_ARN = re.compile(
    r"^arn:(?P<partition>aws[-a-z0-9]*):s3vectors:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"bucket/(?P<bucket>[^/]+)/index/(?P<index>[^/]+)$"
)
_BUCKET_ARN = re.compile(
    r"^arn:(?P<partition>aws[-a-z0-9]*):s3vectors:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
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


@dataclass(frozen=True)
class Arn:
    partition: str
    region: str
    account: str
    bucket: str
    index: str | None  # None: a bucket ARN

    def is_own(self, region: str) -> bool:
        """Whether it names a resource of this emulator (its partition and account) in `region`;
        the service finds nothing of another account or region."""
        return (self.partition, self.account, self.region) == (PARTITION, c.ACCOUNT_ID, region)


def parse_index_arn(arn: str, field_name: str = "indexArn") -> Arn:
    match = _INDEX_ARN.match(arn)
    if not match:
        raise ValidationError(f"Invalid index ARN: '{arn[:200]}'", field_name)
    validate_bucket_name(match["bucket"], field_name)
    validate_index_name(match["index"], field_name)
    return Arn(match["partition"], match["region"], match["account"], match["bucket"],
               match["index"])


def parse_bucket_arn(arn: str, field_name: str = "vectorBucketArn") -> Arn:
    match = _BUCKET_ARN.match(arn)
    if not match:
        raise ValidationError(f"Invalid vector bucket ARN: '{arn[:200]}'", field_name)
    validate_bucket_name(match["bucket"], field_name)
    return Arn(match["partition"], match["region"], match["account"], match["bucket"], None)


@dataclass(frozen=True)
class _NameRule:
    invalid: str  # the text for a name with characters outside the rule
    low: int
    high: int
    pattern: re.Pattern[str]
    allowed: str

    def check(self, name: str, field_name: str) -> None:
        if not self.low <= len(name) <= self.high:
            raise constraint_error(
                field_name, f"have length {between(self.low, self.high)}", len(name)
            )
        if not self.pattern.match(name):
            raise ValidationError(self.invalid, field_name)


_BUCKET_RULE = _NameRule(
    m.INVALID_BUCKET_NAME,
    c.BUCKET_NAME_MIN,
    c.BUCKET_NAME_MAX,
    re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"),
    "lowercase letters, digits and '-'",
)
_INDEX_RULE = _NameRule(
    m.INVALID_INDEX_NAME,
    c.INDEX_NAME_MIN,
    c.INDEX_NAME_MAX,
    re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"),
    "lowercase letters, digits, '-' and '.'",
)


def validate_bucket_name(name: str, field_name: str = "vectorBucketName") -> None:
    _BUCKET_RULE.check(name, field_name)


def validate_index_name(name: str, field_name: str = "indexName") -> None:
    _INDEX_RULE.check(name, field_name)
