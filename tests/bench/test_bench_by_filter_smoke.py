"""`bench/bench_by_filter.py --quick` runs end to end on a stack of its own: both segment counts
give the exact count (checked by the bench) and a time and ratio are reported (figures are not
asserted: speed is the benchmark's business)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_by_filter_benchmark_reports_both_segment_counts() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_by_filter.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert report["vectors"] == 5000 and report["exact"] == 500
    assert set(report["runs"]) == {"0ms", "20ms"}
    for run in report["runs"].values():
        assert set(run["segments"]) == {"1", "8"}
        for entry in run["segments"].values():
            assert entry["median_s"] > 0 and entry["invocations"] >= 1
        assert run["time_1_over_8"] > 0
    assert not (ROOT / ".local" / "bench-by-filter").exists()  # the bench removes its stack
