"""scripts/package-lambda.sh: the zip is byte-for-byte reproducible and built only from
hash-pinned wheels."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import zipfile
from pathlib import Path

from infra.conftest import REPO_ROOT, SCRIPTS

LOCK = SCRIPTS / "lambda-requirements.lock"
REQUIREMENTS = REPO_ROOT / "lambda" / "requirements.txt"


def build(output: Path, tmp: Path) -> bytes:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    result = subprocess.run(["bash", str(SCRIPTS / "package-lambda.sh"), "--output", str(output)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return output.read_bytes()


def test_the_zip_is_the_same_twice_from_clean(tmp_path: Path) -> None:
    first = build(tmp_path / "a" / "s3vl-lambda.zip", tmp_path / "tmp-a")
    # The package's sources get new timestamps: they must not matter.
    for source in (REPO_ROOT / "lambda" / "s3vl_lambda").rglob("*.py"):
        os.utime(source)
    second = build(tmp_path / "b" / "s3vl-lambda.zip", tmp_path / "tmp-b")
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    with zipfile.ZipFile(tmp_path / "a" / "s3vl-lambda.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "s3vl_lambda/handler.py" in names
    assert any(re.fullmatch(r"botocore/data/s3vectors/[^/]+/service-2\.json(\.gz)?", n)
               for n in names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} <= {0o100644, 0o100755}
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_lock_pins_the_requirements_with_hashes() -> None:
    lock = LOCK.read_text()
    assert pins(lock) == pins(REQUIREMENTS.read_text())
    # Every requirement carries at least one sha256 (pip --require-hashes refuses it otherwise).
    for block in re.split(r"\n(?=[A-Za-z])", lock.split("\n\n", 1)[1].strip()):
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block
    script = (SCRIPTS / "package-lambda.sh").read_text()
    assert "--require-hashes" in script and "-r scripts/lambda-requirements.lock" in script
