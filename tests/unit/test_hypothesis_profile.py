"""tests/conftest.py runs Hypothesis derandomized in CI (CI=true: the same examples every run, so
a red build reproduces) and with fresh random examples locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[2]


def test_profiles_exist() -> None:
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("dev").derandomize is False


def test_the_loaded_profile_follows_ci() -> None:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if os.environ.get("HYPOTHESIS_PROFILE"):
        ci = os.environ["HYPOTHESIS_PROFILE"] == "ci"
    assert settings.default.derandomize is ci


def test_ci_true_loads_the_derandomized_profile() -> None:
    """tests/conftest.py loaded in a fresh interpreter, with CI=true (as the CI sets it) and
    without CI."""
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "from hypothesis import settings; print(settings.default.derandomize)")
    env = {k: v for k, v in os.environ.items() if k not in ("HYPOTHESIS_PROFILE", "CI")}
    for ci, expected in (({"CI": "true"}, "True"), ({}, "False")):
        proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests" / "conftest.py")],
                              env=dict(env, **ci), capture_output=True, text=True, timeout=60,
                              check=False, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected, (ci, proc.stdout)
