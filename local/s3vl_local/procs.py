"""Background processes of the local stack: start detached, pid files, stop by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if we can.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(pidfile: Path) -> int | None:
    pid = read_pid(pidfile)
    return pid if pid is not None and pid_alive(pid) else None


def start_background(argv: list[str], pidfile: Path, logfile: Path,
                     env: dict[str, str]) -> int:
    """Start argv in its own session (so it outlives us and can be stopped as a group)."""
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def stop_pidfile(pidfile: Path, grace_s: float = 5.0) -> bool:
    """SIGTERM the process group led by the pid in pidfile, SIGKILL after grace. True if stopped."""
    pid = read_pid(pidfile)
    stopped = False
    if pid is not None and pid_alive(pid):
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while pid_alive(pid) and time.monotonic() < deadline + 2:
                time.sleep(0.05)
        stopped = True
    pidfile.unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The process was started with start_new_session, so its pid is its process group id.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)
