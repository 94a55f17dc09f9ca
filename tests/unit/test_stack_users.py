"""The test stack's user count: two stack fixtures of one session (local_stack and
postgres_server) each hold a token, so the first torn down does not stop the stack under the
other."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def root_conftest() -> ModuleType:
    """tests/conftest.py by its path (`import conftest` may find another folder's conftest)."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("s3vl_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stack_stops_when_the_last_fixture_of_the_session_leaves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from s3vl_local import stack

    conftest = root_conftest()
    downs: list[Path] = []
    monkeypatch.setattr(conftest, "TEST_USERS_DIR", tmp_path / "users")
    monkeypatch.setattr(conftest, "TEST_STATE_DIR", tmp_path / "state")
    monkeypatch.setattr(stack, "down", lambda state_dir, remove=False: downs.append(state_dir))
    monkeypatch.delenv("S3VL_KEEP_STACK", raising=False)
    with conftest._shared_test_stack():          # local_stack, set up first
        with conftest._shared_test_stack():      # postgres_server, set up later, torn down first
            assert len(list((tmp_path / "users").iterdir())) == 2
        assert downs == [], "the stack was stopped while local_stack still used it"
    assert downs == [tmp_path / "state"]
