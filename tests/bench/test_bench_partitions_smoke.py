"""`bench/bench_partitions.py --quick` runs end to end on a stack of its own: ingest through sync
into 1/4/8 partitions from 1 and 2 sessions at once writes every row, 8 partitions answer what 1
index answers, and a tenant-pinned query reads one partition (times are the benchmark's business,
not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_partitions_benchmark() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_partitions.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    # One series per count of sync sessions (default 1 and 2), each writing every row.
    assert set(report["ingest"]) == {"1", "2"}
    for series in report["ingest"].values():
        assert {k: v["rows"] for k, v in series.items()} == {
            "1": report["rows"], "4": report["rows"], "8": report["rows"]}
        assert series["8"]["batch"] == 8 * series["1"]["batch"]
        # Partitioned ingest is the median of 3 trials; the ratio's range spans them.
        for count in ("4", "8"):
            trials = series[count]["trials_rows_per_s"]
            assert len(trials) == 3 and trials == sorted(trials)
            assert series[count]["rows_per_s"] == trials[1]
            low, high = series[count]["vs_1_range"]
            assert low <= series[count]["vs_1"] <= high
    assert report["query"]["same_answers"] is True
    pinned = report["tenants_query"]
    assert pinned["rows_all_of_tenant"] is True and pinned["rows"] == 5
    assert len(pinned["pinned_partitions_read"]) == 1
    assert len(pinned["pinned_partitions_read"][0]) == 1
    assert pinned["unpinned_partitions_read"] == [report["tenants"]]
    assert not (ROOT / ".local" / "bench-partitions").exists()
