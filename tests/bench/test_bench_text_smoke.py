"""`bench/bench_text_search.py --quick` runs end to end and prints its figures and baseline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_text_search.py"


def test_quick_text_benchmark_prints_medians_and_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert re.search(r"TextField\('en'\): 2,000 documents put one by one in [\d.]+ s", out)
    assert re.search(r"plain-Python BM25 \(baseline\): median [\d.]+ ms", out)
    for label in ("no filter", "allowed set of 10%", "allowed predicate 10%"):
        assert re.search(
            rf"TextField.search, {label}: median [\d.]+ ms \(p95 [\d.]+ ms\); "
            r"[\d.]+x faster than the baseline; (meets|MISSES) the 50 ms target",
            out,
        )
    assert re.search(r"commonest word \([\d,]+ matching documents\): median [\d.]+ ms", out)
    assert re.search(
        r"two keys \(body 'en' \+ name, standard analyzer\), search_fields: median [\d.]+ ms "
        r"\(p95 [\d.]+ ms\); [\d.]+x faster than per-key searches merged by key",
        out,
    )
    # bm25s is only a reference: the bench says so when it is not installed.
    assert re.search(
        r"bm25s static index \(reference, no incremental writes\): "
        r"(median [\d.]+ ms|not installed)",
        out,
    )
