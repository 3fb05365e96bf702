"""Wikilinks of a vault, and which notes link to which (backlinks), cached per vault.

Why not obsidiantools' ``Vault.connect()`` per page: it parses every note of
the vault, which costs seconds at 1,000 notes. This index reads each note's
``[[links]]`` once and keeps them until a file's size or mtime changes, so a
note page stays well under the 100 ms the seeds ask of UI actions.
A note edited outside the console shows in the links within ``FRESH_S``
seconds: the vault is re-checked (one ``stat`` per note) at most that often.
Names resolve as Obsidian does: the shortest unique form (the file's stem),
or the vault-relative path without ``.md``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WIKILINK = re.compile(r"!?\[\[([^\[\]|#\n]+)(?:#[^\[\]|\n]*)?(?:\|([^\[\]\n]+))?\]\]")
NOTE_READ_MAX = 1_000_000
FRESH_S = 2.0


@dataclass
class VaultLinks:
    """Every note's path, the links out of each, and the notes linking into each."""

    paths: list[str] = field(default_factory=list)
    by_name: dict[str, str] = field(default_factory=dict)  # stem or path (no .md) -> path
    backlinks: dict[str, list[str]] = field(default_factory=dict)  # path -> paths linking in

    def resolve(self, target: str) -> str | None:
        """The note a wikilink target names, or ``None``."""
        key = target.strip().removesuffix(".md")
        return self.by_name.get(key) or self.by_name.get(key.lower())


_cache: dict[Path, tuple[tuple, VaultLinks, float]] = {}
_lock = threading.Lock()


def _walk(root: Path) -> list[tuple[str, int, int]]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.endswith(".md") and not name.startswith("."):
                full = os.path.join(folder, name)
                try:
                    st = os.stat(full, follow_symlinks=False)
                except OSError:
                    continue
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                found.append((rel, st.st_mtime_ns, st.st_size))
    return sorted(found)


def vault_links(root: Path) -> VaultLinks:
    """The link index of the vault at ``root`` (rebuilt only when a note changed)."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(root)
        if cached and now - cached[2] < FRESH_S:
            return cached[1]
    signature = tuple(_walk(root)) if root.is_dir() else ()
    if cached and cached[0] == signature:
        index = cached[1]
    else:
        index = _build(root, [p for p, _, _ in signature])
    with _lock:
        _cache[root] = (signature, index, now)
    return index


def _build(root: Path, paths: list[str]) -> VaultLinks:
    index = VaultLinks(paths=paths)
    stems: dict[str, list[str]] = {}
    for path in paths:
        stems.setdefault(Path(path).stem, []).append(path)
        index.by_name[path[:-3]] = path
    for stem, holders in stems.items():
        if len(holders) == 1:
            index.by_name.setdefault(stem, holders[0])
            index.by_name.setdefault(stem.lower(), holders[0])
    incoming: dict[str, set[str]] = {}
    for path in paths:
        try:
            with open(root / path, encoding="utf-8", errors="replace") as f:
                text = f.read(NOTE_READ_MAX)
        except OSError:
            continue
        for match in WIKILINK.finditer(text):
            target = index.resolve(match.group(1))
            if target and target != path:
                incoming.setdefault(target, set()).add(path)
    index.backlinks = {k: sorted(v) for k, v in incoming.items()}
    return index
