"""The README's cookbook is SQL a user can paste: run it, as written, against the demo data."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from e2e.docs_helpers import runnable_script, sql_blocks
from s3vl_local.stack import REPO_ROOT, StackInfo, psql_binary

README = REPO_ROOT / "README.md"


def test_readme_cookbook_runs_verbatim(local_stack: StackInfo) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        str(REPO_ROOT / p) for p in ("lambda", "local")))
    load = subprocess.run([sys.executable, "-m", "s3vl_local.demo", "--state-dir",
                           local_stack.state_dir], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert load.returncode == 0, load.stderr
    # One transaction, rolled back: the cookbook's configure/register/grant leave no trace.
    # Nothing is added: the README says every statement runs after `make demo`.
    assert sql_blocks(README), "README.md has no ```sql block"
    script = runnable_script(README)
    proc = subprocess.run([psql_binary(), local_stack.dsn, "-X", "-v", "ON_ERROR_STOP=1",
                           "-f", "-"], input=script, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "wrong dimension" in proc.stderr  # the error-branching example caught SQLSTATE 22000
    # The cookbook starts with text in, rows out: earbuds and headphones first.
    first = out.split("(5 rows)", 1)[0]
    top = re.search(r"^\s*p-\d{4}\s*\|\s*[\d.]+\s*\|(.*)$", first, flags=re.M)
    assert top is not None and re.search(r"Earbuds|Headphones", top.group(1)), first
    assert re.search(r"^\s*512\s*$", out, flags=re.M), out  # s3vl.embed of one text
    assert re.search(r"no-such-key\s*\|\s*f\s*\|", out), out  # get_vectors: found = false
    assert re.search(r"p-0001\s*\|\s*t\s*\|", out), out
    assert re.search(r"^\s*300\s*$", out, flags=re.M), out  # scan_vectors counted every vector
    assert "(40 rows)" in out  # query_vectors_batch: 8 demo orders x top 5
    assert re.search(r"^\s*1\s*\|\s*1\s*\|\s*1\s*$", out, flags=re.M), out  # one hit, one miss
    # put_vector + put_vectors (8) were deleted again (9): the demo index is back to 300 vectors.
    assert re.search(r"^\s*9\s*$", out, flags=re.M), out
