"""`bench/bench_where.py --quick` runs end to end on a stack of its own and reports, for every
predicate, query_vectors_where next to the naive baselines measured in the same run (figures are
not asserted: speed is the benchmark's business; exactness is the function's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def test_quick_where_benchmark_reports_every_predicate() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_where.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert set(report["predicates"]) == {"50%", "10%", "1%"}
    for entry in report["predicates"].values():
        where = entry["where"]
        assert where["exact_answers"] == where["full_k_answers"] == report["queries"]
        assert 0 < where["candidates"] <= report["vectors"]
        assert entry["regrow"]["full_k_answers"] == report["queries"]
        assert entry["candidates_where_over_regrow"] > 0
    assert not (ROOT / ".local" / "bench-where").exists()  # the bench removes its stack
