"""SQL regression scripts with expected output, the way pgvector and pgmq keep their SQL tests.

Each `regress/sql/NAME.sql` runs with psql (echoing every statement) in a fresh database with the
canned `aws_lambda` and s3vl installed, and its output must equal `regress/expected/NAME.out`
byte for byte. The scripts record the whole error surface of the public functions: SQLSTATE,
message, DETAIL and HINT, and that argument errors invoke nothing.

After an intended change, regenerate and review the diff:
    S3VL_REGRESS_UPDATE=1 .venv/bin/pytest tests/sql/test_regress.py
"""

from __future__ import annotations

import difflib
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from sql.sql_helpers import make_canned_db

HERE = Path(__file__).with_name("regress")
SCRIPTS = sorted((HERE / "sql").glob("*.sql"))


def _run_script(dsn: str, script: Path) -> str:
    from s3vl_local.stack import psql_binary

    env = dict(os.environ, PGTZ="UTC", PGDATESTYLE="ISO, YMD", LC_MESSAGES="C")
    setup = subprocess.run([psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                            "-f", str(HERE / "setup.sql")], capture_output=True, text=True,
                           env=env, check=False, timeout=60)
    assert setup.returncode == 0, setup.stderr
    proc = subprocess.run([psql_binary(), "-X", "-a", "-q", "-v", "ON_ERROR_STOP=1",
                           "-P", "pager=off", "-d", dsn, "-f", str(script)],
                          capture_output=True, text=True, env=env, check=False, timeout=120,
                          cwd=str(HERE / "sql"))
    assert proc.returncode == 0, f"{script.name} stopped on an error:\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc.stdout


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 3
    expected = {p.stem for p in (HERE / "expected").glob("*.out")}
    assert expected == {p.stem for p in SCRIPTS}, "every script needs an expected output"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_output_matches_expected(postgres_server: Callable[[str], str],
                                        script: Path) -> None:
    # PostgreSQL alone (no emulator, no Lambda endpoint): the canned aws_lambda answers.
    name = f"s3vl_regress_{uuid.uuid4().hex[:10]}"
    dsn = make_canned_db(postgres_server, name)
    try:
        got = _run_script(dsn, script)
    finally:
        with psycopg.connect(postgres_server("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    expected_path = HERE / "expected" / f"{script.stem}.out"
    if os.environ.get("S3VL_REGRESS_UPDATE") == "1":
        expected_path.write_text(got)
    expected = expected_path.read_text() if expected_path.exists() else ""
    if got != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                            str(expected_path), "actual output"))
        pytest.fail(f"{script.name}: output differs from the expected file\n{diff}")
