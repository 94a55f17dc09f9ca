"""docs/your-own-data.md, run as a reader would: its ```sh, ```sql and ```python blocks in order,
in a shell that sourced the stack's stack.env, against the test stack (the only change to the text:
`.local/stack.env` is the test stack's file)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.docs_helpers import REPO_ROOT
from s3vl_local.stack import StackInfo, psql_binary

GUIDE = REPO_ROOT / "docs" / "your-own-data.md"
BLOCK = re.compile(r"^```(sh|sql|python)[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


def stack_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def run_block(kind: str, text: str, env: dict[str, str],
              state_dir: str) -> subprocess.CompletedProcess[str]:
    if kind == "sh":
        text = text.replace(".local/stack.env", f"{state_dir}/stack.env")
        argv = ["bash", "-euo", "pipefail", "-c", text]
        stdin = None
    elif kind == "sql":
        argv = [psql_binary(), env["S3VL_DSN"], "-X", "-v", "ON_ERROR_STOP=1", "-f", "-"]
        stdin = text
    else:
        argv = [sys.executable, "-"]
        stdin = text
    return subprocess.run(argv, input=stdin, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def cleanup(stack: StackInfo) -> None:
    """Whatever a failed run left behind (the guide's own clean-up runs last when all pass)."""
    import boto3
    import psycopg

    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.notes')").fetchone() != (None,):
            conn.execute("SELECT s3vl.untrack_table('notes')")
            conn.execute("DROP TABLE notes")
        if conn.execute("SELECT to_regclass('public.texts')").fetchone() != (None,):
            conn.execute("SELECT s3vl.untrack_table('texts')")
            conn.execute("DROP TABLE texts")
        conn.execute("DELETE FROM s3vl.index_registry WHERE index_name IN ('my-notes', "
                     "'my-texts')")
    client = boto3.client("s3vectors", endpoint_url=stack.s3vectors_endpoint,
                          region_name=stack.region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    for index in ("my-notes", "my-texts"):
        with contextlib.suppress(client.exceptions.NotFoundException):
            client.delete_index(vectorBucketName=stack.bucket_name, indexName=index)


@pytest.mark.timeout(600)
def test_your_own_data_guide_runs_as_written(local_stack: StackInfo) -> None:
    blocks = BLOCK.findall(GUIDE.read_text())
    kinds = [k for k, _ in blocks]
    assert kinds.count("sql") >= 3 and "python" in kinds and kinds[0] == "sh"
    env = dict(os.environ, S3VL_STATE_DIR=local_stack.state_dir,
               **stack_env(Path(local_stack.state_dir) / "stack.env"))
    outputs: list[str] = []
    try:
        for kind, text in blocks:
            proc = run_block(kind, text, env, local_stack.state_dir)
            assert proc.returncode == 0, f"{kind} block failed:\n{text}\n{proc.stderr}"
            outputs.append(proc.stdout)
    finally:
        cleanup(local_stack)
    every = "\n".join(outputs)
    # Step 2 printed the ARN that step 3 registers.
    arn = "arn:aws:s3vectors:us-east-1:123456789012:bucket/s3vl-demo/index/my-notes"
    assert arn in outputs[1] and arn in GUIDE.read_text()
    # sync sent the 5 rows; the nearest three are the two shopping notes, then a work note.
    assert re.search(r"my-notes\s*\|\s*5\s*\|\s*0\s*\|\s*0\s*\|", every), every
    nearest = re.findall(r"^\s*(\d)\s*\|\s*(\w+)\s*\|", every, flags=re.M)
    assert nearest[:3] == [("1", "shopping"), ("2", "shopping"), ("3", "work")], every
    # The filter kept only work notes; query_table's predicate dropped none of the two nearest.
    assert "send the quarterly report" in every and "book a room for the review" in every
    # The Python snippet: the two shopping notes, nearest first.
    python_out = outputs[kinds.index("python")]
    assert re.match(r"\[\('1', [0-9.e-]+\), \('2', [0-9.e-]+\)\]", python_out), python_out
    # Text in, rows out: sync embedded the 4 texts; 'groceries' finds the two shopping notes.
    mine = every[every.index("upserted | failed"):]  # the section's own output
    assert re.search(r"^\s*4\s*\|\s*0\s*$", mine, flags=re.M), mine
    texts = re.findall(r"^\s*(\d)\s*\|\s*(buy oat milk|get bread|send the|plant the)",
                       mine, flags=re.M)
    assert {t[0] for t in texts[:2]} == {"1", "2"}, mine
    assert re.search(r"^\s*512\s*$", mine, flags=re.M), mine
