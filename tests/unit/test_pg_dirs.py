"""The cluster directory the local stack makes under /tmp when run as root: created 0700 for the
cluster user, never through a planted symlink, never by taking over someone else's directory."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from s3vl_local import pg

ME = (os.getuid(), os.getgid())


def test_a_fresh_directory_is_private_to_its_user(tmp_path: Path) -> None:
    root = tmp_path / "s3vl-fresh"
    pg._private_dir(root, *ME)
    st = os.lstat(root)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == ME[0]
    assert stat.S_IMODE(st.st_mode) == 0o700
    pg._private_dir(root, *ME)  # a second run accepts what the first made


def test_a_planted_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    os.chmod(victim, 0o755)
    root = tmp_path / "s3vl-planted"
    root.symlink_to(victim)
    with pytest.raises(pg.PostgresUnavailable, match="symlink"):
        pg._private_dir(root, *ME)
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o755
    if os.geteuid() == 0:  # the stack's own path as root: nothing created or chowned through it
        with pytest.raises(pg.PostgresUnavailable, match="symlink"):
            pg._prepare_dirs(pg.ClusterPaths(root=root, data=root / "data",
                                             sockets=root / "run", log=root / "pg.log"))
        assert os.stat(victim).st_uid == 0 and not (victim / "run").exists()


def test_a_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "s3vl-open"
    root.mkdir()
    os.chmod(root, 0o777)
    with pytest.raises(pg.PostgresUnavailable, match="group or others"):
        pg._private_dir(root, *ME)
    assert stat.S_IMODE(os.lstat(root).st_mode) == 0o777


def test_a_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "s3vl-squatted"
    root.mkdir(mode=0o700)
    other = pwd.getpwnam("nobody")
    if os.geteuid() == 0:
        os.chown(root, other.pw_uid, other.pw_gid)
        owner = other.pw_uid
        expect_uid, expect_gid = ME
    else:  # as a normal user: ask for a directory owned by someone else than its owner
        owner = ME[0]
        expect_uid, expect_gid = other.pw_uid, other.pw_gid
    with pytest.raises(pg.PostgresUnavailable, match="owned by"):
        pg._private_dir(root, expect_uid, expect_gid)
    assert os.lstat(root).st_uid == owner
