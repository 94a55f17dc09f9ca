"""`bench/bench_load.py --quick` runs end to end on a stack of its own (12 querying sessions and 2
writers against the endpoint's 10 concurrent invocations) and reports every figure; throttled
invocations are retried until their deadline, so nothing fails and nothing is lost (latency and
throughput are reported, not asserted: speed is the benchmark's business)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_load_benchmark_reports_and_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_load.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert report["endpoint_concurrency"] == 10
    assert [run["mode"] for run in report["runs"]] == ["retries", "admission"]
    for run in report["runs"]:
        assert run["sessions"] == 12 and run["queries"] == 60 and run["write_batches"] == 4
        assert run["failed_queries"] == 0 and run["failed_write_batches"] == 0, run
        assert run["vectors_written"] == 400 and run["vectors_found"] == 400, run
        assert run["p50_ms"] > 0 and run["p99_ms"] >= run["p50_ms"] and run["queries_per_s"] > 0
    # Admission control keeps this database's invocations within the endpoint's concurrency.
    assert report["runs"][1]["throttled_invocations"] == 0, report["runs"][1]
    assert not (ROOT / ".local" / "bench-load").exists()  # the bench removes its stack
