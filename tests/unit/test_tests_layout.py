"""tests/README.md's layout, checked: every test file name is unique across folders, and the
benchmark smoke tests live in tests/bench."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_file_names_are_unique_across_folders() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    emulator_tests = TESTS.parent / "local" / "s3vectors-emulator" / "tests"  # collected too
    for path in [*TESTS.rglob("test_*.py"), *emulator_tests.glob("test_*.py")]:
        where[path.name].append(str(path.parent.relative_to(TESTS.parent)))
    twice = {name: folders for name, folders in where.items() if len(folders) > 1}
    assert twice == {}, f"rename one of each (e.g. unit/test_lambda_<area>.py): {twice}"


def test_bench_smoke_tests_are_in_bench() -> None:
    misplaced = [str(p.relative_to(TESTS)) for p in TESTS.rglob("test_bench_*.py")
                 if p.parent.name != "bench"]
    assert misplaced == []
