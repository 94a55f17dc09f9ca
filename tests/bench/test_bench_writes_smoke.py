"""`bench/bench_writes.py --quick` runs end to end on a stack of its own and reports every path
with its ratio against the boto3 baseline measured in the same run (figures are not asserted:
speed is the benchmark's business, not the tests')."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_write_benchmark_reports_all_paths() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_writes.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert report["vectors"] == 2000
    for key in ("baseline_boto3_per_s", "s3vl_from_table_per_s", "s3vl_from_client_per_s",
                "s3vl_arrays_from_table_per_s"):
        assert report[key] > 0, key
    assert report["ratio_arrays_over_jsonb_table"] > 0
    assert not (ROOT / ".local" / "bench-writes").exists()  # the bench removes its stack
