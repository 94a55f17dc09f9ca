"""Text -> vector with Amazon Bedrock (InvokeModel, Titan Text Embeddings V2).

Which models the function may call is a deployment setting: S3VL_EMBEDDING_MODELS (comma
separated), set by the CloudFormation parameter AllowedEmbeddingModels, which also scopes the
IAM bedrock:InvokeModel grant to those models. Unset means none (fail closed).

Several texts are embedded in parallel (EMBED_CONCURRENCY calls in flight). A throttled or
unavailable model is retried with full-jitter backoff for as long as the invocation's deadline
allows; other Bedrock errors map to protocol errors whose `code` keeps Bedrock's exception name.
The endpoint comes from botocore's configuration (AWS_ENDPOINT_URL_BEDROCK_RUNTIME), so the same
code talks to Bedrock and to the local stack's Bedrock Runtime.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import limits
from .deadline import Deadline
from .errors import (
    ACCESS_DENIED,
    NOT_FOUND,
    SERVICE_ERROR,
    THROTTLED,
    TIMEOUT,
    VALIDATION_ERROR,
    S3vlError,
    from_exception,
    validation_error,
)
from .fields import Request, get_int, json_type

MODELS_ENV = "S3VL_EMBEDDING_MODELS"
CFN_PARAMETER = "AllowedEmbeddingModels"

# Bedrock Runtime exception -> (protocol type, retried here)
_BEDROCK_CODES: dict[str, tuple[str, bool]] = {
    "ValidationException": (VALIDATION_ERROR, False),
    "ResourceNotFoundException": (NOT_FOUND, False),
    "AccessDeniedException": (ACCESS_DENIED, False),
    "ThrottlingException": (THROTTLED, True),
    "ServiceQuotaExceededException": (THROTTLED, True),
    "ServiceUnavailableException": (SERVICE_ERROR, True),
    "ModelNotReadyException": (SERVICE_ERROR, True),
    "InternalServerException": (SERVICE_ERROR, True),
    "ModelTimeoutException": (TIMEOUT, True),
    "ModelErrorException": (SERVICE_ERROR, False),
}
_BACKOFF_BASE_S = 0.1
_BACKOFF_CAP_S = 2.0
_CALL_TIMEOUT_S = 10.0


def allowed_models() -> tuple[str, ...]:
    raw = os.environ.get(MODELS_ENV, "")
    return tuple(m.strip() for m in raw.split(",") if m.strip())


@dataclass(frozen=True)
class EmbeddingSpec:
    model_id: str
    dimensions: int


def read_spec(req: Request) -> EmbeddingSpec:
    """model_id (allowed by the deployment, known to s3vl) and dimensions (one it produces)."""
    model_id = req.get("model_id")
    if not isinstance(model_id, str) or not model_id:
        raise validation_error("model_id", "is required (a Bedrock model id such as "
                               f"{limits.TITAN_TEXT_EMBEDDINGS_V2}), got {json_type(model_id)}")
    allowed = allowed_models()
    if model_id not in allowed:
        raise S3vlError(
            ACCESS_DENIED,
            f"model_id: {model_id} is not allowed by this deployment (allowed: "
            f"{', '.join(allowed) or 'none'}); add it to the CloudFormation parameter "
            f"{CFN_PARAMETER} (environment {MODELS_ENV})",
            field="model_id",
        )
    produced = limits.EMBEDDING_MODEL_DIMENSIONS.get(model_id)
    if produced is None:
        raise validation_error("model_id", f"{model_id} is not an embedding model s3vl knows; "
                               f"one of {', '.join(limits.EMBEDDING_MODEL_DIMENSIONS)}")
    dims = get_int(req, "dimensions", None, limits.MIN_DIMENSION, limits.MAX_DIMENSION)
    if dims is None or dims not in produced:
        raise validation_error("dimensions", f"{model_id} produces {', '.join(map(str, produced))}"
                               f" dimensions, got {dims}")
    return EmbeddingSpec(model_id, dims)


def check_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise validation_error(field, f"must be a string, got {json_type(value)}")
    if not value.strip():
        raise validation_error(field, "must not be empty or only white space")
    if len(value) > limits.MAX_EMBED_TEXT_LENGTH:
        raise validation_error(field, f"has {len(value)} characters; the embedding model takes "
                               f"at most {limits.MAX_EMBED_TEXT_LENGTH}")
    return value


# ---- the client ---------------------------------------------------------------------------
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _client(region: str) -> Any:
    client = _clients.get(region)
    if client is None:
        with _lock:
            client = _clients.get(region)
            if client is None:
                import boto3
                from botocore.config import Config

                # Retries are ours (deadline-bounded), not botocore's.
                config = Config(region_name=region, connect_timeout=2.0,
                                read_timeout=_CALL_TIMEOUT_S, retries={"total_max_attempts": 1},
                                max_pool_connections=limits.EMBED_CONCURRENCY * 2)
                client = boto3.session.Session().client("bedrock-runtime", config=config)
                _clients[region] = client
    return client


def clear_cache() -> None:
    with _lock:
        _clients.clear()


def _bedrock_error(exc: BaseException, spec: EmbeddingSpec, field: str) -> S3vlError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        message = str(exc.response.get("Error", {}).get("Message") or code)
        error_type, retryable = _BEDROCK_CODES.get(code, (SERVICE_ERROR, False))
        return S3vlError(error_type, f"{field}: Bedrock InvokeModel ({spec.model_id}) failed: "
                         f"{code}: {message}", code=code, retryable=retryable,
                         field=field if error_type == VALIDATION_ERROR else "model_id")
    return from_exception(exc, "InvokeModel")


def embed_one(text: str, spec: EmbeddingSpec, region: str, deadline: Deadline,
              field: str) -> tuple[list[float], int]:
    """One InvokeModel call (retried while throttled, inside the deadline): (vector, tokens)."""
    body = json.dumps({"inputText": text, "dimensions": spec.dimensions, "normalize": True})
    attempt = 0
    while True:
        attempt += 1
        if deadline.remaining() <= 0:
            raise S3vlError(TIMEOUT, f"{field}: the function's remaining time ran out while "
                            f"Bedrock throttled InvokeModel ({attempt - 1} attempts)",
                            retryable=True, field=field)
        try:
            response = _client(region).invoke_model(
                modelId=spec.model_id, body=body, contentType="application/json",
                accept="application/json")
            answer = json.loads(response["body"].read())
            break
        except Exception as exc:
            err = _bedrock_error(exc, spec, field)
            pause = random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** (attempt - 1)))
            if not err.retryable or deadline.remaining() < pause + 0.05:
                raise err from exc
            time.sleep(pause)
    vector = answer.get("embedding")
    if not isinstance(vector, list) or len(vector) != spec.dimensions:
        raise S3vlError(SERVICE_ERROR, f"{field}: Bedrock answered no {spec.dimensions}-"
                        "dimension embedding", code="MalformedEmbedding", field=field)
    return [float(x) for x in vector], int(answer.get("inputTextTokenCount") or 0)


def embed_many(texts: Sequence[str], spec: EmbeddingSpec, region: str, deadline: Deadline,
               field: str) -> list[tuple[list[float], int]]:
    """Every text embedded (in parallel); the first failure fails the call."""
    if len(texts) == 1:
        return [embed_one(texts[0], spec, region, deadline, f"{field}[0]")]
    workers = min(limits.EMBED_CONCURRENCY, len(texts))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(embed_one, t, spec, region, deadline, f"{field}[{i}]")
                   for i, t in enumerate(texts)]
        return [f.result() for f in futures]


def embed_each(texts: Sequence[str], spec: EmbeddingSpec, region: str, deadline: Deadline,
               field: str) -> list[tuple[list[float], int] | S3vlError]:
    """Like embed_many, but each text's failure is its own (sync: one bad row fails alone)."""
    def one(i: int) -> tuple[list[float], int] | S3vlError:
        try:
            return embed_one(texts[i], spec, region, deadline, f"{field}[{i}]")
        except S3vlError as err:
            return err

    if len(texts) <= 1:
        return [one(i) for i in range(len(texts))]
    with ThreadPoolExecutor(max_workers=min(limits.EMBED_CONCURRENCY, len(texts))) as pool:
        return list(pool.map(one, range(len(texts))))


def function_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
