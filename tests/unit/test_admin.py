"""update_index_mode, add_text_search, drop_text_search (behind S3VL_ALLOW_INDEX_ADMIN) and
get_index's index_mode / text_search, against botocore's Stubber (UpdateIndexMode,
UpdateMetadataConfiguration and GetIndexOutput shapes from botocore's model)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from botocore.stub import Stubber

from s3vl_lambda import limits

from .conftest import BUCKET, INDEX, INDEX_ARN, Invoke, index_response


def _index(mode: str | None = "ENHANCED", configs: list[dict[str, str]] | None = None
           ) -> dict[str, Any]:
    answer = index_response()
    if mode is not None:
        answer["index"]["indexMode"] = mode
    if configs is not None:
        answer["index"]["metadataConfiguration"] = {"textSearchConfigurations": configs}
    return answer


@pytest.fixture
def admin_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3VL_ALLOW_INDEX_ADMIN", "true")


ADMIN_REQUESTS = [
    {"operation": "update_index_mode", "index_mode": "ENHANCED"},
    {"operation": "add_text_search", "text_search": [{"metadata_key": "name"}]},
    {"operation": "drop_text_search", "metadata_keys": ["name"]},
]


@pytest.mark.parametrize("value", [None, "", "false", "1", "yes", "TRUE-ish"])
@pytest.mark.parametrize("req", ADMIN_REQUESTS, ids=lambda r: r["operation"])
def test_admin_is_refused_unless_switched_on(
    invoke: Invoke, stubbed: Stubber, monkeypatch: pytest.MonkeyPatch, req: dict[str, Any],
    value: str | None,
) -> None:
    if value is not None:
        monkeypatch.setenv("S3VL_ALLOW_INDEX_ADMIN", value)
    env = invoke({**req, "index_arn": INDEX_ARN})
    assert env["success"] is False
    err = env["error"]
    assert err["type"] == "AccessDenied" and err["field"] == "operation"
    assert "AllowIndexAdministration" in err["message"]
    assert "S3VL_ALLOW_INDEX_ADMIN" in err["message"]
    stubbed.assert_no_pending_responses()  # and no AWS call at all (a call would raise)


def test_refusal_gives_a_cli_command_that_parses(invoke: Invoke, stubbed: Stubber) -> None:
    env = invoke({"operation": "drop_text_search", "vector_bucket_name": BUCKET,
                  "index_name": INDEX, "metadata_keys": ["it's"]})
    command = env["error"]["message"].split("run by hand: ", 1)[1]
    assert shlex.split(command) == [
        "aws", "s3vectors", "update-metadata-configuration", "--region", "us-east-1",
        "--vector-bucket-name", BUCKET, "--index-name", INDEX,
        "--delete", '{"textSearchConfigurations":[{"metadataKey":"it\'s"}]}']


def test_update_index_mode_then_reads_the_index(
    invoke: Invoke, stubbed: Stubber, admin_on: None
) -> None:
    stubbed.add_response("update_index_mode", {}, {"indexArn": INDEX_ARN, "indexMode": "CLASSIC"})
    stubbed.add_response("get_index", _index("CLASSIC"), {"indexArn": INDEX_ARN})
    env = invoke({"operation": "update_index_mode", "index_arn": INDEX_ARN,
                  "index_mode": "classic"})
    assert env["success"] is True, env
    assert env["result"]["index_mode"] == "CLASSIC"
    assert env["result"]["text_search"] == []
    stubbed.assert_no_pending_responses()


def test_add_text_search_sends_the_configurations(
    invoke: Invoke, stubbed: Stubber, admin_on: None
) -> None:
    stubbed.add_response(
        "update_metadata_configuration", {"indexArn": INDEX_ARN},
        {"indexArn": INDEX_ARN, "add": {"textSearchConfigurations": [
            {"metadataKey": "name", "language": "de"}, {"metadataKey": "body"}]}})
    stubbed.add_response("get_index", _index(configs=[
        {"metadataKey": "name", "language": "de", "status": "BUILDING"},
        {"metadataKey": "body", "status": "BUILDING"}]))
    env = invoke({"operation": "add_text_search", "index_arn": INDEX_ARN, "text_search": [
        {"metadata_key": "name", "language": "DE"}, {"metadata_key": "body"}]})
    assert env["success"] is True, env
    assert env["result"]["text_search"] == [
        {"metadata_key": "name", "language": "de", "status": "BUILDING"},
        {"metadata_key": "body", "language": None, "status": "BUILDING"}]
    stubbed.assert_no_pending_responses()


def test_drop_text_search_sends_the_keys(invoke: Invoke, stubbed: Stubber, admin_on: None) -> None:
    stubbed.add_response(
        "update_metadata_configuration", {"indexArn": INDEX_ARN},
        {"indexArn": INDEX_ARN,
         "delete": {"textSearchConfigurations": [{"metadataKey": "a"}, {"metadataKey": "b"}]}})
    stubbed.add_response("get_index", _index(configs=[]))
    env = invoke({"operation": "drop_text_search", "index_arn": INDEX_ARN,
                  "metadata_keys": ["a", "b"]})
    assert env["success"] is True and env["result"]["text_search"] == []


def test_service_refusal_comes_back_typed(invoke: Invoke, stubbed: Stubber, admin_on: None) -> None:
    stubbed.add_client_error("update_metadata_configuration", "ValidationException",
                             "The index must be in ENHANCED mode", 400)
    env = invoke({"operation": "add_text_search", "index_arn": INDEX_ARN,
                  "text_search": [{"metadata_key": "name"}]})
    assert env["error"]["type"] == "ValidationError"
    assert "ENHANCED" in env["error"]["message"]
    stubbed.add_client_error("update_metadata_configuration", "ConflictException", "busy", 409)
    env = invoke({"operation": "drop_text_search", "index_arn": INDEX_ARN,
                  "metadata_keys": ["name"]})
    assert env["error"]["type"] == "Conflict"


def test_admin_respects_the_allow_list(
    invoke: Invoke, stubbed: Stubber, admin_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3VL_ALLOWED_INDEX_ARNS", INDEX_ARN.replace(INDEX, "other-index"))
    env = invoke({"operation": "update_index_mode", "index_arn": INDEX_ARN,
                  "index_mode": "ENHANCED"})
    assert env["error"]["type"] == "AccessDenied" and env["error"]["field"] == "index_arn"


TOO_MANY = limits.MAX_TEXT_SEARCH_CONFIGS + 1


@pytest.mark.parametrize(
    ("req", "field", "needle"),
    [
        ({"operation": "update_index_mode"}, "index_mode", "one of CLASSIC, ENHANCED, got null"),
        ({"operation": "update_index_mode", "index_mode": "FAST"}, "index_mode", "got 'FAST'"),
        ({"operation": "add_text_search"}, "text_search", "required"),
        ({"operation": "add_text_search", "text_search": []}, "text_search", "not be empty"),
        ({"operation": "add_text_search",
          "text_search": [{"metadata_key": f"k{i}"} for i in range(TOO_MANY)]},
         "text_search", f"has {TOO_MANY} entries; between 1 and 10"),
        ({"operation": "add_text_search", "text_search": ["name"]}, "text_search[0]",
         "must be an object"),
        ({"operation": "add_text_search", "text_search": [{"language": "en"}]},
         "text_search[0].metadata_key", "must be a string, got null"),
        ({"operation": "add_text_search", "text_search": [{"metadata_key": "k" * 64}]},
         "text_search[0].metadata_key", "between 1 and 63 characters, got 64"),
        ({"operation": "add_text_search",
          "text_search": [{"metadata_key": "a"}, {"metadata_key": "a", "language": "fr"}]},
         "text_search[1].metadata_key", "appears twice"),
        ({"operation": "add_text_search",
          "text_search": [{"metadata_key": "a", "language": "xx"}]},
         "text_search[0].language", "one of en, fr, es, pt, it, de, nl, zh, ja, ko"),
        ({"operation": "drop_text_search", "metadata_keys": "a"}, "metadata_keys",
         "must be an array"),
        ({"operation": "drop_text_search", "metadata_keys": ["a", ""]}, "metadata_keys[1]",
         "between 1 and 63 characters, got 0"),
        ({"operation": "drop_text_search", "metadata_keys": ["a", "a"]}, "metadata_keys[1]",
         "appears twice"),
        ({"operation": "drop_text_search", "metadata_keys": [f"k{i}" for i in range(TOO_MANY)]},
         "metadata_keys", f"has {TOO_MANY} entries"),
    ],
)
def test_bad_admin_requests_name_the_field_and_limit(
    invoke: Invoke, stubbed: Stubber, admin_on: None, req: dict[str, Any], field: str,
    needle: str,
) -> None:
    env = invoke({**req, "index_arn": INDEX_ARN})
    assert env["error"]["type"] == "ValidationError", env
    assert env["error"]["field"] == field
    assert needle in env["error"]["message"]
    stubbed.assert_no_pending_responses()


def test_get_index_reports_mode_and_text_search(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", _index("CLASSIC", [
        {"metadataKey": "title", "language": "ja", "status": "ACTIVE"}]))
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert env["result"]["index_mode"] == "CLASSIC"
    assert env["result"]["text_search"] == [
        {"metadata_key": "title", "language": "ja", "status": "ACTIVE"}]


def test_get_index_without_mode_reports_null(invoke: Invoke, stubbed: Stubber) -> None:
    stubbed.add_response("get_index", _index(None))
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert env["result"]["index_mode"] is None and env["result"]["text_search"] == []


def test_get_index_is_never_served_from_the_cache(invoke: Invoke, stubbed: Stubber) -> None:
    """Mode and status change over time: every get_index reads the service."""
    stubbed.add_response("get_index", _index(configs=[
        {"metadataKey": "name", "status": "BUILDING"}]))
    stubbed.add_response("get_index", _index(configs=[
        {"metadataKey": "name", "status": "ACTIVE"}]))
    first = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    second = invoke({"operation": "get_index", "index_arn": INDEX_ARN})
    assert first["result"]["text_search"][0]["status"] == "BUILDING"
    assert second["result"]["text_search"][0]["status"] == "ACTIVE"
