"""Resolve the FunctionName path segment of an Invoke request (name, partial or full ARN)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3vl_local.identity import ACCOUNT_ID

_FULL_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)
_PARTIAL_ARN = re.compile(
    r"^(?P<account>\d{12}):function:(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")


@dataclass(frozen=True)
class FunctionRef:
    name: str
    region: str | None
    account: str | None
    qualifier: str | None


class BadFunctionName(ValueError):
    pass


def parse_function_name(raw: str) -> FunctionRef:
    for pattern in (_FULL_ARN, _PARTIAL_ARN, _NAME):
        match = pattern.match(raw)
        if match:
            groups = match.groupdict()
            return FunctionRef(groups["name"], groups.get("region"), groups.get("account"),
                               groups.get("qualifier"))
    raise BadFunctionName(
        f"1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
        "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    )


def matches(ref: FunctionRef, function_name: str, region: str) -> bool:
    return (ref.name == function_name
            and ref.region in (None, region)
            and ref.account in (None, ACCOUNT_ID))
