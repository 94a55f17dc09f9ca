"""`bench/bench_semantic.py --quick` runs end to end on its own local stack and prints its
figures with the same-run baselines (two invocations; a ready embedding column)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_semantic.py"

pytestmark = pytest.mark.slow


def test_quick_semantic_benchmark_prints_medians_and_ratios() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                            text=True, timeout=600, check=True)
    out = result.stdout
    assert re.search(r"local model \(all-MiniLM-L6-v2, numpy\): [\d.]+ embeddings/s in-process "
                     r"one at a time, [\d.]+ in batches of 32; through InvokeModel over HTTP "
                     r"[\d.]+/s \(1 client\), [\d.]+/s \(4 clients\)", out), out
    assert re.search(r"semantic_search \(1 invocation\): median [\d.]+ ms, p95 [\d.]+ ms, "
                     r"1 invocation\(s\), \$[\d.]+ per million searches", out), out
    assert re.search(r"embed \+ query_vectors \(2 invocations, baseline\): median [\d.]+ ms, "
                     r"p95 [\d.]+ ms, 2 invocation\(s\)", out), out
    assert re.search(r"semantic_search is [\d.]+x faster than the baseline", out), out
    assert re.search(r"sync 20 rows: text_column \(embedded by the function\) [\d.]+ rows/s; "
                     r"embedding column \(baseline\) [\d.]+ rows/s; ratio [\d.]+", out), out
