"""PostgreSQL for the local stack: a throwaway cluster, an existing server, or a container.

Selection (see `select_backend`):
- `S3VL_DSN` set: use that server as is (nothing is started or stopped).
- `S3VL_POSTGRES=docker`: a testcontainers PostgreSQL with plpython3u.
- otherwise: a cluster from the machine's newest `/usr/lib/postgresql/*/bin`, on a free port,
  listening on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root the cluster runs as
  the OS user `postgres`, with its files under `/tmp/s3vl-<hash of state dir>/` (the project folder
  may not be writable by that user).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from s3vl_local.identity import DUMMY_CREDENTIAL
from s3vl_local.ports import free_port, is_listening

Backend = Literal["dsn", "docker", "cluster"]

CLUSTER_OS_USER = "postgres"
SUPERUSER = "postgres"
DOCKER_IMAGE = os.environ.get("S3VL_POSTGRES_IMAGE", "postgres:16")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be provided the requested way; the message says what to do."""


@dataclass(frozen=True)
class ClusterPaths:
    root: Path
    data: Path
    sockets: Path
    log: Path


def select_backend(env: dict[str, str] | None = None) -> Backend:
    env = dict(os.environ) if env is None else env
    if env.get("S3VL_DSN"):
        return "dsn"
    choice = env.get("S3VL_POSTGRES", "").strip().lower()
    if choice == "docker":
        return "docker"
    if choice not in ("", "local", "cluster"):
        raise PostgresUnavailable(
            f"S3VL_POSTGRES={choice!r} is not one of: local (default), docker"
        )
    return "cluster"


def find_bindir() -> Path:
    """The newest installed PostgreSQL (13 or newer) that has PL/Python."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in map(Path, candidates):
        version = bindir.parent.name
        if not version.isdigit() or int(version) < 13 or not (bindir / "postgres").exists():
            continue
        if (bindir.parent / "lib" / "plpython3.so").exists():
            return bindir
    raise PostgresUnavailable(
        "no PostgreSQL 13+ with PL/Python found under /usr/lib/postgresql; install it with: "
        "sudo apt-get install -y postgresql postgresql-plpython3-<version> "
        "(or run `make setup` as root), or point S3VL_DSN at a server that has plpython3u"
    )


def running_as_root() -> bool:
    return os.geteuid() == 0


def cluster_paths(state_dir: Path) -> ClusterPaths:
    if running_as_root():
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
        root = Path("/tmp") / f"s3vl-{digest}"
    else:
        root = state_dir.resolve() / "pg"
    return ClusterPaths(root=root, data=root / "data", sockets=root / "run", log=root / "pg.log")


def _as_cluster_user(argv: list[str]) -> list[str]:
    if not running_as_root():
        return argv
    return ["runuser", "-u", CLUSTER_OS_USER, "--", *argv]


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(_as_cluster_user(argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _private_dir(path: Path, uid: int, gid: int) -> None:
    """Make `path` a directory only uid can use (mode 0700), or accept it if it already is one.

    For the predictable /tmp path used as root: the directory is created with mkdir (never
    exist_ok), then opened with O_NOFOLLOW and changed through that descriptor, so a symlink or a
    directory someone else planted there first is refused, never followed or taken over.
    """
    try:
        os.mkdir(path, 0o700)
        created = True
    except FileExistsError:
        created = False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise PostgresUnavailable(
            f"{path} exists and is a symlink or not a directory ({exc.strerror}); remove it "
            "(someone may have planted it) and retry") from exc
    try:
        if created:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, 0o700)
            return
        st = os.fstat(fd)
        if st.st_uid != uid:
            raise PostgresUnavailable(
                f"{path} exists but is owned by uid {st.st_uid}, not {uid}; remove it (someone "
                "may have created it first) and retry")
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise PostgresUnavailable(
                f"{path} exists but group or others may use it (mode "
                f"{stat.S_IMODE(st.st_mode):o}); remove it and retry")
    finally:
        os.close(fd)


def _prepare_dirs(paths: ClusterPaths) -> None:
    if not running_as_root():
        # Under the project's own state directory.
        paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths.sockets.mkdir(mode=0o700, exist_ok=True)
        return
    user = pwd.getpwnam(CLUSTER_OS_USER)
    for p in (paths.root, paths.sockets):
        _private_dir(p, user.pw_uid, user.pw_gid)


def init_cluster(paths: ClusterPaths, bindir: Path) -> None:
    if (paths.data / "PG_VERSION").exists():
        return
    _prepare_dirs(paths)
    # -N: no fsync; a throwaway cluster trades durability for a fast start.
    _run(
        [str(bindir / "initdb"), "-D", str(paths.data), "-U", SUPERUSER, "-A", "trust",
         "-E", "UTF8", "--locale=C", "-N"],
        "initdb",
    )
    # trust for 127.0.0.1 only: tests log in as other roles to check privileges.
    hba = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    _write_as_cluster_user(paths.data / "pg_hba.conf", hba)


def _write_as_cluster_user(path: Path, text: str) -> None:
    path.write_text(text)
    if running_as_root():
        user = pwd.getpwnam(CLUSTER_OS_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def cluster_port(paths: ClusterPaths) -> int | None:
    """The port of the running postmaster, read from postmaster.pid, or None if not running."""
    pidfile = paths.data / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return port


def cron_options(bindir: Path, database: str | None, sockets: Path) -> str:
    """Server options that preload pg_cron for `database`, as Aurora's DB cluster parameter group
    would (shared_preload_libraries, cron.database_name), when the server has pg_cron installed.
    Jobs connect through the Unix socket, which pg_hba trusts."""
    if database is None or not (bindir.parent / "lib" / "pg_cron.so").exists():
        return ""
    return (f" -c shared_preload_libraries=pg_cron -c cron.database_name={database}"
            f" -c cron.host={sockets}")


def start_cluster(state_dir: Path, cron_database: str | None = None,
                  preferred_port: int | None = None) -> int:
    """Start (initialising if needed) the throwaway cluster; return its TCP port. With
    `cron_database`, pg_cron is preloaded for that database (if installed). `preferred_port` (the
    port of the last start) is reused when nothing listens on it, so a DSN a user saved still
    works after `down`/`up`."""
    bindir = find_bindir()
    paths = cluster_paths(state_dir)
    init_cluster(paths, bindir)
    running = cluster_port(paths)
    if running is not None:
        return running
    if preferred_port is not None and not is_listening(preferred_port):
        port = preferred_port
    else:
        port = free_port()
    options = (
        f"-p {port} -k {paths.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        + cron_options(bindir, cron_database, paths.sockets)
    )
    _run(
        [str(bindir / "pg_ctl"), "-D", str(paths.data), "-l", str(paths.log), "-o", options,
         "-w", "-t", "60", "start"],
        "pg_ctl start",
    )
    return port


def stop_cluster(state_dir: Path, remove: bool = False) -> int | None:
    """Stop the cluster if it runs; return the port it listened on (None if it was not running)."""
    paths = cluster_paths(state_dir)
    port = cluster_port(paths)
    if port is not None:
        bindir = find_bindir()
        _run(
            [str(bindir / "pg_ctl"), "-D", str(paths.data), "-m", "fast", "-w", "-t", "60",
             "stop"],
            "pg_ctl stop",
        )
    if remove and paths.root.exists():
        shutil.rmtree(paths.root)
    return port


def cluster_dsn(port: int, dbname: str = "postgres", user: str = SUPERUSER) -> str:
    return f"postgresql://{user}@127.0.0.1:{port}/{dbname}"


def _docker_client() -> Any:
    try:
        import docker  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - docker comes with testcontainers (dev deps)
        raise PostgresUnavailable(f"S3VL_POSTGRES=docker needs testcontainers: {exc}") from exc
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise PostgresUnavailable(
            "S3VL_POSTGRES=docker but Docker is not reachable "
            f"({type(exc).__name__}: {exc}); start Docker, or unset S3VL_POSTGRES to use a local "
            "cluster, or set S3VL_DSN"
        ) from exc
    return client


def preflight(env: dict[str, str] | None = None) -> Backend:
    """Fail early, before anything is started, if the selected PostgreSQL cannot be provided."""
    backend = select_backend(env)
    if backend == "docker":
        _docker_client()
    elif backend == "cluster":
        find_bindir()
    return backend


def start_docker(state_dir: Path) -> str:
    """Start a PostgreSQL container with plpython3u; return its DSN. Needs a running Docker."""
    _docker_client()
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found,unused-ignore]

    container = PostgresContainer(DOCKER_IMAGE, username=SUPERUSER, password=DUMMY_CREDENTIAL,
                                  dbname="postgres")
    container.start()
    # The official image lacks plpython3u; install the distribution package inside it.
    major = DOCKER_IMAGE.split(":")[-1].split(".")[0]
    container.exec(["sh", "-c", "apt-get update -qq && apt-get install -y -qq "
                    f"postgresql-plpython3-{major} >/dev/null"])
    (state_dir / "docker-container-id").write_text(container.get_wrapped_container().id)
    host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
    return f"postgresql://{SUPERUSER}:{DUMMY_CREDENTIAL}@{host}:{port}/postgres"


def stop_docker(state_dir: Path) -> bool:
    """Remove the stack's container; True if there was one to remove."""
    idfile = state_dir / "docker-container-id"
    if not idfile.exists():
        return False
    import docker

    try:
        docker.from_env().containers.get(idfile.read_text().strip()).remove(force=True)
        return True
    except docker.errors.NotFound:
        return False  # already gone
    finally:
        idfile.unlink()


def is_ready(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def wait_ready(dsn: str, timeout_s: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
