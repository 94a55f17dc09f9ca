"""The ```sql blocks of README.md and docs/*.md, and the mark that exempts one from running.

A block runs against the demo stack unless the paragraph just before its fence starts with
AWS_ONLY_MARK (written in the text, e.g. `*AWS only* (needs Aurora's aws_lambda extension):`),
so a reader sees why it is not something to paste into the local stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_ONLY_MARK = "*AWS only*"
FENCE = re.compile(r"^```sql[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


@dataclass(frozen=True)
class SqlBlock:
    path: Path
    line: int  # of the opening fence, 1-based
    text: str
    aws_only: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def sql_blocks(path: Path) -> list[SqlBlock]:
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        paragraphs = [p for p in re.split(r"\n[ \t]*\n", text[:match.start()]) if p.strip()]
        aws_only = bool(paragraphs) and paragraphs[-1].lstrip().startswith(AWS_ONLY_MARK)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(SqlBlock(path, line, match.group(1), aws_only))
    return blocks


def doc_files() -> list[Path]:
    """The user documentation: README.md and docs/*.md."""
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def runnable_script(path: Path) -> str:
    """The file's runnable blocks in order, in one transaction that is rolled back (what they
    change in PostgreSQL leaves no trace; what they send to the emulator they undo themselves)."""
    body = "\n".join(b.text for b in sql_blocks(path) if not b.aws_only)
    return "BEGIN;\n" + body + "\nROLLBACK;\n"
