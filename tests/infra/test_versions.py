"""One supported minimum: the PostgreSQL major version install checks
(sql/10_core/00_requirements.sql) is the Aurora PostgreSQL version the deploy scripts check and
the version the docs state."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def requirements_sql() -> Path:
    found = sorted(ROOT.glob("sql/**/00_requirements.sql"))
    assert len(found) == 1, found
    return found[0]


def sql_minimum() -> int:
    match = re.search(r"minimum constant integer := (\d+);", requirements_sql().read_text())
    assert match, "sql/10_core/00_requirements.sql: no `minimum constant integer := N;`"
    return int(match.group(1))


def test_install_runs_the_check_first() -> None:
    install = (ROOT / "sql" / "install.sql").read_text()
    parts = re.findall(r"^\\ir (\S+\.sql)$", install, flags=re.M)
    assert parts and parts[0].endswith("00_requirements.sql"), parts


def test_deploy_scripts_check_the_same_minimum() -> None:
    steps = (ROOT / "scripts" / "lib" / "steps.sh").read_text()
    match = re.search(r'^readonly MIN_AURORA_PG_VERSION="([0-9.]+)"', steps, flags=re.M)
    assert match and match.group(1) == str(sql_minimum()), match


def test_docs_state_the_same_minimum() -> None:
    minimum = sql_minimum()
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    reference = (ROOT / "docs" / "sql-reference.md").read_text()
    assert f"Aurora PostgreSQL** cluster, version {minimum} or later" in deploy
    assert f"Aurora PostgreSQL ≥ {minimum}," in deploy
    assert f"PostgreSQL {minimum} or newer, Aurora PostgreSQL {minimum} or newer" in reference
    # No other minimum anywhere in the user docs (an older "11.9 or later" crept in once); a line
    # about pg_tle states that install path's own minimum (pg_tle needs a newer Aurora).
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pattern = re.compile(r"PostgreSQL[^.\n]{0,25}?(?:≥ ?|version )(\d+(?:\.\d+)?) or later"
                         r"|PostgreSQL (\d+(?:\.\d+)?) or (?:later|newer)"
                         r"|PostgreSQL ≥ ?(\d+(?:\.\d+)?)")
    for doc in docs:
        for line in doc.read_text().splitlines():
            if "pg_tle" in line:
                continue
            for found in pattern.findall(line):
                version = next(v for v in found if v)
                assert version == str(minimum), (doc.name, line)
