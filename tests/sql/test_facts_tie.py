"""Facts written once per language, tied together: every test here fails when one copy changes.

- Limits: every row of s3vl.limits() against lambda/s3vl_lambda/limits.py and, where it has the
  same limit, the emulator's s3vectors_emulator/constants.py (rows only SQL has are listed as
  such).
- Error types: the function's (s3vl_lambda.errors), s3vl.error_codes() and docs/protocol.md.
- Index ARNs: tests/index_arn_cases.json through SQL, the function and the emulator.
- Versions: pyproject.toml, the function and s3vl.version(); the protocol version on both sides.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from s3vectors_emulator import constants as emu
from s3vl_lambda import PROTOCOL_VERSION, __version__
from s3vl_lambda import limits as fn
from s3vl_lambda.errors import ERROR_TYPES, S3vlError
from s3vl_lambda.index_ref import parse_index_arn

REPO_ROOT = Path(__file__).resolve().parents[2]
ARN_CASES = json.loads((REPO_ROOT / "tests" / "index_arn_cases.json").read_text())["cases"]

# s3vl.limits() row -> (min, max) as the function has it, and as the emulator has it (None: the
# emulator does not enforce that limit).
TWINS: dict[str, tuple[tuple[int, int], tuple[int, int] | None]] = {
    "dimension": ((fn.MIN_DIMENSION, fn.MAX_DIMENSION), (emu.DIMENSION_MIN, emu.DIMENSION_MAX)),
    "top_k": ((fn.MIN_TOP_K, fn.MAX_TOP_K), (emu.TOP_K_MIN, emu.TOP_K_MAX)),
    "max_results": ((fn.MIN_LIST_MAX_RESULTS, fn.MAX_LIST_MAX_RESULTS),
                    (emu.LIST_VECTORS_MAX_RESULTS_MIN, emu.LIST_VECTORS_MAX_RESULTS_MAX)),
    "segment_count": ((fn.MIN_SEGMENT_COUNT, fn.MAX_SEGMENT_COUNT),
                      (emu.LIST_SEGMENT_COUNT_MIN, emu.LIST_SEGMENT_COUNT_MAX)),
    "segment_index": ((0, fn.MAX_SEGMENT_COUNT - 1), (0, emu.LIST_SEGMENT_COUNT_MAX - 1)),
    "vector_id_length": ((fn.MIN_KEY_LENGTH, fn.MAX_KEY_LENGTH),
                         (emu.VECTOR_KEY_MIN, emu.VECTOR_KEY_MAX)),
    "index_arn_length": ((1, fn.MAX_ARN_LENGTH), None),
    "metadata_keys": ((0, fn.MAX_METADATA_KEYS), (0, emu.METADATA_KEYS_MAX)),
    "metadata_bytes": ((0, fn.MAX_METADATA_BYTES), (0, emu.METADATA_TOTAL_BYTES_MAX)),
    "filterable_metadata_bytes": ((0, fn.MAX_FILTERABLE_METADATA_BYTES),
                                  (0, emu.METADATA_FILTERABLE_BYTES_MAX)),
    "invoke_payload_bytes": ((1, fn.MAX_INVOKE_PAYLOAD_BYTES), None),
    "event_payload_bytes": ((1, fn.MAX_EVENT_PAYLOAD_BYTES), None),
    "batch_queries": ((1, fn.MAX_BATCH_QUERIES), None),
    "max_filter_depth": ((1, fn.MAX_FILTER_DEPTH), (1, emu.FILTER_DEPTH_MAX)),
    "put_vectors_per_call": ((1, fn.MAX_PUT_VECTORS_PER_CALL), (1, emu.PUT_VECTORS_MAX)),
    # query_vectors_where examines at most the service's topK neighbours
    "max_candidates": ((fn.MIN_TOP_K, fn.MAX_TOP_K), (emu.TOP_K_MIN, emu.TOP_K_MAX)),
    "page_token_length": ((fn.MIN_NEXT_TOKEN_LENGTH, fn.MAX_NEXT_TOKEN_LENGTH), None),
    # full-text and hybrid search (the emulator checks these against botocore's model shapes)
    "query_texts": ((fn.MIN_QUERY_TEXTS, fn.MAX_QUERY_TEXTS), None),
    "query_text_length": ((fn.MIN_QUERY_TEXT_LENGTH, fn.MAX_QUERY_TEXT_LENGTH), None),
    "metadata_key_length": ((fn.MIN_METADATA_KEY_LENGTH, fn.MAX_METADATA_KEY_LENGTH),
                            (emu.METADATA_KEY_NAME_MIN, emu.METADATA_KEY_NAME_MAX)),
    # partitioned logical indexes (docs/partitions.md)
    "partitions": ((1, fn.MAX_PARTITIONS), None),
    "partition_concurrency": ((1, fn.PARTITION_CONCURRENCY), None),
    # embeddings (Titan Text Embeddings V2's character limit; texts per embed request)
    "embed_text_length": ((fn.MIN_EMBED_TEXT_LENGTH, fn.MAX_EMBED_TEXT_LENGTH), None),
    "embed_texts": ((fn.MIN_EMBED_TEXTS, fn.MAX_EMBED_TEXTS), None),
}
# Rows only SQL holds (nothing to tie but the docs, checked below), and why.
SQL_ONLY = {
    "timeout_seconds": "aws_lambda.request_timeout_ms (the template's LambdaTimeout is tied below)",
    "index_name_length": "registry (friendly) names exist only in SQL",
    "cache_ttl_seconds": "the result cache is in SQL",
    "max_attempts": "SQL retries a throttled invocation",
    "invoke_concurrency": "SQL admission control of its own invocations",
    "invocation_items": "SQL splits writes into invocations",
    "payload_margin_bytes": "SQL splits writes into invocations",
    "sync_batch_bytes": "sync is in SQL",
    "sync_max_rows": "sync is in SQL",
    "sync_backoff_seconds": "sync is in SQL",
    "sync_workers": "pg_cron jobs are scheduled by SQL",
    "prefilter_max_keys": "SQL's bound on the keys query_vectors_where ranks with the prefilter "
                          "plan (the function's rank_vectors accepts up to MAX_RANK_KEYS)",
    "prefilter_auto_keys": "SQL's plan choice (strategy auto), measured by bench/bench_where.py",
    "pages_per_call": "SQL's own bound on pages per invocation of query_vectors_where (the "
                      "function accepts max_pages up to its paging guard)",
    "filter_constraints": "SQL checks filters before any call; the function passes them to the "
                          "service (the emulator's figure is tied below)",
}


def _sql_limits(db: Any) -> dict[str, tuple[int, int]]:
    rows = db.execute("SELECT name, min_value, max_value FROM s3vl.limits()").fetchall()
    assert len(rows) == len({r[0] for r in rows}), "a limit name appears twice"
    return {r[0]: (r[1], r[2]) for r in rows}


# ---- limits -------------------------------------------------------------------------------------
@pytest.mark.stack
def test_filter_constraints_is_the_emulators(db: Any) -> None:
    assert _sql_limits(db)["filter_constraints"] == (1, emu.FILTER_CONSTRAINTS_MAX)


@pytest.mark.stack
def test_every_sql_limit_is_tied_or_known_to_be_sql_only(db: Any) -> None:
    rows = _sql_limits(db)
    unclassified = set(rows) - set(TWINS) - set(SQL_ONLY)
    assert not unclassified, (f"new s3vl.limits() rows {sorted(unclassified)}: add each to TWINS "
                              "(with the function's and emulator's value) or SQL_ONLY here")
    assert not (set(TWINS) | set(SQL_ONLY)) - set(rows), "a tied limit is gone from s3vl.limits()"


@pytest.mark.stack
@pytest.mark.parametrize("name", sorted(TWINS))
def test_sql_limit_equals_the_function_and_the_emulator(db: Any, name: str) -> None:
    sql = _sql_limits(db)[name]
    function, emulator = TWINS[name]
    assert sql == function, f"{name}: SQL {sql} != function {function}"
    if emulator is not None:
        assert sql == emulator, f"{name}: SQL {sql} != emulator {emulator}"


@pytest.mark.stack
def test_limits_the_docs_state_equal_sql(db: Any) -> None:
    rows = _sql_limits(db)
    section = (REPO_ROOT / "docs" / "sql-reference.md").read_text().split("## Limits", 1)[1]
    section = section.split("\n## ", 1)[0]
    stated = re.findall(r"`(\w+)` (\d+)–(\d+)", section)
    assert len(stated) >= 8
    for name, low, high in stated:
        assert rows[name] == (int(low), int(high)), name
    sync_doc = (REPO_ROOT / "docs" / "sync.md").read_text()
    assert f"`max_rows` (1–{rows['sync_max_rows'][1]:,}" in sync_doc


@pytest.mark.stack
def test_sync_default_max_rows_is_the_documented_one(db: Any) -> None:
    args = db.execute("SELECT pg_get_function_arguments('s3vl.sync(text, integer, boolean)'"
                      "::regprocedure)").fetchone()[0]
    default = int(re.search(r"max_rows integer DEFAULT (\d+)", args).group(1))  # type: ignore[union-attr]
    low, high = _sql_limits(db)["sync_max_rows"]
    assert low <= default <= high
    assert f"max_rows integer DEFAULT {default}," in (REPO_ROOT / "docs" / "sync.md").read_text()


@pytest.mark.stack
def test_sql_helpers_read_the_limits(db: Any) -> None:
    rows = _sql_limits(db)
    assert db.execute("SELECT s3vl._items_per_invocation()").fetchone() == (
        rows["invocation_items"][1],)
    budget = db.execute("SELECT s3vl._payload_budget('t', 'Event')").fetchone()[0]
    assert budget == rows["event_payload_bytes"][1] - rows["payload_margin_bytes"][1]
    assert db.execute("SELECT s3vl._sync_batch_size(1)").fetchone() == (
        rows["put_vectors_per_call"][1],)
    assert db.execute("SELECT extract(epoch FROM s3vl._sync_backoff(100))::integer").fetchone() == (
        rows["sync_backoff_seconds"][1],)


def _template_range(parameter: str) -> tuple[int, int]:
    text = (REPO_ROOT / "cloudformation" / "template.yaml").read_text()
    block = re.search(rf"\n  {parameter}:\n((?:    .*\n)+)", text)
    assert block is not None, parameter
    low = re.search(r"MinValue: (\d+)", block.group(1))
    high = re.search(r"MaxValue: (\d+)", block.group(1))
    assert low is not None and high is not None, parameter
    return int(low.group(1)), int(high.group(1))


@pytest.mark.stack
def test_cloudformation_parameters_stay_inside_the_sql_limits(db: Any) -> None:
    rows = _sql_limits(db)
    assert _template_range("IndexDimension") == rows["dimension"]
    # SQL's timeout_seconds bounds aws_lambda's wait; the template the function's own timeout.
    assert _template_range("LambdaTimeout")[1] == rows["timeout_seconds"][1]


def test_sql_float32_bound_is_the_function_one() -> None:
    # The float32 magnitude bound is written once in SQL (s3vl._float32_max(); s3vl.limits()
    # holds integers only) and must be the function's value.
    sources = [p for p in sorted((REPO_ROOT / "sql").rglob("*.sql")) if "history" not in p.parts]
    literals = [float(m) for p in sources
                for m in re.findall(r"\d\.\d{10,}e38", p.read_text())]
    assert literals == [fn.FLOAT32_MAX]


def test_local_lambda_endpoint_reads_the_payload_limits() -> None:
    from s3vl_local.lambda_endpoint import server

    assert server.SYNC_PAYLOAD_LIMIT == fn.MAX_INVOKE_PAYLOAD_BYTES == 6 * 1024 * 1024
    assert server.ASYNC_PAYLOAD_LIMIT == fn.MAX_EVENT_PAYLOAD_BYTES == 1024 * 1024


def test_no_comment_points_outside_the_repository() -> None:
    roots = [REPO_ROOT / "lambda", REPO_ROOT / "local", REPO_ROOT / "sql"]
    files = [p for root in roots for p in root.rglob("*") if p.suffix in (".py", ".sql")
             and "history" not in p.parts]
    offenders = [str(p.relative_to(REPO_ROOT)) for p in files
                 if "shared/reference" in p.read_text(errors="replace")]
    assert offenders == []


# ---- error types --------------------------------------------------------------------------------
def _doc_error_table() -> dict[str, set[str]]:
    doc = (REPO_ROOT / "docs" / "protocol.md").read_text()
    table = doc.split("### Error types", 1)[1].split("\n\n", 2)[1]
    mapping: dict[str, set[str]] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        mapping[cells[0].strip("`")] = set(re.findall(r"`([0-9A-Z]{5})`", cells[-1]))
    return mapping


def test_protocol_doc_lists_exactly_the_function_error_types() -> None:
    assert set(_doc_error_table()) == set(ERROR_TYPES)


@pytest.mark.stack
def test_error_codes_cover_exactly_the_function_error_types_as_documented(db: Any) -> None:
    mapping: dict[str, set[str]] = {}
    for sqlstate, error_type in db.execute("SELECT sqlstate, error_type FROM s3vl.error_codes() "
                                           "WHERE error_type IS NOT NULL").fetchall():
        mapping.setdefault(error_type, set()).add(sqlstate)
    assert set(mapping) == set(ERROR_TYPES)
    assert mapping == _doc_error_table()


@pytest.mark.stack
def test_sqlstate_for_reads_error_codes(db: Any) -> None:
    # Each type maps to its error_codes() row; the NaN/dimension split and unknown types too.
    rows = db.execute("SELECT e.error_type, e.sqlstate, s3vl._sqlstate_for(e.error_type, NULL, "
                      "CASE e.sqlstate WHEN '22000' THEN 'dimension 3 does not match' END) "
                      "FROM s3vl.error_codes() e WHERE e.error_type IS NOT NULL").fetchall()
    for error_type, sqlstate, mapped in rows:
        assert mapped == sqlstate, error_type
    internal = db.execute("SELECT sqlstate FROM s3vl.error_codes() "
                          "WHERE error_type = 'InternalError'").fetchone()
    assert db.execute("SELECT s3vl._sqlstate_for('NoSuchType'), s3vl._sqlstate_for(NULL)"
                      ).fetchone() == (internal[0], internal[0])


@pytest.mark.stack
def test_every_hint_belongs_to_a_listed_sqlstate(db: Any) -> None:
    orphans = db.execute("SELECT h.origin, h.sqlstate FROM s3vl._error_hints() h "
                         "WHERE h.sqlstate IS NOT NULL AND h.sqlstate NOT IN "
                         "(SELECT sqlstate FROM s3vl.error_codes())").fetchall()
    assert orphans == []
    assert db.execute("SELECT s3vl._error_hint('function', 'SV002', true), "
                      "s3vl._error_hint('function', 'SV002', false), "
                      "s3vl._error_hint('function', '22023'), "
                      "s3vl._error_hint('invoke', 'SV006') IS NOT NULL").fetchone() == (
        "A transient service error; retrying may succeed.",
        "Retrying the same request will not help.", None, True)


# ---- index ARNs ---------------------------------------------------------------------------------
def _function_accepts(arn: str) -> bool:
    try:
        parse_index_arn(arn)
    except S3vlError:
        return False
    return True


def test_arn_cases_cover_both_answers() -> None:
    assert {c["accepted"] for c in ARN_CASES} == {True, False}
    assert any("emulator_accepts" in c for c in ARN_CASES)


@pytest.mark.parametrize("case", ARN_CASES, ids=[c["why"] for c in ARN_CASES])
def test_function_accepts_exactly_the_listed_arns(case: dict[str, Any]) -> None:
    assert _function_accepts(case["arn"]) is case["accepted"]


@pytest.mark.stack
def test_sql_accepts_exactly_the_listed_arns(db: Any) -> None:
    arns = [c["arn"] for c in ARN_CASES]
    got = db.execute("SELECT (s3vl._parse_index_arn(a)).index_name IS NOT NULL "
                     "FROM unnest(%s::text[]) WITH ORDINALITY AS u(a, n) ORDER BY n",
                     (arns,)).fetchall()
    wrong = [c["why"] for c, (ok,) in zip(ARN_CASES, got, strict=True) if ok is not c["accepted"]]
    assert wrong == []


def test_emulator_accepts_exactly_the_listed_arns() -> None:
    import boto3
    from botocore.exceptions import ClientError

    from s3vectors_emulator import mock_s3vectors

    wrong = []
    with mock_s3vectors():
        client = boto3.client("s3vectors", region_name="us-east-1")
        for case in ARN_CASES:
            with pytest.raises(ClientError) as caught:
                client.get_index(indexArn=case["arn"])
            code = caught.value.response["Error"]["Code"]
            assert code in ("NotFoundException", "ValidationException"), code
            expected = case.get("emulator_accepts", case["accepted"])
            if (code == "NotFoundException") is not expected:
                wrong.append(case["why"])
    assert wrong == []


# ---- versions -----------------------------------------------------------------------------------
@pytest.mark.stack
def test_one_release_version(db: Any) -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert pyproject == __version__
    assert db.execute("SELECT s3vl.version()").fetchone() == (__version__,)


@pytest.mark.stack
def test_one_protocol_version(db: Any) -> None:
    assert db.execute("SELECT s3vl._protocol_version()").fetchone() == (PROTOCOL_VERSION,)
    doc = (REPO_ROOT / "docs" / "protocol.md").read_text()
    assert f"Protocol version: **{PROTOCOL_VERSION}**" in doc


@pytest.mark.stack
@pytest.mark.parametrize(("answered", "shown"),
                         [(2, "2"), ("1.0", "1.0"), (None, "(none reported)")])
def test_validate_config_refuses_another_protocol_version(canned: Any, answered: Any,
                                                          shown: str) -> None:
    from sql.sql_helpers import set_answer

    result: dict[str, Any] = {"status": "available", "package_version": "9.9.9"}
    if answered is not None:
        result["protocol_version"] = answered
    set_answer(canned, "availability_check", {"success": True, "result": result})
    valid, message = canned.execute("SELECT is_valid, error_message FROM s3vl.validate_config()"
                                    ).fetchone()
    assert valid is False
    assert (f"s3vl.validate_config: the Lambda function speaks protocol version {shown}, this "
            f"s3vl {__version__} speaks protocol version {PROTOCOL_VERSION}") in message
    assert "SV007" in message
    assert canned.execute("SELECT last_validation_status FROM s3vl.get_config()").fetchone()[
        0].startswith("ERROR: ")


@pytest.mark.stack
def test_validate_config_accepts_the_same_protocol_version(canned: Any) -> None:
    from sql.sql_helpers import set_answer

    set_answer(canned, "availability_check", {"success": True, "result": {
        "status": "available", "protocol_version": PROTOCOL_VERSION}})
    assert canned.execute("SELECT is_valid, error_message FROM s3vl.validate_config()"
                          ).fetchone() == (True, None)


@pytest.mark.stack
def test_sql_knows_every_operation_name_the_function_puts_before_a_message(db: Any) -> None:
    """s3vl._service_message drops the function's operation prefix (so an error names the SQL
    function once); the names are the protocol's operations and the boto3 calls it makes."""
    from s3vl_lambda.operations import OPERATIONS

    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "lambda").rglob("*.py"))
    calls = set(re.findall(r"(?:call|_write_chunks)\(\s*ref,\s*deadline,\s*\"(\w+)\"", sources))
    assert {"query_vectors", "update_metadata_configuration"} <= calls
    sql = set(db.execute("SELECT unnest(s3vl._service_operations())").fetchall())
    assert {r[0] for r in sql} == set(OPERATIONS) | calls
