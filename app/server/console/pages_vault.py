"""The vault (folders, notes rendered with wikilinks and backlinks) and recall (a search box).

Reads need ``Action.READ`` through the operations' ``check``, as ``spaces recall``
and ``GET /my/...`` do. Paths are resolved inside the vault by
``SpaceVault.resolve``; recall re-indexes changed notes first, as the CLI's
``spaces recall`` does, then shows each hit with its citation. That check
walks the whole vault (about 130 ms at 1,000 notes), so the console makes
it at most once every ``REINDEX_EVERY_S`` seconds per space: a note edited
outside shows in recall within that time.
"""

from __future__ import annotations

import threading
import time
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.operations.access import Action, check
from app.server.console.links import vault_links
from app.server.console.markdown_view import render_note
from app.server.console.pages_spaces import Signed
from app.server.console.web import manager, page

router = APIRouter(prefix="/ui/spaces/{space_id}")
NOTES_SHOWN = 500
REINDEX_EVERY_S = 2.0
_reindexed: dict[str, float] = {}
_reindex_lock = threading.Lock()


def _reindex_if_due(space) -> None:
    """Re-index the space's changed notes, unless that was done in the last seconds."""
    now = time.monotonic()
    with _reindex_lock:
        due = now - _reindexed.get(space.config.space_id, -REINDEX_EVERY_S) >= REINDEX_EVERY_S
        if due:
            _reindexed[space.config.space_id] = now
    if due:
        space.reindex_changed()


def _folders(paths: list[str], folder: str) -> tuple[list[str], list[str]]:
    """The sub-folders directly under ``folder`` and the notes in it."""
    prefix = f"{folder}/" if folder else ""
    subs, notes = set(), []
    for path in paths:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        if "/" in rest:
            subs.add(prefix + rest.split("/", 1)[0])
        else:
            notes.append(path)
    return sorted(subs), notes


@router.get("/vault", response_class=HTMLResponse)
def vault(
    space_id: str,
    request: Request,
    session: Signed,
    folder: Annotated[str, Query(max_length=400)] = "",
) -> HTMLResponse:
    """Browse the vault's folders and notes."""
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    root = spaces.vault_root(access.config)
    folder = folder.strip("/")
    links = vault_links(root)
    subs, notes = _folders(links.paths, folder)
    parent = str(PurePosixPath(folder).parent) if folder else None
    return page(
        request, "vault.html", session, space=access.config, folder=folder,
        parent="" if parent == "." else parent, subs=subs, notes=notes[:NOTES_SHOWN],
        more=max(0, len(notes) - NOTES_SHOWN),
    )  # fmt: skip


@router.get("/vault/note", response_class=HTMLResponse)
def note(
    space_id: str,
    request: Request,
    session: Signed,
    path: Annotated[str, Query(max_length=400)],
) -> HTMLResponse:
    """One note: its Markdown rendered and sanitised, its tags, and the notes linking to it."""
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    handle = spaces.handle(access.config)
    found = handle.vault.read_note(path)
    links = vault_links(spaces.vault_root(access.config))
    return page(
        request, "note.html", session, space=access.config, note=found,
        html=render_note(space_id, found.text, links),
        backlinks=links.backlinks.get(found.path, []),
        folder=str(PurePosixPath(found.path).parent).removeprefix("."),
    )  # fmt: skip


@router.get("/recall", response_class=HTMLResponse)
def recall(
    space_id: str,
    request: Request,
    session: Signed,
    q: Annotated[str, Query(max_length=2_000)] = "",
) -> HTMLResponse:
    """A search box; hits with their citations (vault hits link to their note)."""
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    hits = []
    if q.strip():
        space = spaces.open_space(space_id)
        _reindex_if_due(space)
        hits = space.recall(q, 10)
    return page(request, "recall.html", session, space=access.config, q=q, hits=hits)
