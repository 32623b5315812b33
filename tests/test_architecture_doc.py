"""docs/architecture.md's module table is generated from the module docstrings and must not go stale."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gen_architecture.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_architecture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_module_table_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\nrun: python scripts/gen_architecture.py"


def test_a_stale_table_fails_the_check_with_a_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = _script()
    doc = tmp_path / "architecture.md"
    fresh = (ROOT / "docs" / "architecture.md").read_text()
    row = next(line for line in fresh.splitlines() if line.startswith("| `leaderboard/result.py`"))
    doc.write_text(fresh.replace(row + "\n", "").replace("Bradley-Terry maximum", "Bradley-Terry minimum"))
    monkeypatch.setattr(gen, "DOC", doc)
    assert gen.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "+" + row in out and "-| `leaderboard/bt.py` | Bradley-Terry minimum" in out
    assert doc.read_text() != fresh  # --check writes nothing
    assert gen.main([]) == 0 and doc.read_text() == fresh  # regenerating restores the table


def test_rows_are_the_first_docstring_paragraph_with_pipes_escaped(tmp_path: Path) -> None:
    gen = _script()
    for package in gen.PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "arena_app" / "__init__.py").write_text('"""Not listed."""\n')
    (tmp_path / "arena_app" / "b.py").write_text('"""``arena x | y``: one\nline.\n\nNot this."""\n')
    (tmp_path / "leaderboard" / "a.py").write_text('"""First."""\n')
    assert gen.table(tmp_path) == gen.HEADER + (
        "| `arena_app/b.py` | ``arena x \\| y``: one line. |\n| `leaderboard/a.py` | First. |\n"
    )
    (tmp_path / "workers" / "bare.py").write_text("x = 1\n")
    with pytest.raises(SystemExit, match="without a docstring .*workers/bare.py"):
        gen.table(tmp_path)
