"""The demo catalogue and its query phrases embedded through the local Bedrock Runtime
(InvokeModel, Titan Text Embeddings V2 request and answer), as an application would on AWS.

The local model is the one data/demo/*.npy came from (all-MiniLM-L6-v2), mapped isometrically
from its 384 dimensions to the demo index's 512, so distances are the committed vectors'.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import boto3
import numpy as np

from s3vl_local.demo.data import DemoData
from s3vl_local.identity import DUMMY_CREDENTIAL

WORKERS = 4


def bedrock_client(endpoint: str, region: str) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=DUMMY_CREDENTIAL,
                        aws_secret_access_key=DUMMY_CREDENTIAL)


def embed_texts(client: Any, texts: list[str], model_id: str, dimension: int) -> np.ndarray:
    def one(text: str) -> list[float]:
        response = client.invoke_model(
            modelId=model_id, contentType="application/json", accept="application/json",
            body=json.dumps({"inputText": text, "dimensions": dimension, "normalize": True}))
        vector: list[float] = json.loads(response["body"].read())["embedding"]
        return vector

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return np.asarray(list(pool.map(one, texts)), dtype=np.float32)


def embedded(data: DemoData, endpoint: str, region: str, model_id: str,
             dimension: int) -> DemoData:
    """The demo data with product and query vectors from the Bedrock Runtime."""
    client = bedrock_client(endpoint, region)
    started = time.monotonic()
    texts = [f"{p.name}. {p.description}" for p in data.products]
    products = embed_texts(client, texts, model_id, dimension)
    queries = embed_texts(client, data.queries, model_id, dimension)
    elapsed = time.monotonic() - started
    print(f"[demo] {len(texts) + len(data.queries)} texts embedded by {model_id} "
          f"({dimension} dimensions) through the Bedrock Runtime at {endpoint} in "
          f"{elapsed:.1f} s", file=sys.stderr)
    return replace(data, product_vectors=products, query_vectors=queries)
