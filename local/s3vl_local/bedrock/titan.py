"""Titan Text Embeddings V2's InvokeModel contract: request checks, the embedding, the answer.

Request {"inputText": str, "dimensions": 256|512|1024 (default 1024), "normalize": bool (default
true), "embeddingTypes": ["float"|"binary"] (optional)}; answer {"embedding": [...],
"embeddingsByType": {...}, "inputTextTokenCount": n}. Bad requests raise BedrockError with the
service's exception name and HTTP status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dimensions, minilm

TITAN_V2 = "amazon.titan-embed-text-v2:0"
MODEL_IDS = (TITAN_V2,)
MAX_INPUT_CHARACTERS = 50_000
MAX_INPUT_TOKENS = 8_192
DEFAULT_DIMENSION = 1024
EMBEDDING_TYPES = ("float", "binary")
_FIELDS = ("inputText", "dimensions", "normalize", "embeddingTypes")


class BedrockError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def _malformed(message: str) -> BedrockError:
    return BedrockError("ValidationException", 400, f"Malformed input request: {message}, "
                        "please reformat your input and try again.")


@dataclass(frozen=True)
class TitanRequest:
    text: str
    dimension: int
    normalize: bool
    types: tuple[str, ...]


def parse(model_id: str, body: Any) -> TitanRequest:
    if model_id not in MODEL_IDS:
        raise BedrockError("ResourceNotFoundException", 404,
                           f"Model {model_id!r} not found; this local Bedrock Runtime serves "
                           f"{', '.join(MODEL_IDS)}.")
    if not isinstance(body, dict):
        raise _malformed("the body must be a JSON object")
    extra = sorted(set(body) - set(_FIELDS))
    if extra:
        raise _malformed(f"extraneous key [{extra[0]}] is not permitted")
    text = body.get("inputText")
    if not isinstance(text, str):
        raise _malformed("#: required key [inputText] not found" if text is None
                         else "#/inputText: expected type: String")
    if not 1 <= len(text) <= MAX_INPUT_CHARACTERS:
        raise _malformed(f"#/inputText: expected minLength: 1, maxLength: "
                         f"{MAX_INPUT_CHARACTERS}, actual: {len(text)}")
    dimension = body.get("dimensions", DEFAULT_DIMENSION)
    if isinstance(dimension, bool) or dimension not in dimensions.TITAN_V2_DIMENSIONS:
        raise _malformed(f"#/dimensions: {dimension!r} is not a valid enum value "
                         f"(one of {list(dimensions.TITAN_V2_DIMENSIONS)})")
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise _malformed("#/normalize: expected type: Boolean")
    types = body.get("embeddingTypes", ["float"])
    if (not isinstance(types, list) or not types
            or any(t not in EMBEDDING_TYPES for t in types)):
        raise _malformed(f"#/embeddingTypes: must be a non-empty array of {list(EMBEDDING_TYPES)}")
    return TitanRequest(text, int(dimension), normalize, tuple(dict.fromkeys(types)))


def answer(request: TitanRequest, model: minilm.MiniLM | None = None) -> dict[str, Any]:
    model = model or minilm.shared()
    encoded = model.encode([request.text])
    tokens = encoded.token_counts[0]
    if tokens > MAX_INPUT_TOKENS:
        raise BedrockError("ValidationException", 400,
                           f"400 Bad Request: Too many input tokens. Max input tokens: "
                           f"{MAX_INPUT_TOKENS}, request input token count: {tokens}")
    vector = encoded.vectors
    if request.normalize:
        vector = minilm.normalize(vector)
    mapped = dimensions.to_dimension(vector, request.dimension)
    if request.normalize:  # a projection (256) shortens unit vectors: make them unit again
        mapped = minilm.normalize(mapped)
    floats = [float(x) for x in mapped[0]]
    by_type: dict[str, Any] = {}
    if "float" in request.types:
        by_type["float"] = floats
    if "binary" in request.types:
        by_type["binary"] = [1 if x > 0 else 0 for x in floats]
    return {"embedding": floats if "float" in request.types else None,
            "embeddingsByType": by_type, "inputTextTokenCount": tokens}


def cosine(a: list[float], b: list[float]) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    return float(x @ y / math.sqrt(float(x @ x) * float(y @ y)))
