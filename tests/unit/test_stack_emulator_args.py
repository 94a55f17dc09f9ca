"""S3VL_EMULATOR_ARGS: extra emulator flags on the local stack (write limits, latency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3vectors_emulator.__main__ import _parser
from s3vl_local import procs, stack


def _argv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    started: list[list[str]] = []
    monkeypatch.setattr(procs, "running_pid", lambda pidfile: None)
    monkeypatch.setattr(procs, "stop_pidfile", lambda pidfile: False)
    monkeypatch.setattr(
        procs, "start_background", lambda argv, *rest, **kw: started.append(list(argv))
    )
    state: dict[str, Any] = {}
    stack._start_emulator(tmp_path, state)
    assert len(started) == 1 and state["emulator_port"] > 0
    return started[0]


def test_flags_reach_the_emulator_and_parse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        stack.EMULATOR_ARGS_ENV, "--write-limits --latency-ms-op 'QueryVectors=80'"
    )
    argv = _argv(monkeypatch, tmp_path)
    assert argv[1:3] == ["-m", "s3vectors_emulator"]
    assert argv[-3:] == ["--write-limits", "--latency-ms-op", "QueryVectors=80"]
    args = _parser().parse_args(argv[3:])
    assert args.write_limits and args.latency_ms_op == [("QueryVectors", 80.0)]


def test_unset_means_no_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(stack.EMULATOR_ARGS_ENV, raising=False)
    args = _parser().parse_args(_argv(monkeypatch, tmp_path)[3:])
    assert not args.write_limits and args.write_requests_per_second is None
    assert args.latency_ms == 0 and args.latency_ms_op == []
