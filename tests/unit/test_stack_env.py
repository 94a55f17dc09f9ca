"""Which PostgreSQL `make local-up` picks from a shell that sourced `.local/stack.env`: the stack's
own S3VL_DSN (marked by S3VL_STACK_DSN, or recorded in the state dir) is not a server of the
user's, so `up` and `down` keep managing the stack's own cluster."""

from __future__ import annotations

from s3vl_local import pg
from s3vl_local.stack import StackInfo, postgres_env

OWN = "postgresql://postgres@127.0.0.1:54321/s3vl"
THEIRS = "postgresql://me@db.example/app"


def test_stack_env_marks_its_dsn() -> None:
    info = StackInfo(dsn=OWN, s3vectors_endpoint="", lambda_endpoint="", lambda_arn="",
                     region="us-east-1", bucket_name="b", index_name="i", index_arn="",
                     state_dir="/tmp/x")
    assert info.env()["S3VL_STACK_DSN"] == info.env()["S3VL_DSN"] == OWN


def test_the_stacks_own_dsn_selects_the_cluster() -> None:
    sourced = {"S3VL_DSN": OWN, "S3VL_STACK_DSN": OWN, "PATH": "/bin"}
    env = postgres_env({}, sourced)
    assert "S3VL_DSN" not in env and env["PATH"] == "/bin"
    assert pg.select_backend(env) == "cluster"
    assert sourced["S3VL_DSN"] == OWN  # the caller's mapping is not changed


def test_an_older_stack_env_is_recognised_by_the_recorded_dsn() -> None:
    state = {"info": {"dsn": OWN}}
    assert pg.select_backend(postgres_env(state, {"S3VL_DSN": OWN})) == "cluster"


def test_a_dsn_of_the_users_is_kept() -> None:
    for env in ({"S3VL_DSN": THEIRS}, {"S3VL_DSN": THEIRS, "S3VL_STACK_DSN": OWN}):
        assert postgres_env({"info": {"dsn": OWN}}, env)["S3VL_DSN"] == THEIRS
        assert pg.select_backend(postgres_env({"info": {"dsn": OWN}}, env)) == "dsn"
