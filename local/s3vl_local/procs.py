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
        if done != 0:
            return False
    except ChildProcessError:
        pass
    # An exited process whose parent (often init) has not reaped it yet is not running.
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


# Every process the stack starts runs `python -m s3vl_local.<module>` or the emulator package
# (`python -m s3vectors_emulator`); a pid from a stale pid file (after a reboot, say) that now
# belongs to another program is never signalled.
OWN_MARKERS = (b"s3vl_local.", b"-m\x00s3vectors_emulator\x00")


def is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(marker in cmdline for marker in OWN_MARKERS)


def running_pid(pidfile: Path) -> int | None:
    pid = read_pid(pidfile)
    return pid if pid is not None and pid_alive(pid) and is_ours(pid) else None


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
    return bool(stop_pidfiles([pidfile], grace_s))


def stop_pidfiles(pidfiles: list[Path], grace_s: float = 5.0) -> list[Path]:
    """Stop several at once (all get SIGTERM first); returns the pidfiles whose process ran."""
    running = {f: pid for f in pidfiles if (pid := running_pid(f)) is not None}
    for pid in running.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(pid_alive(p) for p in running.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in running.values():
        if pid_alive(pid):
            _signal_group(pid, signal.SIGKILL)
    while any(pid_alive(p) for p in running.values()) and time.monotonic() < deadline + 2:
        time.sleep(0.05)
    for f in pidfiles:
        f.unlink(missing_ok=True)
    return list(running)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The process was started with start_new_session, so its pid is its process group id.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)
