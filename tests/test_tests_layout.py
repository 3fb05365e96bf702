"""The tests mirror ``app/``, and share helpers through ``tests/support`` and fixtures only.

A test of ``app/spaces/stores`` lives in ``tests/spaces/stores/``, so finding
the tests of a module is reading the same path. Helpers that are not fixtures
live in ``tests/support``; nothing imports a ``conftest`` or a ``test_*``
module, since an imported fixture or constant ties one test file to another's
contents (and pytest would collect the fixture twice).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"


def _python_files(*folders: Path) -> list[Path]:
    found = (p for folder in folders for p in folder.rglob("*.py"))
    return sorted(p for p in found if "__pycache__" not in p.parts)


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _is_conftest_or_test(name: str) -> bool:
    return name == "conftest" or name.startswith("test_")


def test_every_test_file_sits_in_a_folder_mirroring_app() -> None:
    misplaced = []
    for path in TESTS.rglob("test_*.py"):
        folder = path.parent.relative_to(TESTS)
        mirrored = ROOT / "app" / folder
        if SUPPORT in path.parents or not (
            folder == Path() or mirrored.is_dir() or mirrored.with_suffix(".py").is_file()
        ):
            misplaced.append(str(path.relative_to(ROOT)))
    assert not misplaced, f"not under a folder mirroring app/: {sorted(misplaced)}"


def test_every_test_folder_is_a_package() -> None:
    folders = {p.parent for p in _python_files(TESTS)}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"folders without __init__.py: {missing}"


def test_nothing_imports_a_conftest_or_a_test_module() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _python_files(TESTS, ROOT / "bench")
        for module in sorted(_imported(path))
        if module.startswith("tests.") and _is_conftest_or_test(module.rsplit(".", 1)[-1])
    ]
    assert not wrong, wrong


def test_conftest_files_hold_only_fixtures_and_hooks() -> None:
    helpers = []
    for path in TESTS.rglob("conftest.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) or (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and not node.name.startswith("pytest_")
                and not any("fixture" in ast.unparse(d) for d in node.decorator_list)
            ):
                helpers.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not helpers, f"helpers belong in tests/support: {helpers}"
