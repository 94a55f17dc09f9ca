"""The demo's partition step (local/s3vl_local/demo/partition_step.py) against the test stack: a
partition per tenant, and the policy-bound role's query returns only its tenant's products,
read from its own partition only (the invocation log the step prints)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3vl_local import stack
from s3vl_local.demo import data as demo_data
from s3vl_local.demo import embed_step, partition_step
from s3vl_local.stack import StackInfo

pytestmark = pytest.mark.stack


def test_partition_step_reads_only_the_tenants_partition(local_stack: StackInfo,
                                                         capsys: Any) -> None:
    # The demo's data, embedded as the demo embeds it (the stack's model and dimension).
    data = embed_step.embedded(demo_data.load(), local_stack.bedrock_endpoint, local_stack.region,
                               stack.EMBEDDING_MODEL, stack.INDEX_DIMENSION)
    client = boto3.client("s3vectors", endpoint_url=local_stack.s3vectors_endpoint,
                          region_name=local_stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    assert partition_step.available(local_stack.dsn)
    for _ in range(2):  # idempotent: a second run changes nothing and says the same
        partition_step.run(local_stack.dsn, client, local_stack.bucket_name,
                           local_stack.index_arn, data, Path(local_stack.state_dir))
        out = capsys.readouterr().out
        tenants = sorted({p.tenant for p in data.products})
        section = out.split("== role")[1]
        rows = [line for line in section.splitlines() if line.startswith("  p-")]
        assert len(rows) == 5
        assert all(line.split(" | ")[1] == tenants[0] for line in rows)
        read = ast.literal_eval(section.split("invocation log): ")[1].splitlines()[0])
        assert read == [[0]]  # the first tenant's partition, ordinal 0, alone
