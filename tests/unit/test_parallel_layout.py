"""How `make test` runs in pytest-xdist workers (tests/conftest.py): each worker has a stack of its
own, and the slowest modules are handed out first without losing or reordering any test."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def root_conftest(name: str) -> ModuleType:
    """A fresh copy of tests/conftest.py, loaded by path under the current environment."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_worker_has_its_own_state_dir_users_and_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = {}
    for worker in ("", "gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        module = root_conftest(f"s3vl_conftest_{worker or 'main'}")
        dirs[worker] = (module.TEST_STATE_DIR, module.TEST_USERS_DIR)
    assert dirs[""][0] == ROOT / ".local" / "test-stack"
    assert dirs["gw0"][0] == ROOT / ".local" / "test-stack-gw0"
    assert dirs["gw1"][1] == ROOT / ".local" / "test-stack-gw1.users"
    every_path = [p for pair in dirs.values() for p in pair]
    assert len(set(every_path)) == len(every_path)


def test_every_slow_module_exists_once() -> None:
    module = root_conftest("s3vl_conftest_slow")
    assert len(set(module.SLOW_MODULES)) == len(module.SLOW_MODULES)
    for path in module.SLOW_MODULES:
        assert (ROOT / path).is_file(), path


def test_order_puts_slow_modules_first_and_keeps_every_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = root_conftest("s3vl_conftest_order")
    slow = ("tests/b/test_slow2.py", "tests/a/test_slow1.py")
    monkeypatch.setattr(module, "SLOW_MODULES", slow)
    ids = ["tests/a/test_few.py::t1",
           "tests/a/test_slow1.py::t1", "tests/a/test_slow1.py::t2",
           "tests/a/test_many.py::t1", "tests/a/test_many.py::t2", "tests/a/test_many.py::t3",
           "tests/b/test_slow2.py::t1",
           "tests/b/test_few2.py::t1"]
    items: list[Any] = [SimpleNamespace(nodeid=i) for i in ids]
    module._xdist_order(items)
    assert [i.nodeid for i in items] == [
        "tests/b/test_slow2.py::t1",
        "tests/a/test_slow1.py::t1", "tests/a/test_slow1.py::t2",
        "tests/a/test_many.py::t1", "tests/a/test_many.py::t2", "tests/a/test_many.py::t3",
        "tests/a/test_few.py::t1",
        "tests/b/test_few2.py::t1"]
