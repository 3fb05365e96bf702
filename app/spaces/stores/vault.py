"""Space vault: a plain folder of Markdown that Obsidian opens as a vault.

Notes carry YAML frontmatter and link to each other with ``[[wikilinks]]``.
Reads go through obsidiantools, so what we read is what Obsidian's own model
of the vault sees (frontmatter, wikilinks, tags, backlinks). Every path is
resolved inside the vault root: absolute paths, ``..``, hidden folders
(``.obsidian``) and symlinks that lead outside are refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from app.errors import InvalidInput, SpaceArchived
from app.files import read_user_file
from app.text import note_safe

NOTE_MAX_BYTES = 1_000_000
READ_MAX_BYTES = 5_000_000  # notes written by people in Obsidian may be larger than ours
PATH_MAX = 240
FOLDERS = ("Projects", "Learning", "Memories")
# The tags of the notes runs write (``spaces/<phase>``): research leaves them out of
# its sources unless asked, so a run does not quote an earlier run's boilerplate.
GENERATED_TAGS = ("spaces/research", "spaces/plan", "spaces/implementation")
_RELATED = re.compile(r"\n*Related: (?:\[\[[^\]\n]+\]\] ?)+\n*\Z")


@dataclass(frozen=True)
class Note:
    """A note as read back from the vault."""

    path: str
    frontmatter: dict[str, Any]
    text: str
    wikilinks: list[str]
    tags: list[str]


def provision_vault(root: Path) -> list[Path]:
    """Create the vault skeleton; return what was created (to undo a failed creation).

    An existing folder is adopted as is: only what is missing is added.
    """
    created: list[Path] = []

    def mkdir(path: Path) -> None:
        if not path.exists():
            path.mkdir()
            created.append(path)

    root.parent.mkdir(parents=True, exist_ok=True)
    mkdir(root)
    for folder in (*FOLDERS, ".obsidian"):
        mkdir(root / folder)
    app_json = root / ".obsidian" / "app.json"
    if not app_json.exists():
        app_json.write_text(json.dumps({"alwaysUpdateLinks": True}, indent=2) + "\n")
        created.append(app_json)
    return created


def undo_provision(created: list[Path]) -> None:
    """Remove what ``provision_vault`` created, newest first, leaving anything else."""
    for path in reversed(created):
        if path.is_dir():
            # Not empty means something else was put there: keep it.
            with contextlib.suppress(OSError):
                path.rmdir()
        else:
            path.unlink(missing_ok=True)


def _related_line(links: list[str] | tuple[str, ...]) -> str:
    for link in links:
        if not isinstance(link, str) or not link or any(c in link for c in "[]|\n"):
            raise InvalidInput(f"invalid wikilink target {link!r}")
    return "Related: " + " ".join(f"[[{note_safe(link)}]]" for link in links) + "\n"


def _clean(value: Any) -> Any:
    """Frontmatter with control characters removed from every string in it."""
    if isinstance(value, str):
        return note_safe(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def walk_notes(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """``(vault-relative path, entry)`` of every note under ``root``, in no order.

    Hidden folders, hidden files and symlinks are skipped, so a link out of
    the vault is never followed; the vault's index walks the same way.
    """
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name.startswith(".") or entry.is_symlink():
                    continue
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".md") and entry.is_file():
                    yield Path(entry.path).relative_to(root).as_posix(), entry


class SpaceVault:
    """Write and read the notes of one space's vault."""

    def __init__(self, root: Path, space_id: str, *, writable: bool):
        self.root = root
        self.space_id = space_id
        self.writable = writable
        self.index: Any = None  # the space's VaultIndex, set by SpaceManager.open_space

    def resolve(self, rel_path: str, suffixes: tuple[str, ...] = (".md",)) -> Path:
        """The absolute path of a note (or a file with one of ``suffixes``) inside the vault.

        Errors name what was asked for: a "note path", or a "file path" for
        other suffixes (data files), so a bad CSV name is not called a note.
        """
        what = "note path" if suffixes == (".md",) else "file path"
        if not isinstance(rel_path, str) or not rel_path or len(rel_path) > PATH_MAX:
            raise InvalidInput(f"{what} must be 1 to {PATH_MAX} characters")
        if "\x00" in rel_path or "\\" in rel_path:
            raise InvalidInput(f"{what} {rel_path!r} contains a forbidden character")
        pure = PurePosixPath(rel_path)
        if pure.is_absolute() or any(p in ("..", ".") or p.startswith(".") for p in pure.parts):
            raise InvalidInput(f"{what} {rel_path!r} must stay inside the vault")
        if pure.suffix.lower() not in suffixes:
            raise InvalidInput(f"path {rel_path!r} must end in {' or '.join(suffixes)}")
        root = self.root.resolve()
        target = (root / pure).resolve()
        if not target.is_relative_to(root):
            raise InvalidInput(f"{what} {rel_path!r} leads outside the vault")
        return target

    def write_note(
        self,
        rel_path: str,
        body: str,
        frontmatter: dict[str, Any] | None = None,
        links: list[str] | tuple[str, ...] = (),
    ) -> str:
        """Write (or replace) a note atomically; return its vault-relative path.

        ``links`` are note names appended as a "Related" line of wikilinks.
        Control characters (an ESC sequence in a query, say) are removed from
        the body, the frontmatter and the links; newlines and tabs stay.
        """
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its vault is read-only")
        target = self.resolve(rel_path)
        related = _related_line(links) if links else ""  # checked before anything is written
        parts = []
        if frontmatter:
            clean = _clean(frontmatter)
            parts.append("---\n" + yaml.safe_dump(clean, sort_keys=False) + "---\n\n")
        parts.append(note_safe(body).rstrip("\n") + "\n")
        if related:
            parts.append("\n" + related)
        return self._write(target, "".join(parts))

    def set_related(self, rel_path: str, links: list[str] | tuple[str, ...]) -> str:
        """Replace the "Related" line of a note we wrote (or add one), keeping the rest.

        Runs add it once the linked notes exist, so a run that stops early
        leaves no link to a note that was never written.
        """
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its vault is read-only")
        target = self.resolve(rel_path)
        text = read_user_file(target, limit=NOTE_MAX_BYTES, what="note").data.decode("utf-8")
        body = _RELATED.sub("", text).rstrip("\n") + "\n"
        return self._write(target, body + ("\n" + _related_line(links) if links else ""))

    def link_names(self, paths: list[str], also: Iterable[str] = ()) -> list[str]:
        """The wikilink of each note path, in Obsidian's "shortest path when possible" form.

        A note whose name (file name without ``.md``) is unique in the vault
        is linked by that name alone, as Obsidian writes it and as
        obsidiantools resolves it; otherwise by its path without ``.md``.
        ``also`` are notes about to be written, counted as if they existed.
        """
        stems: dict[str, set[str]] = {}
        for path in [*self.note_paths(), *also, *paths]:
            stems.setdefault(PurePosixPath(path).stem, set()).add(path)
        return [
            PurePosixPath(p).stem
            if len(stems[PurePosixPath(p).stem]) == 1
            else p.removesuffix(".md")
            for p in paths
        ]

    def link_by_path(self, rel_path: str) -> list[str]:
        """Turn links to ``rel_path`` by its bare name, in the notes of its folder, into path links.

        Called before a second note of the same name is written: the bare
        name stops being unique then, and the links written while it was
        would no longer resolve. Returns the notes changed.
        """
        stem = PurePosixPath(rel_path).stem
        folder = rel_path.rsplit("/", 1)[0] + "/" if "/" in rel_path else ""
        bare = re.compile(rf"\[\[{re.escape(stem)}(?=[\]|#])")
        changed: list[str] = []
        for path in self.note_paths():
            if not path.startswith(folder) or "/" in path[len(folder) :]:
                continue
            target = self.resolve(path)
            text = read_user_file(target, limit=NOTE_MAX_BYTES, what="note").data.decode("utf-8")
            relinked = bare.sub(f"[[{rel_path.removesuffix('.md')}", text)
            if relinked != text:
                changed.append(self._write(target, relinked))
        return changed

    def _write(self, target: Path, text: str) -> str:
        """Write ``text`` to ``target`` atomically (within the size limit); its vault path."""
        data = text.encode("utf-8")
        if len(data) > NOTE_MAX_BYTES:
            raise InvalidInput(f"note is too large: {len(data)} bytes, at most {NOTE_MAX_BYTES}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".md")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target.relative_to(self.root.resolve()).as_posix()

    def read_note(self, rel_path: str) -> Note:
        """Read one note through obsidiantools."""
        from obsidiantools import md_utils

        target = self.resolve(rel_path)
        if not target.is_file():
            raise InvalidInput(f"no note {rel_path!r} in space {self.space_id!r}")
        # Bounded, and regular files only (a note swapped for a FIFO is refused, not waited on).
        data = read_user_file(target, limit=READ_MAX_BYTES, what="note").data
        try:
            # obsidiantools fails obscurely on bytes that are not UTF-8; refuse them clearly.
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"note {rel_path!r} is not UTF-8 text") from None
        return Note(
            path=target.relative_to(self.root.resolve()).as_posix(),
            frontmatter=md_utils.get_front_matter(target),
            text=md_utils.get_source_text_from_md_file(target),
            wikilinks=md_utils.get_wikilinks(target),
            tags=md_utils.get_tags(target),
        )

    def list_notes(self) -> list[str]:
        """Vault-relative paths of every note, sorted (hidden folders excluded)."""
        from obsidiantools import md_utils

        return sorted(
            p.as_posix()
            for p in md_utils.get_md_relpaths_from_dir(self.root)
            if not any(part.startswith(".") for part in p.parts)
        )

    def note_paths(self) -> list[str]:
        """``list_notes`` by a plain directory walk: about 30x faster, for link names.

        Runs name their links several times per run; obsidiantools' listing
        took 24 ms on 200 notes here, this one under 1 ms (``walk_notes``).
        """
        return sorted(rel for rel, _entry in walk_notes(self.root.resolve()))

    def list_files(self, suffixes: tuple[str, ...], limit: int = 1_000) -> list[str]:
        """Vault-relative paths of files with ``suffixes`` (hidden folders and symlinks skipped)."""
        root = self.root.resolve()
        found: list[str] = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or path.is_symlink():
                continue
            if path.is_file() and path.suffix.lower() in suffixes:
                found.append(rel.as_posix())
                if len(found) == limit:
                    break
        return found

    def backlinks(self, note_name: str) -> list[str]:
        """Names of the notes that link to ``note_name``, as Obsidian's graph shows."""
        import obsidiantools.api as otools

        vault = otools.Vault(self.root).connect()
        if note_name not in vault.md_file_index:
            return []
        return sorted(set(vault.get_backlinks(note_name)))
