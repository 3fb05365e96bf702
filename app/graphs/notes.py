"""Where a run's notes go: claiming a folder of the vault, and checking one given to us.

A run writes its notes under ``<folder>/<date>-<slug>``. Two runs must never
share a folder (one would overwrite the other's notes), so the folder is
claimed by creating it: whoever creates it owns it. Every run's notes have
the same names (``research``, ``plan``, ``implementation``), so before one is
written, an earlier run's links to its only namesake are rewritten by path
(``keep_links_resolving``). This is vault plumbing, kept out of the graph
files so that ``rpi`` and ``research`` share it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import PurePosixPath

from app.errors import InvalidInput
from app.ids import slugify
from app.spaces.stores.vault import SpaceVault

_NOTE_DIR = re.compile(r"(Projects|Research)/\d{4}-\d{2}-\d{2}-[a-z0-9-]{1,60}")


def claim_note_dir(vault: SpaceVault, folder: str, query: str, thread_id: str | None) -> str:
    """Claim ``<folder>/<date>-<slug>`` for this run by creating it.

    If another run has it (even one started a moment ago), the thread's
    prefix is added, then a random one: creating the folder is the claim, so
    two runs never share one.
    """
    base = f"{folder}/{datetime.now(UTC).date().isoformat()}-{slugify(query)}"
    suffixes = ["", slugify((thread_id or "")[:8]), uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]]
    for suffix in suffixes:
        candidate = f"{base}-{suffix}" if suffix and suffix != "untitled" else base
        try:
            (vault.root / candidate).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise InvalidInput(f"cannot claim a note folder under {base}")


def is_run_folder(folder: str) -> bool:
    """Whether ``folder`` (or a folder inside it) is one a run claimed."""
    return bool(_NOTE_DIR.match(folder.strip("/")))


def check_note_dir(note_dir: object, related: object) -> None:
    """Refuse a note folder or links (given by ``rpi``) outside the expected shape."""
    if note_dir is None:
        return
    if not isinstance(note_dir, str) or not _NOTE_DIR.fullmatch(note_dir):
        raise InvalidInput("note_dir must look like Projects/<date>-<slug>")
    links = related or []
    if not isinstance(links, list) or not all(
        isinstance(n, str) and n.startswith(note_dir + "/") and len(n) < 200 for n in links
    ):
        raise InvalidInput("related_notes must be notes inside note_dir")


def keep_links_resolving(vault: SpaceVault, path: str) -> None:
    """Before writing run note ``path``: relink its only namesake's run folder by path.

    Links are written in the shortest unique form (``SpaceVault.link_names``):
    a run's ``[[plan]]`` is a bare name while its plan is the vault's only
    one. A second run's plan makes the name ambiguous, so the first run's
    links to its own notes become path links first. Only run folders are
    rewritten; a person's notes are theirs.
    """
    stem = PurePosixPath(path).stem
    same = [p for p in vault.note_paths() if PurePosixPath(p).stem == stem and p != path]
    if len(same) == 1 and _NOTE_DIR.fullmatch(same[0].rsplit("/", 1)[0]):
        vault.link_by_path(same[0])
