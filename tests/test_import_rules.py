"""The import rules between layers (docs/architecture.md), checked on the source tree's AST.

Dependencies point one way: ui and cli -> services -> storage, providers, leaderboard. Every ``import``
counts, at module level or inside a function, under ``TYPE_CHECKING`` or not (a type is a dependency
too), except where a rule names a lazy import as allowed. Standard library and third-party packages are
allowed unless a rule forbids them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("arena_app", "leaderboard", "workers")


@dataclass(frozen=True)
class Import:
    source: str  # file, relative to the repository root
    line: int
    module: str  # the imported module, absolute
    lazy: bool  # inside a function (imported when called, not when the module loads)

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.module}{' (lazily)' if self.lazy else ''}"


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, root: Path) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path, root: Path = ROOT) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    source = str(path.relative_to(root))
    lazy_lines = {
        node.lineno
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(func)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    found: list[Import] = []
    for node in ast.walk(tree):
        lazy = getattr(node, "lineno", 0) in lazy_lines
        if isinstance(node, ast.Import):
            found += [Import(source, node.lineno, alias.name, lazy) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                # ``from arena_app import storage`` imports the module arena_app.storage
                submodule = f"{base}.{alias.name}"
                in_ours = base.split(".")[0] in OURS and _is_module(submodule, root)
                found.append(Import(source, node.lineno, submodule if in_ours else base, lazy))
    return list(dict.fromkeys(found))  # one entry per module and line


def imports_of(package: str, root: Path = ROOT) -> list[Import]:
    """Every import in the package (or module) ``package`` (dotted, e.g. ``arena_app.ui``)."""
    base = root.joinpath(*package.split("."))
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    assert files, f"no source files for {package}"
    return [imp for f in files for imp in _imports(f, root)]


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def ours(module: str) -> bool:
    return within(module, *OURS)


def violations(
    package: str, allowed: list[str], lazily_allowed: tuple[str, ...] = (), root: Path = ROOT
) -> list[str]:
    """Imports of our own modules from ``package`` that are not within ``allowed`` (nor, for imports
    inside functions, within ``lazily_allowed``). The bare ``arena_app`` package (``__version__``) is
    allowed everywhere."""
    return [
        str(imp)
        for imp in imports_of(package, root)
        if ours(imp.module)
        and imp.module != "arena_app"
        and not within(imp.module, *allowed)
        and not (imp.lazy and within(imp.module, *lazily_allowed))
    ]


# --------------------------------------------------------------------------- the rules


def test_ui_imports_only_services_settings_domain_and_itself() -> None:
    allowed = ["arena_app.services", "arena_app.settings", "arena_app.domain", "arena_app.ui"]
    assert violations("arena_app.ui", allowed) == []


def test_cli_imports_only_services_settings_domain_and_itself() -> None:
    allowed = ["arena_app.services", "arena_app.settings", "arena_app.domain", "arena_app.cli"]
    # `arena worker` starts the worker and `arena serve` the web app: both only when that command runs
    assert violations("arena_app.cli", allowed, lazily_allowed=("workers", "arena_app.ui.app")) == []


def test_cli_imports_workers_only_lazily() -> None:
    eager = [str(i) for i in imports_of("arena_app.cli") if within(i.module, "workers") and not i.lazy]
    assert eager == []


def test_storage_does_not_import_leaderboard() -> None:
    assert [str(i) for i in imports_of("arena_app.storage") if within(i.module, "leaderboard")] == []


def test_storage_imports_neither_services_nor_providers_nor_the_layers_above() -> None:
    above = ("arena_app.services", "arena_app.providers", "arena_app.ui", "arena_app.cli", "workers")
    assert [str(i) for i in imports_of("arena_app.storage") if within(i.module, *above)] == []


#: Libraries that do I/O (databases, network, web, files): none of them in the rating math.
IO_LIBRARIES = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg2",
    "sqlite3",
    "gradio",
    "gradio_client",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "requests",
    "urllib",
    "http",
    "socket",
    "openai",
    "anthropic",
    "io",
    "os",
    "pathlib",
    "shutil",
    "tempfile",
    "csv",
    "pickle",
    "subprocess",
)


def test_leaderboard_imports_no_arena_code_and_no_io() -> None:
    found = imports_of("leaderboard")
    arena = [
        str(i) for i in found if within(i.module, "arena_app", "workers") and i.module != "arena_app.domain"
    ]
    io = [str(i) for i in found if within(i.module, *IO_LIBRARIES)]
    assert arena == [] and io == []


def test_workers_import_nothing_from_the_arena() -> None:
    assert [str(i) for i in imports_of("workers") if within(i.module, "arena_app")] == []


def test_providers_import_neither_services_nor_storage_nor_ui() -> None:
    above = ("arena_app.services", "arena_app.storage", "arena_app.ui", "arena_app.cli")
    assert [str(i) for i in imports_of("arena_app.providers") if within(i.module, *above)] == []


def test_services_import_neither_ui_nor_cli() -> None:
    above = ("arena_app.ui", "arena_app.cli")
    assert [str(i) for i in imports_of("arena_app.services") if within(i.module, *above)] == []


def test_domain_is_a_leaf() -> None:
    assert [str(i) for i in imports_of("arena_app.domain") if ours(i.module)] == []


# --------------------------------------------------------------------------- the checker itself


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Relative, lazy, TYPE_CHECKING and ``from package import module`` imports are all resolved."""
    for module in ("arena_app/__init__", "arena_app/storage/__init__", "arena_app/storage/errors"):
        (tmp_path / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{module}.py").write_text("")
    (tmp_path / "arena_app/providers").mkdir()
    (tmp_path / "arena_app/providers/registry.py").write_text("")
    (tmp_path / "arena_app/ui").mkdir()
    (tmp_path / "arena_app/ui/probe.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from arena_app import __version__, storage\n"
        "from ..providers import registry\n"
        "from . import sibling_name\n"
        "if TYPE_CHECKING:\n"
        "    import leaderboard.compute\n"
        "def f():\n"
        "    from arena_app.storage.errors import StorageError\n"
    )
    found = {(i.module, i.lazy) for i in imports_of("arena_app.ui", tmp_path)}
    assert found == {
        ("typing", False),
        ("arena_app", False),  # __version__: a name, not a module
        ("arena_app.storage", False),
        ("arena_app.providers.registry", False),
        ("arena_app.ui", False),
        ("leaderboard.compute", False),
        ("arena_app.storage.errors", True),
    }
    allowed = ["arena_app.services", "arena_app.settings", "arena_app.domain", "arena_app.ui"]
    assert len(violations("arena_app.ui", allowed, root=tmp_path)) == 4
    assert violations("arena_app.ui", allowed, ("arena_app.storage",), tmp_path) == [
        "arena_app/ui/probe.py:2 imports arena_app.storage",
        "arena_app/ui/probe.py:3 imports arena_app.providers.registry",
        "arena_app/ui/probe.py:6 imports leaderboard.compute",
    ]
