"""`python -m s3vl_local.stack up|down|status [--state-dir .local]`: the local stack's lifecycle.

`up` starts the S3 Vectors emulator, the Bedrock Runtime (embeddings, local/s3vl_local/bedrock),
the Lambda Invoke endpoint and PostgreSQL in the background,
waits until each is healthy, installs the aws_lambda stand-in and `sql/install.sql`, creates the
demo vector bucket and index, configures `s3vl`, and writes `<state-dir>/stack.env`. `down` stops
what `up` started. Both are idempotent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from s3vl_local import pg, procs, standin
from s3vl_local.identity import (
    ACCOUNT_ID,
    DUMMY_CREDENTIAL,
    FUNCTION_ALIAS,
    FUNCTION_NAME,
    REGION,
)
from s3vl_local.identity import dummy_credentials_env as _dummy_env
from s3vl_local.lambda_endpoint.context import function_arn
from s3vl_local.ports import LOOPBACK, free_port, http_healthy, is_listening, wait_http_healthy

REPO_ROOT = Path(__file__).resolve().parents[2]
# S3VL_STATE_DIR lets `make local-up/local-down` manage another stack (tests use it).
DEFAULT_STATE_DIR = Path(os.environ.get("S3VL_STATE_DIR") or REPO_ROOT / ".local")
DATABASE = "s3vl"
BUCKET_NAME = "s3vl-demo"
INDEX_NAME = "products"
# A dimension Titan Text Embeddings V2 produces (256, 512, 1024): the demo index is embedded by
# the local Bedrock Runtime (all-MiniLM-L6-v2's 384 dimensions mapped isometrically to 512).
INDEX_DIMENSION = 512
EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"
INDEX_METRIC: Final = "cosine"
NON_FILTERABLE_KEYS = ["description"]
HEALTH_PATH = "/_s3vl/health"
# Extra flags for the emulator process, e.g. "--write-limits --latency-ms-op QueryVectors=80".
EMULATOR_ARGS_ENV = "S3VL_EMULATOR_ARGS"
STATE_FILE = "stack.json"


@dataclass(frozen=True)
class StackInfo:
    """Where everything of one running stack is; `env()` gives the variables of stack.env."""

    dsn: str
    s3vectors_endpoint: str
    lambda_endpoint: str
    lambda_arn: str
    region: str
    bucket_name: str
    index_name: str
    index_arn: str
    state_dir: str
    bedrock_endpoint: str = ""
    function_name: str = FUNCTION_NAME
    database: str = DATABASE

    def env(self) -> dict[str, str]:
        return {
            "S3VL_DSN": self.dsn,
            "AWS_ENDPOINT_URL_S3VECTORS": self.s3vectors_endpoint,
            "S3VL_LAMBDA_ENDPOINT": self.lambda_endpoint,
            "S3VL_LAMBDA_ARN": self.lambda_arn,
            "S3VL_DEMO_INDEX_ARN": self.index_arn,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.bedrock_endpoint,
            # Marks S3VL_DSN as this stack's own: `up` from a shell that sourced stack.env
            # manages its own PostgreSQL again instead of taking S3VL_DSN for a server of yours.
            "S3VL_STACK_DSN": self.dsn,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **_dummy_env(),
        }

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """The same server and credentials, another database."""
        return psycopg.conninfo.make_conninfo(self.dsn, dbname=dbname)


def index_arn(bucket: str = BUCKET_NAME, index: str = INDEX_NAME, region: str = REGION) -> str:
    return f"arn:aws:s3vectors:{region}:{ACCOUNT_ID}:bucket/{bucket}/index/{index}"


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


# ---- state ---------------------------------------------------------------------------------
def _load_state(state_dir: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
        return loaded
    except (OSError, ValueError):
        return {}


def _save_state(state_dir: Path, state: dict[str, Any]) -> None:
    (state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _port(state: dict[str, Any], key: str, alive: bool) -> int:
    """Keep a known port while its server runs (or it is still free), else pick a new one."""
    known = state.get(key)
    if isinstance(known, int) and (alive or not is_listening(known)):
        return known
    return free_port()


def code_stamp() -> str:
    """Fingerprint of the Python code the background processes run (files and mtimes)."""
    digest = hashlib.sha256()
    for package in (REPO_ROOT / "lambda" / "s3vl_lambda", REPO_ROOT / "local" / "s3vl_local",
                    REPO_ROOT / "local" / "s3vectors-emulator" / "s3vectors_emulator"):
        for path in sorted(package.rglob("*.py")):
            digest.update(f"{path}:{path.stat().st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO_ROOT / "lambda"), str(REPO_ROOT / "local"), str(REPO_ROOT / "tests")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def postgres_env(state: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment PostgreSQL is chosen from, without an S3VL_DSN that stack.env exported.

    README tells users to `source .local/stack.env`; its S3VL_DSN is the stack's own server, not
    one the user asks the stack to use (`pg.select_backend`). It is recognised by the
    S3VL_STACK_DSN marker next to it, or (stack.env of an older version) by being the DSN this
    state dir recorded."""
    env = dict(os.environ) if env is None else dict(env)
    given = env.get("S3VL_DSN")
    recorded = (state.get("info") or {}).get("dsn")
    if given and given in (env.get("S3VL_STACK_DSN"), recorded):
        del env["S3VL_DSN"]
    return env


# ---- services ------------------------------------------------------------------------------
def _start_emulator(state_dir: Path, state: dict[str, Any]) -> str:
    pidfile = state_dir / "emulator.pid"
    alive = procs.running_pid(pidfile) is not None
    port = _port(state, "emulator_port", alive)
    url = f"http://{LOOPBACK}:{port}"
    if not (alive and http_healthy(url + HEALTH_PATH)):
        procs.stop_pidfile(pidfile)
        # --data-dir: vectors survive `down`/`up`, as data in S3 Vectors would.
        argv = [sys.executable, "-m", "s3vectors_emulator", "--host", LOOPBACK, "--port",
                str(port), "--region", REGION, "--data-dir", str(state_dir / "emulator-data"),
                # Extra emulator flags (write limits, latency) for benches: docs/local-stack.md.
                *shlex.split(os.environ.get(EMULATOR_ARGS_ENV, ""))]
        procs.start_background(argv, pidfile, state_dir / "emulator.log", _python_env())
    state["emulator_port"] = port
    return url


def _start_bedrock(state_dir: Path, state: dict[str, Any]) -> str:
    """The local Bedrock Runtime (InvokeModel for Titan Text Embeddings V2, a real model)."""
    pidfile = state_dir / "bedrock.pid"
    alive = procs.running_pid(pidfile) is not None
    port = _port(state, "bedrock_port", alive)
    url = f"http://{LOOPBACK}:{port}"
    if not (alive and http_healthy(url + HEALTH_PATH)):
        procs.stop_pidfile(pidfile)
        argv = [sys.executable, "-m", "s3vl_local.bedrock", "--host", LOOPBACK, "--port",
                str(port)]
        procs.start_background(argv, pidfile, state_dir / "bedrock.log", _python_env())
    state["bedrock_port"] = port
    return url


def _start_lambda(state_dir: Path, state: dict[str, Any], s3vectors_url: str,
                  handler: str | None, bedrock_url: str) -> str:
    pidfile = state_dir / "lambda.pid"
    alive = procs.running_pid(pidfile) is not None
    port = _port(state, "lambda_port", alive)
    url = f"http://{LOOPBACK}:{port}"
    wanted_handler = handler or state.get("lambda_handler")
    same_handler = wanted_handler == state.get("lambda_handler")
    same_bedrock = bedrock_url == state.get("lambda_bedrock_url")
    if not (alive and same_handler and same_bedrock and http_healthy(url + HEALTH_PATH)):
        procs.stop_pidfile(pidfile)
        argv = [sys.executable, "-m", "s3vl_local.lambda_endpoint", "--port", str(port),
                "--function-name", FUNCTION_NAME, "--timeout-seconds", "30",
                "--region", REGION, "--s3vectors-endpoint", s3vectors_url,
                "--alias", FUNCTION_ALIAS,
                # The local stack allows index administration from SQL (s3vl.add_text_search,
                # s3vl.set_index_mode); on AWS it is the AllowIndexAdministration parameter.
                "--env", "S3VL_ALLOW_INDEX_ADMIN=true",
                # Embeddings: the local Bedrock Runtime, and the models the deployment allows
                # (on AWS the CloudFormation parameter AllowedEmbeddingModels).
                "--env", f"AWS_ENDPOINT_URL_BEDROCK_RUNTIME={bedrock_url}",
                "--env", f"S3VL_EMBEDDING_MODELS={EMBEDDING_MODEL}"]
        if wanted_handler:
            argv += ["--handler", wanted_handler]
        procs.start_background(argv, pidfile, state_dir / "lambda.log", _python_env())
    state["lambda_port"] = port
    state["lambda_handler"] = wanted_handler
    state["lambda_bedrock_url"] = bedrock_url
    return url


def _start_postgres(state_dir: Path, state: dict[str, Any], env: dict[str, str]) -> str:
    """Return the superuser DSN of the `s3vl` database (created if missing)."""
    backend = pg.select_backend(env)
    state["postgres_backend"] = backend
    if backend == "dsn":
        return env["S3VL_DSN"]
    if backend == "docker":
        server_dsn = state.get("docker_dsn")
        if not server_dsn or not pg.is_ready(server_dsn):  # e.g. the container is gone
            pg.stop_docker(state_dir)
            server_dsn = pg.start_docker(state_dir)
        state["docker_dsn"] = server_dsn
    else:
        known = state.get("postgres_port")
        port = pg.start_cluster(state_dir, cron_database=DATABASE,
                                preferred_port=known if isinstance(known, int) else None)
        state["postgres_port"] = port
        server_dsn = pg.cluster_dsn(port)
    pg.wait_ready(server_dsn)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    if backend == "cluster":
        dsn = pg.cluster_dsn(state["postgres_port"], DATABASE)
    else:
        dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=DATABASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # pg_cron preloaded for this database (pg.cron_options): the extension, as on Aurora.
        if conn.execute("SELECT current_setting('cron.database_name', true) = %s",
                        (DATABASE,)).fetchone() == (True,):
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    return dsn


# ---- installation --------------------------------------------------------------------------
def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    return str(pg.find_bindir() / "psql")


def install_s3vl_schema(dsn: str) -> bool:
    """Run sql/install.sql with psql if the SQL part exists yet. True if it ran."""
    install = REPO_ROOT / "sql" / "install.sql"
    if not install.exists():
        log("sql/install.sql not found: skipping the s3vl schema")
        return False
    proc = subprocess.run([psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                           "-f", str(install)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"sql/install.sql failed:\n{proc.stderr.strip()}")
    return True


def create_demo_index(s3vectors_url: str) -> str:
    import boto3

    client = boto3.client("s3vectors", endpoint_url=s3vectors_url, region_name=REGION,
                          aws_access_key_id=DUMMY_CREDENTIAL,
                          aws_secret_access_key=DUMMY_CREDENTIAL)
    buckets = {b["vectorBucketName"] for b in client.list_vector_buckets()["vectorBuckets"]}
    if BUCKET_NAME not in buckets:
        client.create_vector_bucket(vectorBucketName=BUCKET_NAME)
    indexes = {i["indexName"] for i in client.list_indexes(vectorBucketName=BUCKET_NAME)["indexes"]}
    existing = (client.get_index(vectorBucketName=BUCKET_NAME, indexName=INDEX_NAME)["index"]
                if INDEX_NAME in indexes else None)
    if existing is not None and existing["dimension"] != INDEX_DIMENSION:
        # A stack of an older s3vl (384-d demo index): the demo reloads its vectors anyway.
        log(f"recreating the demo index {INDEX_NAME} with dimension {INDEX_DIMENSION}")
        client.delete_index(vectorBucketName=BUCKET_NAME, indexName=INDEX_NAME)
        indexes.discard(INDEX_NAME)
    if INDEX_NAME not in indexes:
        client.create_index(
            vectorBucketName=BUCKET_NAME, indexName=INDEX_NAME, dataType="float32",
            dimension=INDEX_DIMENSION, distanceMetric=INDEX_METRIC,
            metadataConfiguration={"nonFilterableMetadataKeys": NON_FILTERABLE_KEYS})
    found: str = client.get_index(vectorBucketName=BUCKET_NAME,
                                  indexName=INDEX_NAME)["index"].get("indexArn") or index_arn()
    return found


def configure_s3vl(dsn: str, lambda_arn: str, demo_index_arn: str) -> None:
    """s3vl.configure + s3vl.register_index, when the s3vl schema provides them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 's3vl'").fetchall()}
        if "configure" in names:
            conn.execute("SELECT s3vl.configure(%s)", (lambda_arn,))
        if "register_index" in names:
            registered = False
            if "resolve_index_arn" in names:
                try:
                    row = conn.execute("SELECT s3vl.resolve_index_arn(%s)",
                                       (INDEX_NAME,)).fetchone()
                    registered = bool(row and row[0] == demo_index_arn)
                except psycopg.Error:
                    registered = False
            if not registered:
                conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX_NAME, demo_index_arn))
        if "set_embedding_model" in names:  # text in, rows out: the demo index embeds text
            conn.execute("SELECT s3vl.set_embedding_model(%s, %s)", (INDEX_NAME, EMBEDDING_MODEL))


def write_env_file(info: StackInfo) -> Path:
    path = Path(info.state_dir) / "stack.env"
    lines = ["# written by `python -m s3vl_local.stack up`; dummy credentials, local stack only"]
    lines += [f"export {key}={json.dumps(value)}" for key, value in info.env().items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- commands ------------------------------------------------------------------------------
def up(state_dir: Path = DEFAULT_STATE_DIR, handler: str | None = None,
       install_schema: bool = True) -> StackInfo:
    started = time.monotonic()
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state = _load_state(state_dir)
    pg_env = postgres_env(state)
    pg.preflight(pg_env)
    stamp = code_stamp()
    # The code changed since these processes started: restart them (the data persists).
    if state.get("code_stamp") not in (None, stamp) and procs.stop_pidfiles(
            [state_dir / "lambda.pid", state_dir / "emulator.pid", state_dir / "bedrock.pid"]):
        log("code changed: restarting the emulator, the Bedrock Runtime and the Lambda endpoint")
    state["code_stamp"] = stamp
    s3vectors_url = _start_emulator(state_dir, state)
    bedrock_url = _start_bedrock(state_dir, state)
    lambda_url = _start_lambda(state_dir, state, s3vectors_url, handler, bedrock_url)
    _save_state(state_dir, state)
    dsn = _start_postgres(state_dir, state, pg_env)
    _save_state(state_dir, state)
    for name, url, logfile in (("emulator", s3vectors_url, "emulator.log"),
                               ("lambda endpoint", lambda_url, "lambda.log"),
                               ("bedrock runtime", bedrock_url, "bedrock.log")):
        try:
            wait_http_healthy(url + HEALTH_PATH, timeout_s=30)
        except TimeoutError as exc:
            tail = (state_dir / logfile).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} did not become healthy: {exc}\n{tail}") from exc
    standin.install(dsn, lambda_url)
    if install_schema:
        install_s3vl_schema(dsn)
    arn = create_demo_index(s3vectors_url)
    lambda_arn = function_arn(REGION, FUNCTION_NAME)
    configure_s3vl(dsn, lambda_arn, arn)
    info = StackInfo(dsn=dsn, s3vectors_endpoint=s3vectors_url, lambda_endpoint=lambda_url,
                     lambda_arn=lambda_arn, region=REGION, bucket_name=BUCKET_NAME,
                     index_name=INDEX_NAME, index_arn=arn, state_dir=str(state_dir),
                     bedrock_endpoint=bedrock_url)
    state["info"] = asdict(info)
    _save_state(state_dir, state)
    env_path = write_env_file(info)
    log(f"up in {time.monotonic() - started:.1f}s; environment in {env_path}")
    return info


SERVICE_NAMES = {"emulator": "S3 Vectors emulator", "lambda": "Lambda endpoint",
                 "bedrock": "Bedrock Runtime"}


def down(state_dir: Path = DEFAULT_STATE_DIR, remove: bool = False) -> list[str]:
    """Stop whatever of the stack runs in state_dir; log and return what was stopped.

    PostgreSQL is stopped by what is found running in state_dir (the cluster, the container),
    not by the backend recorded at the last `up`: that record may say `dsn` when `up` ran from a
    shell that had sourced an older stack.env."""
    state_dir = state_dir.resolve()
    state = _load_state(state_dir)
    stopped: list[str] = []
    for pidfile in procs.stop_pidfiles([state_dir / "lambda.pid", state_dir / "emulator.pid",
                                        state_dir / "bedrock.pid"]):
        port = state.get(f"{pidfile.stem}_port")
        stopped.append(f"{SERVICE_NAMES.get(pidfile.stem, pidfile.stem)} (port {port})")
    pg_port = pg.stop_cluster(state_dir, remove=remove)
    if pg_port is not None:
        stopped.append(f"PostgreSQL (port {pg_port})")
    if pg.stop_docker(state_dir):
        stopped.append("PostgreSQL container")
    for what in stopped:
        log(f"stopped {what}")
    if not stopped:
        log(f"nothing was running (state in {state_dir})")
    if state.get("postgres_backend") == "dsn":
        log("PostgreSQL at S3VL_DSN was not started by the stack: left running")
    (state_dir / "stack.env").unlink(missing_ok=True)
    if remove:
        shutil.rmtree(state_dir, ignore_errors=True)
    return stopped


def status(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, Any]:
    state_dir = state_dir.resolve()
    state = _load_state(state_dir)
    report: dict[str, Any] = {}
    for name, key in (("emulator", "emulator_port"), ("lambda", "lambda_port"),
                      ("bedrock", "bedrock_port")):
        port = state.get(key)
        pid = procs.running_pid(state_dir / f"{name}.pid")
        report[name] = {"pid": pid, "port": port,
                        "healthy": bool(port and http_healthy(
                            f"http://{LOOPBACK}:{port}{HEALTH_PATH}"))}
    if state.get("postgres_backend", "cluster") == "cluster":
        report["postgres"] = {"port": pg.cluster_port(pg.cluster_paths(state_dir))}
    return report


def read_info(state_dir: Path = DEFAULT_STATE_DIR) -> StackInfo | None:
    """The StackInfo of the last `up` in state_dir (running or not)."""
    info = _load_state(state_dir.resolve()).get("info")
    return StackInfo(**info) if isinstance(info, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3vl_local.stack")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--handler", help="module:function run by the Lambda endpoint")
    parser.add_argument("--purge", action="store_true",
                        help="down: also delete the PostgreSQL cluster and the state dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            info = up(args.state_dir, handler=args.handler)
            for key, value in info.env().items():
                if "SECRET" not in key:
                    print(f"{key}={value}")
        elif args.command == "down":
            down(args.state_dir, remove=args.purge)
        else:
            print(json.dumps(status(args.state_dir), indent=2))
    except (RuntimeError, pg.PostgresUnavailable, TimeoutError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
