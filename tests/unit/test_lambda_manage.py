"""filter_vectors and update_metadata through the handler, against the in-process emulator
(stubbed only for a PutVectors failure)."""

from __future__ import annotations

import json
from typing import Any

from botocore.stub import Stubber

from .conftest import INDEX_ARN, Invoke, index_response

N = 120


def _load(index: dict[str, Any], n: int = N) -> None:
    vectors = [{"key": f"v{i:03d}", "data": {"float32": [1.0, float(i), 0.0, 0.5]},
                "metadata": {"n": i, "even": i % 2 == 0, "tags": ["all", f"t{i % 3}"]}}
               for i in range(n)]
    index["client"].put_vectors(indexArn=index["arn"], vectors=vectors)


def _ok(envelope: dict[str, Any]) -> Any:
    assert envelope["success"], envelope
    return envelope["result"]


def _follow(invoke: Invoke, request: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every answer of a request followed through its resume tokens, and the invocations."""
    answers = [_ok(invoke(json.dumps(request)))]
    while answers[-1]["resume_token"] is not None:
        answers.append(_ok(invoke(json.dumps({**request,
                                              "resume_token": answers[-1]["resume_token"]}))))
    return answers, len(answers)


def test_count_is_the_same_for_every_segment_count(served_index: dict[str, Any],
                                                   invoke: Invoke) -> None:
    _load(served_index)
    for segments in (1, 3, 8, 16):
        result = _ok(invoke(json.dumps({"operation": "filter_vectors", "index_arn": INDEX_ARN,
                                        "metadata_filter": {"even": True, "tags": "t1"},
                                        "segment_count": segments})))
        assert result["examined"] == N and result["resume_token"] is None
        assert result["matched"] == len([i for i in range(N) if i % 2 == 0 and i % 3 == 1])


def test_list_follows_tokens_through_partial_pages(served_index: dict[str, Any],
                                                   invoke: Invoke) -> None:
    _load(served_index)
    answers, calls = _follow(invoke, {"operation": "filter_vectors", "index_arn": INDEX_ARN,
                                      "action": "list", "metadata_filter": {"n": {"$lt": 50}},
                                      "segment_count": 4, "page_size": 7, "max_vectors": 9})
    ids = [row["vector_id"] for a in answers for row in a["vectors"]]
    assert sorted(ids) == [f"v{i:03d}" for i in range(50)]  # none lost, none repeated
    assert calls > 50 // 9 and all(len(a["vectors"]) <= 9 for a in answers)
    assert sum(a["examined"] for a in answers) == N


def test_a_time_budget_splits_the_work_into_invocations(served_index: dict[str, Any],
                                                        invoke: Invoke,
                                                        monkeypatch: Any) -> None:
    from s3vl_lambda.operations import manage

    _load(served_index)
    real = manage._Scan.may_start_page
    pages = {"n": 0}

    def two_pages_per_invocation(self: Any) -> bool:  # a budget measured in pages, not time
        pages["n"] += 1
        return bool(real(self)) and pages["n"] % 3 != 0

    monkeypatch.setattr(manage._Scan, "may_start_page", two_pages_per_invocation)
    answers, calls = _follow(invoke, {"operation": "filter_vectors", "index_arn": INDEX_ARN,
                                      "action": "delete", "metadata_filter": {"even": False},
                                      "segment_count": 1, "page_size": 10,
                                      "time_budget_ms": 100})
    assert calls >= 3
    assert sum(a["deleted"] for a in answers) == N // 2
    left = served_index["client"].list_vectors(indexArn=INDEX_ARN, returnMetadata=True)
    assert {v["metadata"]["even"] for v in left["vectors"]} == {True}


def test_bad_resume_token_and_action(served_index: dict[str, Any], invoke: Invoke) -> None:
    bad = invoke(json.dumps({"operation": "filter_vectors", "index_arn": INDEX_ARN,
                             "resume_token": "bm90IGEgdG9rZW4="}))
    assert bad["error"]["field"] == "resume_token"
    bad = invoke(json.dumps({"operation": "filter_vectors", "index_arn": INDEX_ARN,
                             "action": "drop"}))
    assert bad["error"]["field"] == "action"


def test_update_metadata_patches_and_keeps_data(served_index: dict[str, Any],
                                                invoke: Invoke, api_calls: list[str]) -> None:
    _load(served_index, 250)
    ids = [f"v{i:03d}" for i in range(250)] + ["nope"]
    api_calls.clear()
    result = _ok(invoke(json.dumps({"operation": "update_metadata", "index_arn": INDEX_ARN,
                                    "vector_ids": ids,
                                    "patch": {"n": None, "tags": ["x"], "new": "y"}})))
    assert result == {"updated": 250, "missing": ["nope"],
                      "calls": {"get_vectors": 3, "put_vectors": 1}}
    assert api_calls.count("GetVectors") == 3 and api_calls.count("PutVectors") == 1
    got = served_index["client"].get_vectors(indexArn=INDEX_ARN, keys=["v007"],
                                             returnData=True, returnMetadata=True)["vectors"][0]
    assert got["metadata"] == {"even": False, "tags": ["x"], "new": "y"}
    assert got["data"]["float32"] == [1.0, 7.0, 0.0, 0.5]


def test_update_metadata_over_the_filterable_limit_writes_nothing(
        served_index: dict[str, Any], invoke: Invoke, api_calls: list[str]) -> None:
    _load(served_index, 3)
    api_calls.clear()
    bad = invoke(json.dumps({"operation": "update_metadata", "index_arn": INDEX_ARN,
                             "vector_ids": ["v000", "v001"], "patch": {"big": "x" * 2100}}))
    assert bad["error"]["field"] == "patch" and "filterable" in bad["error"]["message"]
    assert "PutVectors" not in api_calls


def _stub_reads(stubbed: Stubber, ids: list[str]) -> None:
    stubbed.add_response("get_index", index_response())
    for start in range(0, len(ids), 100):
        stubbed.add_response("get_vectors", {"vectors": [
            {"key": k, "data": {"float32": [1.0, 0.0, 0.0, 0.0]}, "metadata": {"a": 1}}
            for k in ids[start:start + 100]]})


def test_update_metadata_restores_earlier_calls_when_one_fails(stubbed: Stubber,
                                                               invoke: Invoke,
                                                               monkeypatch: Any) -> None:
    from s3vl_lambda.operations import write

    monkeypatch.setattr(write, "WRITE_PAUSE_CAP_S", 0.001)
    ids = [f"k{i}" for i in range(600)]
    _stub_reads(stubbed, ids)
    stubbed.add_response("put_vectors", {})
    for _ in range(write.WRITE_ATTEMPTS):  # retried on the writes' schedule, then given up
        stubbed.add_client_error("put_vectors", service_error_code="ServiceUnavailableException",
                                 http_status_code=503, service_message="down")
    stubbed.add_response("put_vectors", {})  # the restore of the first 500
    envelope = invoke(json.dumps({"operation": "update_metadata", "index_arn": INDEX_ARN,
                                  "vector_ids": ids, "patch": {"a": 2}}))
    assert not envelope["success"]
    assert "were restored; nothing was changed" in envelope["error"]["message"]
    stubbed.assert_no_pending_responses()


def test_update_metadata_waits_out_a_throttled_write(stubbed: Stubber, invoke: Invoke,
                                                     monkeypatch: Any) -> None:
    """A PutVectors refused with 429 (past the index's write rate) is sent again on the writes'
    own schedule, as put_vectors and delete_vectors do: the patch succeeds."""
    from s3vl_lambda.operations import write

    monkeypatch.setattr(write, "WRITE_PAUSE_CAP_S", 0.001)
    ids = [f"k{i}" for i in range(3)]
    _stub_reads(stubbed, ids)
    for _ in range(2):
        stubbed.add_client_error("put_vectors", service_error_code="TooManyRequestsException",
                                 http_status_code=429, service_message="slow down")
    stubbed.add_response("put_vectors", {})
    envelope = invoke(json.dumps({"operation": "update_metadata", "index_arn": INDEX_ARN,
                                  "vector_ids": ids, "patch": {"a": 2}}))
    assert envelope["success"], envelope
    assert envelope["result"]["updated"] == 3
    assert envelope["result"]["calls"]["put_vectors"] == 1
    stubbed.assert_no_pending_responses()


def test_every_invocation_advances_even_without_time_left(served_index: dict[str, Any],
                                                          invoke: Invoke,
                                                          monkeypatch: Any) -> None:
    """Even when no page may start (budget or deadline used up), each segment reads one, so
    following the tokens ends: no invocation returns the token it was given."""
    from s3vl_lambda.operations import manage

    _load(served_index, 30)
    monkeypatch.setattr(manage._Scan, "may_start_page", lambda self: False)
    request = {"operation": "filter_vectors", "index_arn": INDEX_ARN, "segment_count": 2,
               "page_size": 4}
    answers = [_ok(invoke(json.dumps(request)))]
    while answers[-1]["resume_token"] is not None:
        assert 0 < answers[-1]["examined"] <= 8  # one page of 4 per segment
        answers.append(_ok(invoke(json.dumps({**request,
                                              "resume_token": answers[-1]["resume_token"]}))))
    assert sum(a["matched"] for a in answers) == 30 and len(answers) >= 4


def test_update_metadata_keeps_time_to_restore_when_a_write_is_throttled_to_the_end(
        stubbed: Stubber, invoke: Invoke, monkeypatch: Any) -> None:
    """The second PutVectors of a patch is throttled for as long as it is retried: the retries
    stop early enough that the first call's 500 vectors are put back (nothing stays half
    patched), and the error is the throttling, not a Timeout."""
    import time as real_time

    from s3vl_lambda import clients
    from s3vl_lambda.errors import S3vlError
    from s3vl_lambda.operations import write

    ids = [f"k{i}" for i in range(600)]
    _stub_reads(stubbed, ids)
    sent: list[tuple[int, Any, float]] = []

    def fake_call(ref: Any, deadline: Any, api: str, retries: bool = True, **params: Any) -> Any:
        if clients.tier_for(deadline.remaining()) is None:  # as service.call does
            raise deadline.expired_error(api)
        vectors = params["vectors"]
        sent.append((len(vectors), vectors[0]["metadata"].get("a"), deadline.remaining()))
        if len(vectors) == 100 and vectors[0]["metadata"].get("a") == 2:
            raise S3vlError("Throttled", "slow down", code="TooManyRequestsException",
                            retryable=True)
        return {}

    monkeypatch.setattr(write, "call", fake_call)
    monkeypatch.setattr(write, "WRITE_THROTTLED_ATTEMPTS", 10_000)  # the deadline ends it
    started = real_time.monotonic()
    envelope = invoke(json.dumps({"operation": "update_metadata", "index_arn": INDEX_ARN,
                                  "vector_ids": ids, "patch": {"a": 2}}), remaining_ms=6_000)
    assert not envelope["success"]
    assert envelope["error"]["type"] == "Throttled", envelope
    assert "were restored; nothing was changed" in envelope["error"]["message"]
    assert sent[0][:2] == (500, 2) and sent[-1][:2] == (500, 1)  # patched, then put back
    assert len(sent) > 3  # the throttled call was retried
    # The restore ran with at least one smallest-tier call's time left.
    assert sent[-1][2] >= write.WRITE_DEADLINE_MARGIN_S
    assert real_time.monotonic() - started < 6.0
