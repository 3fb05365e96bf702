"""README's layout map matches the tree, so a reader can trust it to find a room.

Every package under ``app/`` must be named in the map, and every path the map
names must exist (a ``*`` pattern must match at least one file).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PATH = re.compile(r"(?<![\w/])((?:app|tests|bench|docs|notebooks|scripts|vaults)/[\w./*{}-]*)")


def _map() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout") :]
    return section[section.index("```") : section.rindex("```")]


def _named(block: str) -> set[str]:
    """Paths in the map, with an indented line's file joined to the package above it."""
    names: set[str] = set()
    parent = ""
    for line in block.splitlines():
        column = re.split(r"\s{2,}", line.strip())[0]
        if line.startswith("  ") and not line.startswith("   " * 4) and parent:
            names |= {parent + part.strip() for part in column.split(",") if part.strip()}
            continue
        found = _PATH.findall(line)
        names |= {p.rstrip(",") for p in found}
        if found and found[0].endswith("/"):
            parent = found[0]
    return names


def test_every_named_path_exists() -> None:
    missing = [p for p in sorted(_named(_map())) if not list(ROOT.glob(p))]
    assert not missing, f"README layout names paths that do not exist: {missing}"


def test_every_package_is_in_the_map() -> None:
    named = _named(_map())
    packages = {f"{p.parent.relative_to(ROOT)}/" for p in (ROOT / "app").rglob("__init__.py")}
    packages.discard("app/")
    absent = sorted(packages - named)
    assert not absent, f"README layout lacks these packages: {absent}"


def test_every_top_level_module_is_in_the_map() -> None:
    named = _named(_map())
    modules = {f"app/{p.name}" for p in (ROOT / "app").glob("*.py") if p.name != "__init__.py"}
    covered = {m for m in modules if any(Path(m).match(n) for n in named)}
    assert covered == modules, f"README layout lacks: {sorted(modules - covered)}"
