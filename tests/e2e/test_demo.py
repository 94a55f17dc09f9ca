"""`python -m s3vl_local.demo` (what `make demo` runs) against the test stack."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import psycopg

from s3vl_local.demo import data as demo_data
from s3vl_local.demo.__main__ import QUERY_PHRASES, TEXT_QUERY
from s3vl_local.stack import REPO_ROOT, StackInfo


def nearest_ids(demo: demo_data.DemoData, query_index: int, k: int) -> list[str]:
    sims = demo.product_vectors.astype(np.float64) @ demo.query_vectors[query_index]
    return [demo.products[i].product_id for i in np.argsort(-sims)[:k]]


def test_demo_loads_data_and_prints_the_blog_queries(local_stack: StackInfo) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        str(REPO_ROOT / p) for p in ("lambda", "local")))
    proc = subprocess.run([sys.executable, "-m", "s3vl_local.demo", "--state-dir",
                           local_stack.state_dir], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    demo = demo_data.load()
    for heading in ("== 1. Plain similarity search", "== 2. Metadata filter",
                    "== 3. The blog's CTE",
                    "== 3b. The same question with s3vl.query_vectors_where",
                    "== 4. Per-tenant search"):
        assert heading in out
    # Query 1 prints the 5 exact nearest products, nearest first.
    section1 = out.split("== 1.")[1].split("== 2.")[0]
    ids = nearest_ids(demo, QUERY_PHRASES["q1"], 5)
    positions = [section1.index(f" {key} ") for key in ids]
    assert positions == sorted(positions)
    # Query 3 (the CTE) prints exactly the in-stock products under $500 among the 10 nearest:
    # 5 rows on this catalogue. 3b (query_vectors_where) prints the 10 nearest that pass.
    section3 = out.split("== 3.")[1].split("== 3b.")[0]
    section3b = out.split("== 3b.")[1].split("== 4.")[0]
    by_id = {p.product_id: p for p in demo.products}
    passing = [key for key in nearest_ids(demo, QUERY_PHRASES["q3"], len(demo.products))
               if by_id[key].stock > 0 and by_id[key].price < 500]
    for key in nearest_ids(demo, QUERY_PHRASES["q3"], 10):
        p = by_id[key]
        assert (f" {key} " in section3) == (p.stock > 0 and p.price < 500), key
    assert section3.count(" p-") == 5
    assert section3b.count(" p-") == 10
    positions = [section3b.index(f" {key} ") for key in passing[:10]]
    assert positions == sorted(positions)
    # Queries 5-7: the brand's smart light bulb, ranked low by the vector alone (not in its top
    # 5), is found by full-text search and ranked into the top 5 by hybrid search.
    brand = TEXT_QUERY["brand"]
    target = next(p for p in demo.products
                  if p.name.startswith(brand + " Smart") and p.category == "home")
    assert target.product_id not in nearest_ids(demo, QUERY_PHRASES["q5"], 20)
    for heading in ("== 5. Vector search alone", "== 6. Full-text search",
                    "== 7. Hybrid search"):
        assert heading in out
    section5 = out.split("== 5.")[1].split("== 6.")[0]
    section6 = out.split("== 6.")[1].split("== 7.")[0]
    section7 = out.split("== 7.")[1].split("== 8.")[0]
    assert f" {target.product_id} " not in section5
    assert all(f" {key} " in section5 for key in nearest_ids(demo, QUERY_PHRASES["q5"], 5))
    assert f" {target.product_id} " in section6 and f" {target.product_id} " in section7
    assert "(null)" in section7  # a hybrid row one of the rankings did not find
    with psycopg.connect(local_stack.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM demo.products").fetchone() == (300,)
        row = conn.execute("SELECT index_mode, text_search FROM "
                           "s3vl.describe_index('products')").fetchone()
        assert row is not None and row[0] == "ENHANCED"
        assert {(e["metadata_key"], e["status"]) for e in row[1]} == {
            ("name", "ACTIVE"), ("description", "ACTIVE")}
    # Running the demo again is fine (the text search configurations exist already).
    again = subprocess.run([sys.executable, "-m", "s3vl_local.demo", "--state-dir",
                            local_stack.state_dir], env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert again.returncode == 0, again.stderr
