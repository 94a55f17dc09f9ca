"""`bench/bench_emulator.py --quick` runs end to end and prints its figures and baseline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_emulator.py"


def test_quick_benchmark_prints_rates_and_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    for label in ("fast", "fast, 4 connections", "plain JSON \\(baseline\\)"):
        assert re.search(rf"PutVectors over HTTP, {label}, dimension 64, .*: [\d,]+ vectors/s", out)
    assert re.search(r"vectors/s; [\d.]+x the plain-JSON baseline", out)
    assert re.search(r"floor: simdjson alone parses one 64-d body", out)
    assert re.search(r"QueryVectors topK=100 over HTTP \(boto3\): median [\d.]+ ms", out)
    speedup = re.search(r"speed-up ([\d,]+)x in-model", out)
    assert speedup and int(speedup[1].replace(",", "")) > 1


def test_quick_benchmark_prints_text_and_hybrid_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--text-only"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert re.search(r"QueryVectors text-only topK=100 over HTTP \(boto3\): median [\d.]+ ms", out)
    assert re.search(r"QueryVectors hybrid topK=100 over HTTP \(boto3\): median [\d.]+ ms", out)
    assert re.search(r"baseline \(same run, same index\): vector-only QueryVectors median", out)
