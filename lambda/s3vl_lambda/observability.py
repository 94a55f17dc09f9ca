"""Powertools structured logs and EMF metrics. Both write to stdout: no AWS account needed.

Logs carry sizes and counts, never vector contents or metadata values.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "s3vl"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "s3vl"



class _CurrentStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now (EMF uses print, which does the same), so logs and
    metrics stay in one stream even when a test or a wrapper swaps stdout after import."""

    def write(self, s: str, /) -> int:
        return sys.stdout.write(s)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=SERVICE, stream=cast("IO[str]", _CurrentStdout()))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def result_count(result: Any) -> int:
    """How many items an operation answered (vectors, entries, or writes)."""
    if isinstance(result, list):
        return len(result)
    if isinstance(result, dict):
        if isinstance(result.get("vectors"), list):  # a query_vectors page-by-page answer
            return len(result["vectors"])
        for key in ("total_count", "written", "deleted"):
            if isinstance(result.get(key), int):
                return int(result[key])
    return 1


def request_summary(req: Any) -> dict[str, Any]:
    """Shape of a request for the log: counts and lengths only."""
    if not isinstance(req, dict):
        return {}
    summary: dict[str, Any] = {}
    for field in ("top_k", "max_results", "segment_count", "segment_index", "max_pages"):
        if isinstance(req.get(field), int):
            summary[field] = req[field]
    if isinstance(req.get("query_vector"), list):
        summary["dimension"] = len(req["query_vector"])
    for field in ("query_vectors", "vector_ids", "vectors", "keys"):
        value = req.get(field)
        if isinstance(value, list):
            summary[f"{field}_count"] = len(value)
    # Query texts are user content (botocore marks them sensitive): log how many, never the text.
    if isinstance(req.get("query_texts"), dict):
        summary["query_texts_count"] = len(req["query_texts"])
    summary["has_filter"] = req.get("metadata_filter") is not None
    if req.get("page_token") is not None:
        summary["continued"] = True
    if isinstance(req.get("partitions"), list):
        summary["partitions"] = len(req["partitions"])
    index = req.get("index_arn") or req.get("index_name")
    if isinstance(index, str):
        summary["index"] = index
    return summary


def record(
    request_id: str,
    operation: str,
    elapsed_ms: float,
    req: Any,
    result: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    """One log line and one EMF blob per invocation; never raises."""
    try:
        summary = request_summary(req)
        logger.append_keys(request_id=request_id)
        metrics.add_dimension(name="operation", value=operation)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        if error is None:
            count = result_count(result)
            metrics.add_metric(name="ResultCount", unit=MetricUnit.Count, value=count)
            logger.info(
                "request done",
                extra={"operation": operation, "elapsed_ms": round(elapsed_ms, 3),
                       "result_count": count, **summary},
            )
        else:
            metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
            with single_metric(
                name="ErrorsByType", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
            ) as by_type:
                by_type.add_dimension(name="operation", value=operation)
                by_type.add_dimension(name="error_type", value=str(error.get("type")))
            log = logger.error if error.get("type") == "InternalError" else logger.warning
            log(
                "request failed",
                extra={"operation": operation, "elapsed_ms": round(elapsed_ms, 3),
                       "error_type": error.get("type"), "error_code": error.get("code"),
                       "error_message": error.get("message"), **summary},
            )
        metrics.flush_metrics()
    except Exception:  # observability must never turn a result into a failure
        metrics.clear_metrics()
