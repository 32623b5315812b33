"""Regenerate the module table of docs/architecture.md from each module's docstring (its first paragraph).

    python scripts/gen_architecture.py           # rewrite the table in place
    python scripts/gen_architecture.py --check   # exit 1 and print a diff when the table is stale

Every module under arena_app/, leaderboard/ and workers/ except ``__init__.py`` gets one row, sorted by
path; a module without a docstring is an error (exit 2). tests/test_architecture_doc.py runs the check.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("arena_app", "leaderboard", "workers")
HEADER = "| module | role |\n| --- | --- |\n"


def first_paragraph(path: Path) -> str | None:
    """The docstring's first paragraph on one line, or None when the module has no docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc:
        return None
    paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def modules(root: Path = ROOT) -> list[Path]:
    return sorted(
        (p for package in PACKAGES for p in (root / package).rglob("*.py") if p.name != "__init__.py"),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def table(root: Path = ROOT) -> str:
    """The table (header included), one ``| `path` | role |`` row per module."""
    rows, missing = [], []
    for path in modules(root):
        name = path.relative_to(root).as_posix()
        role = first_paragraph(path)
        if role is None:
            missing.append(name)
            continue
        rows.append(f"| `{name}` | {role.replace('|', chr(92) + '|')} |\n")
    if missing:
        raise SystemExit(f"modules without a docstring (write one first): {', '.join(missing)}")
    return HEADER + "".join(rows)


def regenerate(text: str, new_table: str) -> str:
    """``text`` with the table after the ``| module | role |`` header replaced by ``new_table``."""
    start = text.find(HEADER)
    if start < 0:
        raise SystemExit(f"{DOC}: no module table (a line '| module | role |' followed by '| --- | --- |')")
    end = start + len(HEADER)
    lines = text[end:].splitlines(keepends=True)
    while lines and lines[0].startswith("|"):
        end += len(lines.pop(0))
    return text[:start] + new_table + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 with a diff when stale")
    args = parser.parse_args(argv)
    old = DOC.read_text(encoding="utf-8")
    new = regenerate(old, table())
    if new == old:
        return 0
    if args.check:
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "docs/architecture.md",
            "docs/architecture.md (regenerated)",
        )
        sys.stdout.writelines(diff)
        print("\nthe module table is stale: run `python scripts/gen_architecture.py`", file=sys.stderr)
        return 1
    DOC.write_text(new, encoding="utf-8")
    print(f"rewrote the module table of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
