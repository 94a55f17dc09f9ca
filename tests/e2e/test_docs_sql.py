"""Every ```sql block of docs/*.md runs, in order per file, against the stack with the demo loaded
(`make demo`), or is marked AWS-only in the text. README.md's blocks run in
test_readme_cookbook.py, with checks of their results."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e.docs_helpers import (
    AWS_ONLY_MARK,
    REPO_ROOT,
    doc_files,
    runnable_script,
    sql_blocks,
)
from s3vl_local.stack import StackInfo, psql_binary

# Run by tests of their own, which also check what the blocks print.
OWN_TESTS = {"README.md": "test_readme_cookbook.py", "your-own-data.md": "test_your_own_data.py"}
DOCS_WITH_SQL = [p for p in doc_files()
                 if p.name not in OWN_TESTS and any(not b.aws_only for b in sql_blocks(p))]


@pytest.fixture(scope="module")
def demo_stack(local_stack: StackInfo) -> StackInfo:
    """`make demo` on the test stack: the stack is brought up once, the demo data loaded."""
    env = dict(os.environ, S3VL_STATE_DIR=local_stack.state_dir)
    proc = subprocess.run(["make", "-s", "demo"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("[stack] up") == 1, proc.stderr
    return local_stack


def run_psql(stack: StackInfo, script: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    return subprocess.run([psql_binary(), stack.dsn, "-X", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=180,
                          check=False, env=env)


def test_the_docs_have_runnable_sql() -> None:
    names = {p.name for p in DOCS_WITH_SQL}
    assert {"deploy.md", "sql-reference.md", "sync.md", "writes-batch-cache.md"} <= names
    for doc, test in OWN_TESTS.items():
        assert (Path(__file__).with_name(test)).exists(), doc


@pytest.mark.parametrize("doc", DOCS_WITH_SQL, ids=[p.name for p in DOCS_WITH_SQL])
def test_doc_sql_runs_on_the_demo_stack(demo_stack: StackInfo, doc: Path) -> None:
    proc = run_psql(demo_stack, runnable_script(doc))
    assert proc.returncode == 0, f"{doc.name}:\n{proc.stderr}"
    assert "ERROR" not in proc.stderr, proc.stderr


def test_aws_only_is_a_mark_in_the_text(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"Run this:\n\n```sql\nSELECT 1;\n```\n\n{AWS_ONLY_MARK} (needs Aurora,\n"
                   "two lines):\n\n```sql\nCREATE EXTENSION aws_lambda;\n```\n\n"
                   f"{AWS_ONLY_MARK} is said earlier.\n\nThis one runs:\n\n"
                   "```sql\nSELECT 2;\n```\n")
    blocks = sql_blocks(doc)
    assert [(b.line, b.aws_only) for b in blocks] == [(3, False), (10, True), (18, False)]
    assert "aws_lambda" not in runnable_script(doc) and "SELECT 1;" in runnable_script(doc)


def test_every_aws_only_block_says_why() -> None:
    """The mark is followed by a reason, so the reader knows what the local stack lacks."""
    marked = 0
    for doc in doc_files():
        lines = doc.read_text().splitlines()
        for block in sql_blocks(doc):
            if block.aws_only:
                marked += 1
                paragraph = "\n".join(lines[:block.line - 1]).rstrip().rsplit("\n\n", 1)[-1]
                assert len(paragraph.strip()) > len(AWS_ONLY_MARK) + 20, block.where
    assert marked >= 1
