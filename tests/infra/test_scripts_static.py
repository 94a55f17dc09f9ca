"""Static checks of the deploy scripts and docs/deploy.md: shellcheck, strict mode, help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.conftest import REPO_ROOT, SCRIPTS

# The deploy steps (bootstrap.sh belongs to another part; package-lambda.sh is a build tool with
# its own options, checked by shellcheck and tests/infra/test_package.py, test_package_loadable.py).
OWNED = sorted(p for p in SCRIPTS.glob("*.sh") if p.name not in {"bootstrap.sh",
                                                                   "package-lambda.sh"})
LIBRARIES = sorted(SCRIPTS.glob("lib/*.sh"))
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"


def test_the_walkthrough_scripts_exist() -> None:
    names = {p.name for p in OWNED}
    assert {"deploy.sh", "gather-cluster-details.sh", "deploy-stack.sh", "associate-role.sh",
            "update-function-code.sh", "install-schema.sh", "configure.sh", "register-index.sh",
            "validate.sh", "load-sample-data.sh", "cleanup.sh"} <= names


def test_shellcheck_is_clean() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), "-x", "--severity=info",
                             *map(str, OWNED), *map(str, LIBRARIES),
                             str(SCRIPTS / "package-lambda.sh")],
                            capture_output=True, text=True, timeout=120, cwd=SCRIPTS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", OWNED, ids=[p.name for p in OWNED])
def test_script_is_strict_and_executable(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert script.stat().st_mode & 0o111
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "usage: scripts/" + script.name in result.stderr
    assert "--dry-run" in result.stderr


def test_deploy_doc_covers_both_paths_networking_and_cleanup() -> None:
    doc = DEPLOY_DOC.read_text()
    headings = [h.lower() for h in re.findall(r"^#+ (.+)$", doc, re.M)]
    for topic in ("prerequisites", "one command", "step by step", "networking", "timeout",
                  "troubleshooting", "clean"):
        assert any(topic in h for h in headings), topic
    for script in OWNED:
        assert f"scripts/{script.name}" in doc, script.name
    assert "aws_lambda.request_timeout_ms" in doc
    assert "NAT" in doc and "CreateVpcEndpoints" in doc
    assert "create-stack" in doc and "parameters.example.json" in doc
    for topic in ("least privilege", "what the tests cover", "artifact bucket", "text search"):
        assert any(topic in h for h in headings), topic
    for parameter in ("TextSearch", "AllowIndexAdministration", "verify-full",
                      "--expected-bucket-owner", "moto"):
        assert parameter in doc, parameter
