"""The Python snippets of the docs run as written (fresh interpreter namespace, nothing imported
for them), and each line whose comment starts with a result (`# [("v2", 0.2876...)]`) gives it."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "text-search-engine.md"]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)
RESULT = re.compile(r"#\s*(\[.*?\])(?::|$)")


def close(got: Any, want: Any) -> bool:
    """Equal, with floats written with a trailing `...` (truncated) compared to that precision."""
    if isinstance(want, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(want)
                and all(close(g, w) for g, w in zip(got, want, strict=True)))
    if isinstance(want, float):
        return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-3)
    return bool(got == want)


def run_snippet(code: str) -> int:
    """Runs code statement by statement; returns how many documented results it checked."""
    lines = code.splitlines()
    namespace: dict[str, Any] = {"__name__": "snippet"}
    checked = 0
    for node in ast.parse(code).body:
        source = ast.get_source_segment(code, node) or ""
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), "<doc>", "eval"), namespace)
            comment = RESULT.search(lines[(node.end_lineno or node.lineno) - 1])
            if comment:
                want = eval(comment.group(1).replace("...", ""), {})  # e.g. 1/62 + 1/61
                assert close(value, want), f"{source}: got {value!r}, the doc says {want!r}"
                checked += 1
        else:
            exec(compile(ast.Module([node], []), "<doc>", "exec"), namespace)
    return checked


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_python_snippets_run_and_give_the_documented_results(doc: Path) -> None:
    snippets = FENCE.findall(doc.read_text())
    assert snippets, f"{doc.name} has no ```python block"
    checked = sum(run_snippet(code) for code in snippets)
    assert checked >= 2, "no documented result was checked"


def test_a_snippet_without_its_import_fails() -> None:
    with pytest.raises(NameError):
        run_snippet("ids = DocIds()\n")
    with pytest.raises(AssertionError, match="the doc says"):
        run_snippet("sum([1, 2])  # [4]\n")
