"""Documents in a space: objects with append-only versions (seed "spaces and objects").

An object is named after the basename of its first file; the name never
changes and is unique in the space. Each ingestion of a file adds a version
(``active``, ``inactive`` or ``error``, with its reason); nothing is ever
deleted. The tables live in the space's Postgres schema, the text is chunked
into the space's Mem0 memory, and ``get_active_documents_for_prompt`` gives
the latest active version of each active object for the "OPEN DOCUMENTS"
section of every model call (``open_documents_section``).

The seed's method names are kept; each takes the space id first, because
objects belong to a space and there is no process-wide current space.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.errors import InvalidInput, SpacesError
from app.files import read_user_file
from app.spaces.stores.extract import (
    MAX_FILE_BYTES,
    PDF_SUFFIXES,
    TEXT_SUFFIXES,
    ExtractionError,
    chunks,
    extract_text,
    object_type,
)
from app.spaces.stores.handle import SpaceHandle, SpaceOpener

NAME_MAX = 200
PROMPT_CAP_TOKENS = 4_000
PROMPT_DOCS_MAX = 50  # more open documents than this: the most recent are kept
STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class ObjectInfo:
    """An object and how many of its versions there are and are active."""

    id: int
    name: str
    object_type: str
    active: bool
    created_at: datetime
    versions: int
    active_versions: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class VersionInfo:
    """One ingestion of a file into an object."""

    id: int
    object_id: int
    filename: str
    original_path: str
    ingested_at: datetime
    status: str
    error: str | None
    memory_id: str | None
    chunks: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "ingested_at": self.ingested_at.isoformat()}


def _checked_file(file_path: object) -> tuple[Path, bytes]:
    """The file's resolved path and its bytes, read once and bounded, or ``InvalidInput``.

    The bytes are read through one handle, checked with ``fstat`` on it, so
    a file swapped or grown after a check is refused, never stored past the
    cap. No symbolic links: the object is named after the file given, and a
    link would smuggle in another name.
    """
    found = read_user_file(file_path, limit=MAX_FILE_BYTES, what="file", follow_symlinks=False)
    path = found.path
    name = path.name
    if (
        len(name) > NAME_MAX
        or name.startswith(".")
        or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in name)
    ):
        raise InvalidInput(f"file name {name[:60]!r} cannot name an object")
    if path.suffix.lower() not in TEXT_SUFFIXES + PDF_SUFFIXES:
        kinds = ", ".join(TEXT_SUFFIXES + PDF_SUFFIXES)
        raise InvalidInput(f"{name}: only text and PDF files are accepted ({kinds})")
    return path.resolve(), found.data


_OBJECT_COLUMNS = sql.SQL(
    "SELECT o.id, o.name, o.object_type, o.active, o.created_at, count(v.id), "
    "count(v.id) FILTER (WHERE v.status = 'active') FROM objects o "
    "LEFT JOIN versions v ON v.object_id = o.id "
)
_VERSION_COLUMNS = sql.SQL(
    "SELECT id, object_id, filename, original_path, ingested_at, status, error, memory_id, "
    "jsonb_array_length(memory_ids) FROM versions "
)
_BY_ID = sql.SQL("WHERE id = %s")


class DocumentStore:
    """Objects and versions of the spaces a ``SpaceManager`` (any ``SpaceOpener``) reaches."""

    def __init__(self, manager: SpaceOpener):
        self.manager = manager

    # -- objects -----------------------------------------------------------------------------
    def create_object(self, space_id: str, file_path: str | Path) -> tuple[ObjectInfo, VersionInfo]:
        """Create an object named after the file and ingest the file as its first version.

        The file is read before anything is written: a file that cannot be
        read (vanished, too large, not a regular file) changes nothing.
        """
        space = self.manager.open_space(space_id, write=True)
        path, data = _checked_file(file_path)
        with space.postgres.connection() as conn:
            row = conn.execute(
                "INSERT INTO objects (name, object_type) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                [path.name, object_type(path)],
            ).fetchone()
        if row is None:
            raise InvalidInput(f"An object named {path.name} already exists in this space.")
        version = self._ingest(space, row[0], path, data)
        return self._object(space, str(row[0])), version

    def list_objects(self, space_id: str, active_only: bool = False) -> list[ObjectInfo]:
        """The space's objects, by name."""
        space = self.manager.open_space(space_id)
        where = sql.SQL("WHERE o.active " if active_only else "")
        query = _OBJECT_COLUMNS + where + sql.SQL("GROUP BY o.id ORDER BY o.name")
        with space.postgres.connection() as conn:
            rows = conn.execute(query).fetchall()
        return [ObjectInfo(*r) for r in rows]

    def set_object_active(self, space_id: str, object_ref: str, active: bool) -> ObjectInfo:
        """Turn an object on or off (an inactive object adds nothing to prompts)."""
        space = self.manager.open_space(space_id, write=True)
        found = self._object(space, object_ref)
        with space.postgres.connection() as conn:
            conn.execute("UPDATE objects SET active = %s WHERE id = %s", [bool(active), found.id])
        return self._object(space, str(found.id))

    def _object(self, space: SpaceHandle, object_ref: object) -> ObjectInfo:
        """An object by id (digits) or by name; refused if the space has no such object."""
        if not isinstance(object_ref, str | int) or not 0 < len(str(object_ref)) <= NAME_MAX:
            raise InvalidInput("object must be given by its id or its name")
        ref = str(object_ref)
        by_id = ref.isdigit() and len(ref) < 19
        column = sql.Identifier("o", "id" if by_id else "name")
        query = _OBJECT_COLUMNS + sql.SQL("WHERE {} = %s GROUP BY o.id").format(column)
        with space.postgres.connection() as conn:
            row = conn.execute(query, [int(ref) if by_id else ref]).fetchone()
        if row is None:
            raise InvalidInput(f"no object {ref[:60]!r} in space {space.config.space_id!r}")
        return ObjectInfo(*row)

    # -- versions ----------------------------------------------------------------------------
    def add_version(self, space_id: str, object_ref: str, file_path: str | Path) -> VersionInfo:
        """Ingest a new copy of the object's file; its basename must be the object's name."""
        space = self.manager.open_space(space_id, write=True)
        found = self._object(space, object_ref)
        path, data = _checked_file(file_path)
        if path.name != found.name:
            raise InvalidInput(
                f"This object tracks files named {found.name}. You selected {path.name}. "
                "If you renamed the file, create a new object."
            )
        return self._ingest(space, found.id, path, data)

    def list_versions(self, space_id: str, object_ref: str) -> list[VersionInfo]:
        """Every version of the object, oldest first."""
        space = self.manager.open_space(space_id)
        found = self._object(space, object_ref)
        with space.postgres.connection() as conn:
            rows = conn.execute(
                _VERSION_COLUMNS + sql.SQL("WHERE object_id = %s ORDER BY id"),
                [found.id],
            ).fetchall()
        return [VersionInfo(*r) for r in rows]

    def set_version_status(self, space_id: str, version_id: int | str, status: str) -> VersionInfo:
        """Mark a version active or inactive (a version in error stays in error)."""
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        ref = str(version_id)
        if not ref.isdigit() or len(ref) > 18:
            raise InvalidInput(f"invalid version id {ref[:40]!r}")
        space = self.manager.open_space(space_id, write=True)
        with space.postgres.connection() as conn:
            row = conn.execute(
                "UPDATE versions SET status = %s WHERE id = %s AND status <> 'error' RETURNING id",
                [status, int(ref)],
            ).fetchone()
            found = conn.execute(_VERSION_COLUMNS + _BY_ID, [int(ref)]).fetchone()
        if found is None:
            raise InvalidInput(f"no version {ref} in space {space_id!r}")
        if row is None:
            raise InvalidInput(f"version {ref} failed to ingest; it stays in error")
        return VersionInfo(*found)

    def _ingest(self, space: SpaceHandle, object_id: int, path: Path, data: bytes) -> VersionInfo:
        """Add a version: recorded first as unfinished, then filled in or marked in error."""
        with space.postgres.connection() as conn:
            version_id = conn.execute(
                "INSERT INTO versions (object_id, filename, original_path, status, error) "
                "VALUES (%s, %s, %s, 'error', 'ingestion did not finish') RETURNING id",
                [object_id, path.name, str(path)],
            ).fetchone()[0]
        memory_ids: list[str] = []
        try:
            text = extract_text(path, data)
            memory_ids = self._remember(space, object_id, version_id, path, text)
            with space.postgres.connection() as conn:
                conn.execute(
                    "UPDATE versions SET status = 'active', error = NULL, content = %s, "
                    "content_sha256 = %s, memory_id = %s, memory_ids = %s WHERE id = %s",
                    [
                        text,
                        hashlib.sha256(text.encode()).hexdigest(),
                        memory_ids[0] if memory_ids else None,
                        json.dumps(memory_ids),
                        version_id,
                    ],
                )
        except (ExtractionError, OSError, SpacesError, psycopg.Error) as exc:
            # Nothing half-written: the chunks go, the version keeps its reason.
            self._forget(space, memory_ids)
            reason = str(exc)[:500]
            with space.postgres.connection() as conn:
                conn.execute("UPDATE versions SET error = %s WHERE id = %s", [reason, version_id])
        with space.postgres.connection() as conn:
            row = conn.execute(_VERSION_COLUMNS + _BY_ID, [version_id]).fetchone()
        return VersionInfo(*row)

    def _remember(
        self, space: SpaceHandle, object_id: int, version_id: int, path: Path, text: str
    ) -> list[str]:
        """Chunk the text into the space's memory; undo the chunks if any write fails."""
        kind = object_type(path)
        sid = space.config.space_id
        meta = {
            "space_id": sid,
            "space_name": space.config.name,
            "object_id": object_id,
            "object_name": path.name,
            "object_type": kind,
            "version_id": version_id,
            "type": "document",
            "tags": [
                "file_ingest",
                "spaces",
                f"space:{sid}",
                f"object:{object_id}",
                f"type:{kind}",
            ],
        }
        added: list[str] = []
        try:
            with space.memory() as memory:
                for n, piece in enumerate(chunks(text)):
                    added.append(
                        memory.add(piece, {**meta, "chunk": n}, key=f"doc:{version_id}:{n}")
                    )
        except SpacesError:
            self._forget(space, added)
            raise
        return added

    @staticmethod
    def _forget(space: SpaceHandle, memory_ids: list[str]) -> None:
        if memory_ids:
            with space.memory() as memory:
                for memory_id in memory_ids:
                    memory.delete(memory_id)

    # -- prompts -----------------------------------------------------------------------------
    def get_active_documents_for_prompt(self, space_id: str) -> list[dict[str, Any]]:
        """The latest active version of each active object of an active space."""
        return documents_for_prompt(self.manager.open_space(space_id))


def documents_for_prompt(space: SpaceHandle) -> list[dict[str, Any]]:
    """``get_active_documents_for_prompt`` for a space already open (no registry lookup)."""
    if not space.writable:  # archived: contributes nothing
        return []
    db = space.postgres
    with db.plain() as conn:  # one round trip: the tables are named in full
        rows = conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (o.id) o.name, v.content, v.id FROM {} o "
                "JOIN {} v ON v.object_id = o.id "
                "WHERE o.active AND v.status = 'active' "
                "ORDER BY o.id, v.id DESC"
            ).format(db.table("objects"), db.table("versions"))
        ).fetchall()
    return [{"name": n, "text": t, "version_id": v} for n, t, v in sorted(rows)]


def open_documents_section(docs: list[dict[str, Any]], cap_tokens: int = PROMPT_CAP_TOKENS) -> str:
    """The "OPEN DOCUMENTS" prompt section, cut to ``cap_tokens`` (about 4 characters each).

    When the documents do not fit, the largest are cut first, down to a
    common length, each with a visible marker, and the section says so.
    """
    if not docs:
        return ""
    skipped = max(0, len(docs) - PROMPT_DOCS_MAX)
    docs = sorted(docs, key=lambda d: d["version_id"], reverse=True)[:PROMPT_DOCS_MAX]
    docs.sort(key=lambda d: d["name"])
    # Names, separators and markers count against the cap too.
    overhead = 400 + sum(len(d["name"]) + 120 for d in docs)
    budget = max(0, cap_tokens * 4 - overhead)
    sizes = sorted(len(d["text"]) for d in docs)
    limit = sizes[-1]
    if sum(sizes) > budget:
        # The largest length L with sum(min(size, L)) <= budget: cut only what is above L.
        remaining, count = budget, len(sizes)
        for size in sizes:
            share = remaining // count
            if size > share:
                limit = share
                break
            remaining -= size
            count -= 1
    parts = ["OPEN DOCUMENTS (latest active version of each active object in this space)"]
    cut = False
    for doc in docs:
        text = doc["text"]
        if len(text) > limit:
            cut = True
            text = (
                text[:limit]
                + f"\n[… truncated: {limit:,} of {len(doc['text']):,} characters shown]"
            )
        parts.append(f"--- {doc['name']} (version {doc['version_id']}) ---\n{text}")
    if cut:
        parts.insert(
            1, f"Some documents were cut to fit a {cap_tokens:,}-token cap, largest first."
        )
    if skipped:
        parts.insert(1, f"{skipped} older documents were left out (at most {PROMPT_DOCS_MAX}).")
    return "\n\n".join(parts)
