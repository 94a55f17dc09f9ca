"""The demo's partition step: one S3 Vectors index per tenant behind one logical name
(s3vl.create_partitioned_index with partition_key 'tenant'), and a role bound by a tenant policy
that reads only its own partition (the function's invocation log shows which one it read).

Self-contained: its own indexes (products-tenant-<tenant>), logical name, role and policy;
idempotent, so the demo can run again.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from s3vl_local.demo.data import DemoData

LOGICAL = "products-by-tenant"
ROLE = "demo_tenant_app"
SETTING = "demo.tenant"


def available(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regprocedure('s3vl.create_partitioned_index(text, text, "
                           "text)') IS NOT NULL").fetchone()
        return bool(row and row[0])


def _index(client: Any, bucket: str, like_arn: str, name: str) -> str:
    shape = client.get_index(indexArn=like_arn)["index"]
    arn = like_arn.rsplit("/", 1)[0] + "/" + name
    try:
        client.get_index(indexArn=arn)
    except client.exceptions.NotFoundException:
        client.create_index(vectorBucketName=bucket, indexName=name, dataType="float32",
                            dimension=shape["dimension"], distanceMetric=shape["distanceMetric"])
    return arn


def _partitions_read(log: Path, offset: int) -> list[list[int]]:
    time.sleep(0.2)  # the endpoint writes its log line after answering
    text = log.read_text(errors="replace")[offset:]
    return [json.loads(line[line.index("{"):])["partitions_read"]
            for line in text.splitlines() if '"partition fan-out"' in line]


def run(dsn: str, client: Any, bucket: str, products_index_arn: str, data: DemoData,
        state_dir: Path) -> None:
    tenants = sorted({p.tenant for p in data.products})
    arns = {t: _index(client, bucket, products_index_arn, f"products-tenant-{t}")
            for t in tenants}
    log = state_dir / "lambda.log"
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM s3vl.index_registry WHERE index_name = %s",
                        (LOGICAL,)).fetchone() is None:
            conn.execute("SELECT s3vl.create_partitioned_index(%s, 'tenant', "
                         "'demo: one index per tenant')", (LOGICAL,))
        have = {r[0] for r in conn.execute("SELECT partition_value FROM "
                                           "s3vl.list_partitions(%s)", (LOGICAL,))}
        for t in tenants:
            if t not in have:
                conn.execute("SELECT s3vl.add_partition(%s, %s, %s)", (LOGICAL, arns[t], t))
        vectors = [{"key": p.product_id, "data": [float(x) for x in v],
                    "metadata": {"tenant": p.tenant, "name": p.name, "price": p.price}}
                   for p, v in zip(data.products, data.product_vectors, strict=True)]
        conn.execute("SELECT s3vl.put_vectors(%s, %s)", (Jsonb(vectors), LOGICAL))
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {ROLE} NOLOGIN IN ROLE s3vl_reader")
        conn.execute("SELECT s3vl.create_policy(%s, %s, %s)",
                     (LOGICAL, ROLE, Jsonb({"tenant": {"$setting": SETTING}})))
        print(f"\n== 9. Partitions: '{LOGICAL}' is one S3 Vectors index per tenant, routed by "
              "metadata 'tenant'")
        for row in conn.execute("SELECT partition_value, ordinal, index_arn FROM "
                                "s3vl.list_partitions(%s)", (LOGICAL,)):
            print(f"  {row[0]} | {row[1]} | {row[2]}")
        probe = [float(x) for x in data.query_vectors[0]]
        tenant = tenants[0]
        conn.execute("SELECT set_config(%s, %s, false)", (SETTING, tenant))
        conn.execute(f"SET ROLE {ROLE}")
        offset = log.stat().st_size if log.exists() else 0
        print(f"\n== role {ROLE} (policy tenant = current_setting('{SETTING}') = '{tenant}'):\n"
              f"SELECT vector_id, metadata ->> 'tenant' AS tenant, metadata ->> 'name' AS name "
              f"FROM s3vl.query_vectors(<query embedding>, '{LOGICAL}', top_k => 5)")
        for row in conn.execute("SELECT vector_id, metadata ->> 'tenant', metadata ->> 'name' "
                                "FROM s3vl.query_vectors(%s::float8[], %s, top_k => 5)",
                                (probe, LOGICAL)):
            print("  " + " | ".join(str(v) for v in row))
        conn.execute("RESET ROLE")
        if log.exists():
            print(f"  partitions the function read (its invocation log): "
                  f"{_partitions_read(log, offset)}")
    sys.stdout.flush()
