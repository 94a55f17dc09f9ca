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
    assert re.search(r"PutVectors over HTTP, dimension 64, .*: [\d,]+ vectors/s", out)
    assert re.search(r"QueryVectors topK=100 over HTTP \(boto3\): median [\d.]+ ms", out)
    speedup = re.search(r"speed-up ([\d,]+)x in-model", out)
    assert speedup and int(speedup[1].replace(",", "")) > 1
