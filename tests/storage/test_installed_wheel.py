"""A non-editable install (pip install ., a wheel in a container image) can create and migrate a database:
the migrations travel in the wheel as data files (pyproject's data-files) and are found without a clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_install_migrates_without_a_checkout(tmp_path: Path) -> None:
    # Build from a copy of the sources, so the checkout gets no build/ directory (whose stale files would
    # end up in later wheels) and nothing untracked can slip into this one.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "alembic.ini"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("arena_app", "leaderboard", "workers", "migrations"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        cwd=tmp_path,
    )
    [wheel] = wheels.glob("llm_arena-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    # The new environment's own pip (this environment's pip would replace our editable install), before
    # the dependencies are linked in (so it never sees, let alone touches, this environment's packages).
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], cwd=tmp_path)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The dependencies come from this environment's site-packages, added as a plain path: its .pth files
    # (among them the editable install's finder pointing at the checkout) are not processed.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp_path / "run"  # not the checkout: nothing can be found relative to the working directory
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ARENA_DATABASE_URL")}
    where = _run(
        [
            str(python),
            "-c",
            "import arena_app.storage.migrate as m; print(m.__file__); print(m.find_alembic_ini())",
        ],
        cwd=elsewhere,
        env=env,
    ).splitlines()
    assert where[0].startswith(str(venv)) and where[1] == str(venv / "share" / "llm-arena" / "alembic.ini")
    url = f"sqlite:///{tmp_path / 'installed.db'}"
    out = _run(
        [str(python), "-m", "arena_app.cli.main", "--database-url", url, "db", "upgrade"], elsewhere, env
    )
    assert "(head)" in out
    current = _run(
        [str(python), "-m", "arena_app.cli.main", "--database-url", url, "db", "current"], elsewhere, env
    )
    from arena_app.storage.migrate import head_revision

    assert current.strip() == f"{head_revision()} (head)"  # every revision of the checkout was shipped
