"""The SQL steps of the deploy scripts with the real psql against the local stack's PostgreSQL
(aws_lambda stand-in -> local Lambda endpoint -> emulator). Only CloudFormation and RDS stay
faked: their outputs point at the local function and index, so install-schema.sh,
configure.sh, register-index.sh, validate.sh and cleanup.sh run their statements for real."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.conftest import ACCOUNT, Sandbox

if TYPE_CHECKING:
    from s3vl_local.stack import StackInfo

pytestmark = pytest.mark.stack


def use_local_stack(sandbox: Sandbox, stack: StackInfo, dsn: str, dimension: int) -> None:
    """Fake account in the stack's Region whose outputs name the local function and index."""
    cluster_arn = f"arn:aws:rds:{stack.region}:{ACCOUNT}:cluster:local-db"
    params = json.loads(sandbox.parameters.read_text())
    for entry in params:
        if entry["ParameterKey"] == "AuroraClusterArn":
            entry["ParameterValue"] = cluster_arn
    sandbox.parameters.write_text(json.dumps(params))
    state = sandbox.state
    state["cluster"]["id"] = "local-db"
    sandbox.set_state(region=stack.region, cluster=state["cluster"], output_overrides={
        "FunctionAliasArn": f"{stack.lambda_arn}:live", "IndexArn": stack.index_arn,
        "IndexName": "local-products", "IndexDimension": str(dimension),
        "Region": stack.region})
    # The real psql, connected the libpq way.
    (sandbox.root / "bin" / "psql").unlink()
    assert shutil.which("psql")
    conn = conninfo_to_dict(dsn)
    for variable, key in (("PGHOST", "host"), ("PGPORT", "port"), ("PGUSER", "user"),
                          ("PGDATABASE", "dbname"), ("PGPASSWORD", "password")):
        if conn.get(key):
            sandbox.env[variable] = str(conn[key])


def test_sql_steps_against_real_postgresql(sandbox: Sandbox, local_stack: StackInfo,
                                           fresh_database: Callable[[], str],
                                           s3vectors_client: Any) -> None:
    dsn = fresh_database()
    index = s3vectors_client.get_index(indexArn=local_stack.index_arn)["index"]
    dimension = int(index["dimension"])
    use_local_stack(sandbox, local_stack, dsn, dimension)
    assert sandbox.run("deploy-stack.sh").returncode == 0

    for script in ("install-schema.sh", "configure.sh", "register-index.sh", "validate.sh"):
        for attempt in (1, 2):  # every step can be re-run
            result = sandbox.run(script)
            assert result.returncode == 0, f"{script} run {attempt}:\n{result.stderr}"
    assert "validated: SQL reaches the function" in result.stderr

    with psycopg.connect(dsn, autocommit=True) as conn:
        arn = conn.execute("SELECT s3vl.resolve_index_arn('local-products')").fetchone()
        assert arn == (local_stack.index_arn,)
        rows = conn.execute(
            "SELECT vector_id, distance FROM s3vl.query_vectors("
            "query_vector => array_fill(0.5::float8, ARRAY[%s]), index_name => 'local-products',"
            " top_k => 3)", (dimension,)).fetchall()
        assert all(isinstance(r[0], str) for r in rows)

    result = sandbox.run("cleanup.sh", "--yes")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT to_regnamespace('s3vl')").fetchone() == (None,)


def test_a_failing_sql_step_names_itself(sandbox: Sandbox, local_stack: StackInfo,
                                         fresh_database: Callable[[], str]) -> None:
    dsn = fresh_database()
    use_local_stack(sandbox, local_stack, dsn, 8)
    assert sandbox.run("deploy-stack.sh").returncode == 0
    # configure before the schema exists: the real psql error, and the step that failed.
    result = sandbox.run("configure.sh")
    assert result.returncode != 0
    assert 'step "configure" failed' in result.stderr
    assert "s3vl.configure" in result.stderr and "does not exist" in result.stderr
