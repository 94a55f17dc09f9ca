"""Index administration: update_index_mode, add_text_search, drop_text_search.

They change the index, so they run only where the deployment allows it: S3VL_ALLOW_INDEX_ADMIN=true,
set by the CloudFormation parameter AllowIndexAdministration (which also grants the IAM actions).
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from .. import limits
from ..deadline import Deadline
from ..errors import ACCESS_DENIED, S3vlError, validation_error
from ..fields import Request, check_string, get_list, json_type
from ..index_info import get_index_info
from ..index_ref import IndexRef, resolve_index
from ..service import call

ALLOW_ADMIN_ENV = "S3VL_ALLOW_INDEX_ADMIN"
CFN_PARAMETER = "AllowIndexAdministration"


def admin_allowed() -> bool:
    return os.environ.get(ALLOW_ADMIN_ENV, "").strip().lower() == "true"


def _require_admin(operation: str, ref: IndexRef, cli: str, cli_args: list[str]) -> None:
    """AccessDenied naming the switch and the AWS CLI command that does the same by hand."""
    if admin_allowed():
        return
    if ref.arn is not None:
        target = ["--index-arn", ref.arn]
    else:
        target = ["--vector-bucket-name", ref.bucket, "--index-name", ref.index]
    command = shlex.join(["aws", "s3vectors", cli, "--region", ref.region, *target, *cli_args])
    raise S3vlError(
        ACCESS_DENIED,
        f"{operation}: index administration is switched off for this function "
        f"({ALLOW_ADMIN_ENV} is not true); turn it on with the CloudFormation parameter "
        f"{CFN_PARAMETER}=true, or run by hand: {command}",
        field="operation",
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _metadata_key(value: Any, field: str) -> str:
    return check_string(value, field, limits.MIN_METADATA_KEY_LENGTH,
                        limits.MAX_METADATA_KEY_LENGTH)


def _entries(req: Request, field: str) -> list[Any]:
    values = get_list(req, field)
    if len(values) > limits.MAX_TEXT_SEARCH_CONFIGS:
        raise validation_error(
            field,
            f"has {len(values)} entries; between {limits.MIN_TEXT_SEARCH_CONFIGS} and "
            f"{limits.MAX_TEXT_SEARCH_CONFIGS} are allowed",
        )
    return values


def _distinct(key: str, seen: set[str], field: str) -> None:
    if key in seen:
        raise validation_error(
            field, f"{json.dumps(key, ensure_ascii=False)} appears twice; one entry per key"
        )
    seen.add(key)


def _after_change(ref: IndexRef, deadline: Deadline) -> dict[str, Any]:
    """The index as GetIndex reports it now (mode and BUILDING/ACTIVE status included)."""
    return get_index_info(ref, deadline, refresh=True).to_result()


def update_index_mode(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    mode = req.get("index_mode")
    if not isinstance(mode, str) or mode.upper() not in limits.INDEX_MODES:
        shown = json_type(mode) if not isinstance(mode, str) else repr(mode)
        raise validation_error(
            "index_mode", f"must be one of {', '.join(limits.INDEX_MODES)}, got {shown}"
        )
    mode = mode.upper()
    _require_admin("update_index_mode", ref, "update-index-mode", ["--index-mode", mode])
    call(ref, deadline, "update_index_mode", indexMode=mode)
    return _after_change(ref, deadline)


def add_text_search(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    configs: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(_entries(req, "text_search")):
        field = f"text_search[{i}]"
        if not isinstance(entry, dict):
            raise validation_error(
                field,
                "must be an object {\"metadata_key\": ..., \"language\": ...}, got "
                f"{json_type(entry)}",
            )
        key = _metadata_key(entry.get("metadata_key"), f"{field}.metadata_key")
        _distinct(key, seen, f"{field}.metadata_key")
        config = {"metadataKey": key}
        language = entry.get("language")
        if language is not None:
            if not isinstance(language, str) or language.lower() not in (
                limits.TEXT_SEARCH_LANGUAGES
            ):
                shown = repr(language) if isinstance(language, str) else json_type(language)
                raise validation_error(
                    f"{field}.language",
                    f"must be one of {', '.join(limits.TEXT_SEARCH_LANGUAGES)}, or null for "
                    f"the standard analyzer, got {shown}",
                )
            config["language"] = language.lower()
        configs.append(config)
    change = {"textSearchConfigurations": configs}
    _require_admin(
        "add_text_search", ref, "update-metadata-configuration", ["--add", _compact(change)]
    )
    call(ref, deadline, "update_metadata_configuration", add=change)
    return _after_change(ref, deadline)


def drop_text_search(req: Request, deadline: Deadline) -> dict[str, Any]:
    ref = resolve_index(req)
    keys: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, value in enumerate(_entries(req, "metadata_keys")):
        key = _metadata_key(value, f"metadata_keys[{i}]")
        _distinct(key, seen, f"metadata_keys[{i}]")
        keys.append({"metadataKey": key})
    change = {"textSearchConfigurations": keys}
    _require_admin(
        "drop_text_search", ref, "update-metadata-configuration", ["--delete", _compact(change)]
    )
    call(ref, deadline, "update_metadata_configuration", delete=change)
    return _after_change(ref, deadline)
