"""Which index a request names: ARN parsing (every partition), bucket+name form, the allow-list."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import limits
from .errors import ACCESS_DENIED, S3vlError, validation_error
from .fields import Request, json_type

# The same pattern as SQL's s3vl._parse_index_arn (sql/10_core/25_validate.sql), matched against the
# whole string: tests/index_arn_cases.json holds the ARNs both (and the emulator) accept and refuse.
# [0-9], not \d, which would also match non-ASCII digits.
_PARTITION = r"aws|aws-cn|aws-us-gov"
_REGION = r"[a-z]{2}(?:-[a-z0-9]+)+-[0-9]+"
_BUCKET = r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"
_INDEX = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_BUCKET_ARN_PREFIX = (
    rf"arn:(?P<partition>{_PARTITION}):s3vectors:(?P<region>{_REGION}):"
    rf"(?P<account>[0-9]{{12}}):bucket/(?P<bucket>{_BUCKET})"
)
_INDEX_ARN = re.compile(rf"{_BUCKET_ARN_PREFIX}/index/(?P<index>{_INDEX})")
_BUCKET_ARN = re.compile(_BUCKET_ARN_PREFIX)
_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>[a-z][a-z-]*):lambda:[a-z0-9-]+:(?P<account>\d{12}):function:"
)
_BUCKET_NAME = re.compile(_BUCKET)
_INDEX_NAME = re.compile(_INDEX)

ALLOWED_ARNS_ENV = "S3VL_ALLOWED_INDEX_ARNS"


@dataclass(frozen=True)
class IndexRef:
    """An index as the request named it; `arn` is None for the bucket+name form."""

    region: str
    bucket: str
    index: str
    arn: str | None = None

    def api_params(self) -> dict[str, str]:
        """The identification parameters every S3 Vectors data operation takes."""
        if self.arn is not None:
            return {"indexArn": self.arn}
        return {"vectorBucketName": self.bucket, "indexName": self.index}

    def label(self) -> str:
        return self.arn or f"{self.bucket}/{self.index}"


def default_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def parse_index_arn(arn: str, field: str = "index_arn") -> IndexRef:
    if len(arn) > limits.MAX_ARN_LENGTH:
        raise validation_error(field, f"is longer than {limits.MAX_ARN_LENGTH} characters")
    m = _INDEX_ARN.fullmatch(arn)
    if m is None:
        raise validation_error(
            field,
            "must be an S3 Vectors index ARN "
            "arn:{aws|aws-cn|aws-us-gov}:s3vectors:{region}:{account}:bucket/{bucket}/index/{index}",
        )
    return IndexRef(region=m["region"], bucket=m["bucket"], index=m["index"], arn=arn)


def _name(req: Request, field: str, pattern: re.Pattern[str]) -> str:
    value = req.get(field)
    if not isinstance(value, str):
        raise validation_error(field, "is required (a string) when index_arn is not given")
    if not pattern.fullmatch(value):
        raise validation_error(
            field,
            f"must be {limits.MIN_NAME_LENGTH}-{limits.MAX_NAME_LENGTH} characters of lowercase "
            "letters, digits and hyphens (dots also allowed in index names), starting and "
            "ending with a letter or digit",
        )
    return value


def resolve_index(req: Request) -> IndexRef:
    """The index of a request: `index_arn`, or `vector_bucket_name` + `index_name`."""
    arn: Any = req.get("index_arn")
    has_names = req.get("vector_bucket_name") is not None or req.get("index_name") is not None
    if arn is not None:
        if has_names:
            raise validation_error(
                "index_arn", "give either index_arn or vector_bucket_name + index_name, not both"
            )
        if not isinstance(arn, str):
            raise validation_error("index_arn", f"must be a string, got {json_type(arn)}")
        ref = parse_index_arn(arn)
    elif has_names:
        bucket = _name(req, "vector_bucket_name", _BUCKET_NAME)
        index = _name(req, "index_name", _INDEX_NAME)
        region = default_region()
        if not region:
            raise validation_error(
                "index_arn",
                "the function has no AWS_REGION; name the index by index_arn instead",
            )
        ref = IndexRef(region=region, bucket=bucket, index=index)
    else:
        raise validation_error(
            "index_arn", "is required (or vector_bucket_name + index_name)"
        )
    check_allowed(ref)
    return ref


# The ARN the current invocation was made under (the Lambda context's invoked_function_arn): the
# bucket+name form names an index of this account and partition. Set by the handler per
# invocation; constant within an execution environment apart from the qualifier.
_invoked_function_arn: str | None = None


def set_invoked_function_arn(arn: Any) -> None:
    global _invoked_function_arn
    _invoked_function_arn = arn if isinstance(arn, str) else None


@lru_cache(maxsize=8)
def _own_account(function_arn: str | None) -> tuple[str, str] | None:
    """(partition, account) of the function, or None when its ARN is unknown or malformed."""
    m = _FUNCTION_ARN.match(function_arn or "")
    return (m["partition"], m["account"]) if m else None


@dataclass(frozen=True)
class _AllowEntry:
    partition: str
    region: str
    account: str
    bucket: str
    index: str | None  # None: every index of the bucket
    arn: str


@lru_cache(maxsize=8)
def _parse_allow_list(raw: str) -> tuple[_AllowEntry, ...]:
    entries: list[_AllowEntry] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        if m := _INDEX_ARN.fullmatch(item):
            entries.append(_AllowEntry(m["partition"], m["region"], m["account"], m["bucket"],
                                       m["index"], item))
        elif m := _BUCKET_ARN.fullmatch(item):
            entries.append(_AllowEntry(m["partition"], m["region"], m["account"], m["bucket"],
                                       None, item))
        # A malformed entry allows nothing (fail closed) rather than failing every request.
    return tuple(entries)


def _matches(entry: _AllowEntry, ref: IndexRef, own: tuple[str, str] | None) -> bool:
    if ref.arn is not None:
        if entry.index is not None:
            return ref.arn == entry.arn
        return ref.arn.startswith(entry.arn + "/index/")
    # Bucket+name form: S3 Vectors resolves the names in the caller's own account, so every part
    # of the entry is compared with (own partition, own account, AWS_REGION, bucket, index).
    return (
        own is not None
        and (entry.partition, entry.account) == own
        and entry.region == ref.region
        and entry.bucket == ref.bucket
        and entry.index in (None, ref.index)
    )


def check_allowed(ref: IndexRef) -> None:
    """Refuse indexes outside S3VL_ALLOWED_INDEX_ARNS (when set) before any AWS call."""
    raw = os.environ.get(ALLOWED_ARNS_ENV, "").strip()
    if not raw:
        return
    own = _own_account(_invoked_function_arn)
    if ref.arn is None and own is None:
        raise S3vlError(
            ACCESS_DENIED,
            f"index {ref.label()}: the bucket+name form cannot be checked against the "
            f"function's allow-list ({ALLOWED_ARNS_ENV}) because the function does not know its "
            "own account (no invoked_function_arn); name the index by index_arn",
            field="index_arn",
        )
    if not any(_matches(e, ref, own) for e in _parse_allow_list(raw)):
        raise S3vlError(
            ACCESS_DENIED,
            f"index {ref.label()} is not in the function's allow-list ({ALLOWED_ARNS_ENV})",
            field="index_arn",
        )
