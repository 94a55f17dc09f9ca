"""Full-text and hybrid queries: the `query_texts` field and the rows made from `scores`."""

from __future__ import annotations

import json
from typing import Any

from . import limits
from .errors import validation_error
from .fields import Request, json_type

FIELD = "query_texts"


def _shown(key: str) -> str:
    """A key as error messages quote it (JSON string, shortened when over the key limit)."""
    if len(key) > limits.MAX_METADATA_KEY_LENGTH:
        key = key[: limits.MAX_METADATA_KEY_LENGTH] + "..."
    return json.dumps(key, ensure_ascii=False)


def read_query_texts(req: Request) -> list[dict[str, str]] | None:
    """`query_texts` ({metadata_key: text}) as the service's queryTexts list, or None.

    A JSON object cannot repeat a key, so the keys are distinct as the service requires.
    """
    value = req.get(FIELD)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_error(
            FIELD, f"must be a JSON object {{metadata_key: text}}, got {json_type(value)}"
        )
    if not limits.MIN_QUERY_TEXTS <= len(value) <= limits.MAX_QUERY_TEXTS:
        raise validation_error(
            FIELD,
            f"has {len(value)} entries; between {limits.MIN_QUERY_TEXTS} and "
            f"{limits.MAX_QUERY_TEXTS} are allowed",
        )
    texts: list[dict[str, str]] = []
    for key, text in value.items():
        if not limits.MIN_METADATA_KEY_LENGTH <= len(key) <= limits.MAX_METADATA_KEY_LENGTH:
            raise validation_error(
                FIELD,
                f"key {_shown(key)} must be between {limits.MIN_METADATA_KEY_LENGTH} and "
                f"{limits.MAX_METADATA_KEY_LENGTH} characters, got {len(key)}",
            )
        what = f"the text for key {_shown(key)}"
        if not isinstance(text, str):
            raise validation_error(FIELD, f"{what} must be a string, got {json_type(text)}")
        if not limits.MIN_QUERY_TEXT_LENGTH <= len(text) <= limits.MAX_QUERY_TEXT_LENGTH:
            raise validation_error(
                FIELD,
                f"{what} must be between {limits.MIN_QUERY_TEXT_LENGTH} and "
                f"{limits.MAX_QUERY_TEXT_LENGTH} characters, got {len(text)}",
            )
        if text.isspace():
            raise validation_error(FIELD, f"{what} must not be blank")
        texts.append({"metadataKey": key, "text": text})
    return texts


def similarity(distance: float, metric: str) -> float:
    """Cosine: 1 - distance. Euclidean: 1 / (1 + distance), monotone into (0, 1]."""
    if metric == "euclidean":
        return 1.0 / (1.0 + distance)
    return 1.0 - distance


def text_row(v: dict[str, Any], metric: str, return_metadata: bool) -> dict[str, Any]:
    """One text-only or hybrid result: BM25 per key and their sum, the RRF score, and the
    distance for hybrid results the vector ranking found (all from `scores`)."""
    scores = v.get("scores") or {}
    bm25 = {s["metadataKey"]: float(s["score"]) for s in scores.get("bm25Scores") or ()}
    raw_distance = scores.get("vectorDistance")
    distance = None if raw_distance is None else float(raw_distance)
    fused = scores.get("fused")
    return {
        "vector_id": v["key"],
        "distance": distance,
        "similarity_score": None if distance is None else similarity(distance, metric),
        "metadata": (v.get("metadata") or {}) if return_metadata else {},
        "text_score": sum(bm25.values()) if bm25 else None,
        "bm25_scores": bm25,
        "fused_score": None if fused is None else float(fused),
    }
