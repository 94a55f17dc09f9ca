"""bench/bench_handler.py: its canned hybrid answer is a valid QueryVectorsOutput (botocore's
Stubber validates it against the model), the handler maps all 100 rows, and `--quick --json`
prints every case with its same-run baseline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from botocore.stub import Stubber

from unit.conftest import Invoke

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_handler.py"


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_handler", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hybrid_answer_fits_the_model_and_maps_to_100_rows(
    invoke: Invoke, stubbed: Stubber
) -> None:
    bench = _bench_module()
    answer = bench.hybrid_answer()
    stubbed.add_response("get_index", {"index": {
        "vectorBucketName": "bench-bucket", "indexName": "bench-index",
        "indexArn": bench.INDEX_ARN, "creationTime": "2026-01-01T00:00:00Z",
        "dataType": "float32", "dimension": 4, "distanceMetric": "cosine"}})
    stubbed.add_response("query_vectors", answer)  # validated against QueryVectorsOutput
    env = invoke({"operation": "query_vectors", "index_arn": bench.INDEX_ARN,
                  "query_vector": [0.1, 0.2, 0.3, 0.4], "top_k": bench.TOP_K,
                  "query_texts": {"name": "trail", "description": "waterproof"}})
    rows = env["result"]
    assert len(rows) == bench.TOP_K == 100
    assert any(r["distance"] is None for r in rows) and any(r["text_score"] is None for r in rows)
    assert all(r["fused_score"] is not None for r in rows)


def test_quick_json_run_reports_every_case() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--json"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    hybrid = report["hybrid_stubbed_client"]
    assert hybrid["s3vl_median_ms"] > 0 and hybrid["vector_only_median_ms"] > 0
    assert hybrid["ratio"] > 0
    for case in ("stubbed_client", "canned_http"):
        assert report[case]["baseline_median_ms"] > 0 and report[case]["s3vl_median_ms"] > 0
