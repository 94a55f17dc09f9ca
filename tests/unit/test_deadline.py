"""A call never outlives the function's remaining time."""

from __future__ import annotations

import pytest

from s3vl_lambda import clients
from s3vl_lambda.deadline import SAFETY_MARGIN_S, Deadline

from .conftest import INDEX_ARN, Invoke, LambdaContext


def test_tiers_fit_their_budget() -> None:
    assert clients.tier_for(0.5) is None
    for budget in (2.5, 5.0, 10.0, 30.0, 120.0, 900.0):
        tier = clients.tier_for(budget)
        assert tier is not None and tier.worst_case_s() <= budget
    assert clients.tier_for(900.0) == clients.TIERS[0]


def test_clients_follow_the_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    short = clients.client_for("us-east-1", Deadline(3.0), "t")
    long = clients.client_for("us-east-1", Deadline(300.0), "t")
    assert short is not long
    assert short.meta.config.read_timeout < long.meta.config.read_timeout
    assert long.meta.config.retries["mode"] == "standard"


def test_deadline_from_context() -> None:
    d = Deadline.from_context(LambdaContext(remaining_ms=5000))
    assert 5.0 - SAFETY_MARGIN_S - 0.1 < d.remaining() <= 5.0 - SAFETY_MARGIN_S


def test_too_little_time_gives_timeout_without_a_call(
    invoke: Invoke, api_calls: list[str]
) -> None:
    env = invoke({"operation": "get_index", "index_arn": INDEX_ARN}, remaining_ms=900)
    assert env["success"] is False
    assert env["error"]["type"] == "Timeout" and env["error"]["retryable"] is True
    assert api_calls == []
