"""`bench/bench_where.py --quick` runs end to end on a stack of its own and reports, for every
pass rate, the three plans and the naive baseline measured in the same run (times are not
asserted: speed is the benchmark's business; exactness is the plans')."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_where_benchmark_reports_every_pass_rate_and_plan() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_where.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert set(report["predicates"]) == {"50%", "10%", "1%", "0.1%", "0.01%"}
    for entry in report["predicates"].values():
        for plan in ("prefilter", "auto"):
            # Exact whatever the selectivity: every query gets the exact top k of its passing rows.
            assert entry[plan]["exact_answers"] == report["queries"], (plan, entry)
        assert entry["prefilter"]["ran"] == ["prefilter"]
        assert entry["iterative"]["ran"] == ["iterative"]
        assert entry["auto_over_best"] > 0
    # The most selective predicate: auto ranks the few passing keys instead of paging.
    assert report["predicates"]["0.1%"]["auto"]["ran"] == ["prefilter"]
    assert not (ROOT / ".local" / "bench-where").exists()  # the bench removes its stack
