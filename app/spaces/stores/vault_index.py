"""Incremental search index of a space's vault: chunks with vectors and full text.

Two tables in the space's schema: ``vault_files`` (path, size, mtime,
content hash, tags) and ``vault_chunks`` (path, chunk number, text, vector,
generated ``tsvector``). ``refresh`` walks the vault with ``os.scandir``
(one ``stat`` per note, no parsing), and reads, hashes and re-chunks only the
notes whose size or modification time changed; a note whose hash is the same
is not re-embedded. Notes that disappeared (deleted or renamed) lose their
chunks. So a run can refresh at its start for the cost of a directory walk,
instead of parsing every note as the files agent once did.

Concurrent refreshes of one space take turns on an advisory lock.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import yaml
from psycopg import sql

from app.errors import StoreUnavailable
from app.spaces.infra.embeddings import embedder_dims
from app.spaces.stores.extract import chunks
from app.spaces.stores.memory_rows import TEXT_CANDIDATES, TEXT_RANK, tsquery_any, vector_literal
from app.spaces.stores.memory_schema import TS_CONFIG, hnsw_on
from app.spaces.stores.memory_store import clamp
from app.spaces.stores.vault import walk_notes

if TYPE_CHECKING:
    from app.spaces.infra.backends import Backends
    from app.spaces.model.space_model import SpaceConfig

NOTE_MAX_BYTES = 5_000_000
EMBED_BATCH = 256


@dataclass(frozen=True)
class VaultChunk:
    """One indexed piece of a note."""

    path: str
    chunk: int
    text: str
    score: float


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: notes seen, re-indexed, dropped, and chunks written."""

    scanned: int
    changed: int
    removed: int
    chunks: int
    errors: list[str] = field(default_factory=list)  # notes that cannot be indexed, and why


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """``(relative path, stat)`` of every note (``vault.walk_notes``: no hidden files, no links)."""
    for rel, entry in walk_notes(root):
        yield rel, entry.stat()


def _split_note(raw: str) -> tuple[str, list[str]]:
    """Body text and tags of a note (frontmatter ``tags`` plus inline ``#tags``)."""
    tags: list[str] = []
    body = raw
    if raw.startswith("---\n"):
        end = raw.find("\n---", 4)
        if end != -1:
            try:
                front = yaml.safe_load(raw[4:end]) or {}
            except yaml.YAMLError:
                front = {}
            if isinstance(front, dict):
                found = front.get("tags") or []
                tags += [str(t) for t in (found if isinstance(found, list) else [found])]
            body = raw[end + 4 :].lstrip("-\n")
    tags += [w[1:] for w in body.split() if w.startswith("#") and len(w) > 1 and w[1] != "#"]
    return body, sorted(set(tags))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class VaultIndex:
    """The vault index of one space."""

    def __init__(self, backends: Backends, config: SpaceConfig, root: Path):
        self._backends = backends
        self.config = config
        self.root = root
        s = config.postgres_schema
        self.files = sql.Identifier(s, "vault_files")
        self.chunks = sql.Identifier(s, "vault_chunks")

    # -- schema --------------------------------------------------------------------------
    def _lock(self, conn: psycopg.Connection) -> None:
        key = f"spaces-vault-index:{self.config.space_id}"
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])

    def _ensure(self, conn: psycopg.Connection, dims: int) -> None:
        key = f"vault:{self.config.space_id}"
        if key in self._backends.memory_tables:
            return
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {f} (path TEXT PRIMARY KEY, size BIGINT NOT NULL, "
                "mtime_ns BIGINT NOT NULL, content_hash TEXT NOT NULL, tags TEXT[] NOT NULL)"
            ).format(f=self.files)
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {c} (path TEXT NOT NULL REFERENCES {f} (path) "
                "ON DELETE CASCADE, chunk INT NOT NULL, text TEXT NOT NULL, "
                "vector public.vector({d}) NOT NULL, tsv tsvector GENERATED ALWAYS AS "
                "(to_tsvector({cfg}, text)) STORED, PRIMARY KEY (path, chunk))"
            ).format(
                c=self.chunks,
                f=self.files,
                d=sql.Literal(dims),
                cfg=sql.Literal(TS_CONFIG),
            )
        )
        conn.execute(hnsw_on(sql.Identifier("vault_chunks_hnsw"), self.chunks))
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS vault_chunks_tsv ON {} USING gin (tsv)").format(
                self.chunks
            )
        )
        self._backends.memory_tables.add(key)

    # -- refresh -------------------------------------------------------------------------
    def refresh(self) -> RefreshReport:
        """Re-index the notes that changed since the last refresh; drop vanished ones."""
        seen = dict(_walk(self.root)) if self.root.is_dir() else {}
        try:
            with self._backends.pool.connection() as conn, conn.transaction():
                self._lock(conn)
                self._ensure(conn, embedder_dims(self._backends.settings.embeddings))
                known = {
                    row[0]: row[1:]
                    for row in conn.execute(
                        sql.SQL("SELECT path, size, mtime_ns, content_hash FROM {}").format(
                            self.files
                        )
                    )
                }
                gone = [p for p in known if p not in seen]
                if gone:
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE path = ANY(%s)").format(self.files), [gone]
                    )
                stale = [
                    (p, st)
                    for p, st in seen.items()
                    if known.get(p, (None, None))[:2] != (st.st_size, st.st_mtime_ns)
                ]
                errors: list[str] = []
                changed, written = self._reindex(conn, stale, known, errors)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable("postgres", f"vault index: {exc}") from exc
        return RefreshReport(len(seen), changed, len(gone), written, errors)

    def _reindex(self, conn, stale, known, errors: list[str]) -> tuple[int, int]:
        pending: list[tuple[str, int, str]] = []
        changed = 0
        for path, st in stale:
            try:
                if st.st_size > NOTE_MAX_BYTES:
                    raise ValueError(f"is larger than {NOTE_MAX_BYTES} bytes")
                raw_bytes = (self.root / path).read_bytes()
                raw = raw_bytes.decode("utf-8").replace("\x00", "")
            except (OSError, ValueError) as exc:
                # Unreadable now: forget what it said before, and tell the caller why.
                reason = "is not UTF-8 text" if isinstance(exc, UnicodeError) else str(exc)
                errors.append(f"note {path!r} {reason}"[:300])
                conn.execute(sql.SQL("DELETE FROM {} WHERE path = %s").format(self.files), [path])
                continue
            digest = hashlib.sha256(raw_bytes).hexdigest()
            old = known.get(path)
            if old is not None and old[2] == digest:  # touched, not changed
                conn.execute(
                    sql.SQL("UPDATE {} SET size = %s, mtime_ns = %s WHERE path = %s").format(
                        self.files
                    ),
                    [st.st_size, st.st_mtime_ns, path],
                )
                continue
            body, tags = _split_note(raw)
            changed += 1
            conn.execute(sql.SQL("DELETE FROM {} WHERE path = %s").format(self.chunks), [path])
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (path, size, mtime_ns, content_hash, tags) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET "
                    "size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, "
                    "content_hash = EXCLUDED.content_hash, tags = EXCLUDED.tags"
                ).format(self.files),
                [path, st.st_size, st.st_mtime_ns, digest, tags],
            )
            title = path.rsplit("/", 1)[-1][:-3]
            for n, piece in enumerate(chunks(body) or [title]):
                pending.append((path, n, f"{title}\n{piece}" if n == 0 else piece))
        for start in range(0, len(pending), EMBED_BATCH):
            batch = pending[start : start + EMBED_BATCH]
            vectors = self._backends.embedder().model.embed_documents([t for _, _, t in batch])
            with conn.cursor().copy(
                sql.SQL("COPY {} (path, chunk, text, vector) FROM STDIN").format(self.chunks)
            ) as copy:
                for (path, n, text), vector in zip(batch, vectors, strict=True):
                    copy.write_row((path, n, text, vector_literal(vector)))
        return changed, len(pending)

    # -- search --------------------------------------------------------------------------
    def embed_query(self, query: str) -> str:
        """The query's vector in pgvector's text form."""
        return vector_literal(self._backends.embedder().model.embed_query(query))

    def vector_search(
        self, vector: str, limit: int, prefixes: list[str], exclude_tags: Sequence[str] = ()
    ) -> list[VaultChunk]:
        """Nearest chunks to an embedded query, within path ``prefixes`` if given.

        Notes carrying any of ``exclude_tags`` are left out before ranking,
        so they never take the places of the others.
        """
        return self._search(
            sql.SQL(
                "SELECT path, chunk, text, 1 - (vector <=> %(v)s::vector) FROM {} "
                "WHERE (%(any)s OR path LIKE ANY(%(p)s)) AND {keep} "
                "ORDER BY vector <=> %(v)s::vector LIMIT %(k)s"
            ),
            {"v": vector},
            limit,
            prefixes,
            exclude_tags,
        )

    def text_search(
        self, query: str, limit: int, prefixes: list[str], exclude_tags: Sequence[str] = ()
    ) -> list[VaultChunk]:
        """Chunks matching any word of ``query`` (title included), by ``TEXT_RANK``.

        At most ``TEXT_CANDIDATES`` matching chunks are ranked, as for memories;
        ``exclude_tags`` as for ``vector_search``.
        """
        source = tsquery_any(query)
        if not source:
            return []
        return self._search(
            sql.SQL(
                "SELECT path, chunk, text, {rank} AS r FROM to_tsquery(%(c)s::regconfig, %(q)s) q, "
                "LATERAL (SELECT path, chunk, text, tsv FROM {} WHERE tsv @@ q "
                "AND (%(any)s OR path LIKE ANY(%(p)s)) AND {keep} LIMIT %(n)s) m "
                "ORDER BY r DESC LIMIT %(k)s"
            ),
            {"c": TS_CONFIG, "q": source, "n": TEXT_CANDIDATES},
            limit,
            prefixes,
            exclude_tags,
        )

    def _search(
        self,
        query: sql.SQL,
        params: dict,
        limit: int,
        prefixes: list[str],
        exclude_tags: Sequence[str] = (),
    ):
        like = [
            p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for p in prefixes
        ]
        params = {**params, "any": not prefixes, "p": like, "k": clamp(limit, 1000)}
        params["x"] = list(exclude_tags)
        keep = sql.SQL("path NOT IN (SELECT path FROM {} WHERE tags && %(x)s::text[])").format(
            self.files
        )
        try:
            with self._backends.pool.connection() as conn:
                if f"vault:{self.config.space_id}" not in self._backends.memory_tables:
                    with conn.transaction():
                        self._lock(conn)
                        self._ensure(conn, embedder_dims(self._backends.settings.embeddings))
                rows = conn.execute(
                    query.format(self.chunks, rank=TEXT_RANK, keep=keep), params
                ).fetchall()
        except psycopg.OperationalError as exc:
            raise StoreUnavailable("postgres", f"vault index: {exc}") from exc
        return [VaultChunk(p, n, t, float(s)) for p, n, t, s in rows]

    def tags_of(self, paths: list[str]) -> dict[str, list[str]]:
        """The indexed tags of ``paths``."""
        with self._backends.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT path, tags FROM {} WHERE path = ANY(%s)").format(self.files),
                [paths],
            ).fetchall()
        return {p: list(t) for p, t in rows}
