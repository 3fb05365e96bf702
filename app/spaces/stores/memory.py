"""Space memory: a pgvector table in the space's own Postgres schema.

Each space's memories live in ``space_<id>.mem0_<id>``: the table layout of
Mem0 2.2's ``pgvector`` provider (``id UUID``, ``vector``, ``payload JSONB``
with the text under ``data``), plus columns Mem0 does not know about and
fills by default: a generated ``tsvector`` for full-text search, the time of
insertion (for ``prune``) and a unique index on the idempotency key. Being
in the space's schema, memories are isolated like the rest of the space, and
any number of processes read and write them at once.

Why this module talks to the table itself instead of through a Mem0
``Memory`` object: building one per open, as the Qdrant path does, measured
p50 36-85 ms and p95 about 200 ms here (bench/recall_bench.py, "Mem0
Memory.from_config"), over the 50 ms budget for opening a space's memory,
against 0.3 ms for this class on the shared pool; each Mem0 object also
opens its own connection pool and history database. Facts are stored as
given (Mem0's ``infer=False``), so Mem0 adds nothing to a write but the
payload layout, which is kept here: Mem0's own ``pgvector`` provider reads
the same table (tests/spaces/stores/test_memory_store.py checks it). With ``QDRANT_URL``
set, memory is Mem0 on a Qdrant server instead (``memory_qdrant``), the
scale-out path. The table's DDL is in ``memory_schema``, its rows and SQL filters in
``memory_rows``; what both stores
offer, the ``MemoryStore`` protocol, is in ``memory_store``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from app.errors import InvalidInput, SpaceArchived, StoreUnavailable
from app.ids import validate_agent_name
from app.spaces.infra.embeddings import embedder_dims
from app.spaces.stores.memory_rows import (
    TEXT_CANDIDATES,
    TEXT_RANK,
    agent_filter,
    hit_from,
    kind_filter,
    payload_for,
    tsquery_any,
    vector_literal,
)
from app.spaces.stores.memory_schema import BUILD_MEMORY, TS_CONFIG, ensure_memory_table, hnsw_index
from app.spaces.stores.memory_store import (
    LIST_MAX,
    SEARCH_MAX,
    MemoryHit,
    MemoryRow,
    MemoryStore,
    Rankings,
    check_key,
    check_query,
    check_text,
    clamp,
)

if TYPE_CHECKING:
    from app.spaces.infra.backends import Backends
    from app.spaces.infra.embeddings import Embedder
    from app.spaces.model.space_model import SpaceConfig

EMBED_BATCH = 512
REBUILD_AT = 10_000


class PgMemory:
    """Add, search, list and delete the memories of one space (pgvector table).

    A ``MemoryStore`` with every operation, and bulk loads, pruning, export and stats besides.
    """

    def __init__(self, backends: Backends, config: SpaceConfig, *, writable: bool):
        self._backends = backends
        self.space_id = config.space_id
        self.schema = config.postgres_schema
        self.table = sql.Identifier(config.postgres_schema, config.mem0_collection_name)
        self.table_name = config.mem0_collection_name
        self.writable = writable

    @property
    def _embedder(self) -> Embedder:
        # Loaded on first embedding, not on open: listing or deleting needs no model.
        return self._backends.embedder()

    # -- writes ------------------------------------------------------------------------------
    def _write_check(self) -> None:
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its memory is read-only")

    def add(
        self,
        text: str,
        metadata: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        agent_id: str | None = None,
    ) -> str:
        """Store ``text`` as one memory; return its id.

        With ``key``, adding the same key again returns the first memory's id
        and stores nothing (a unique index decides, so concurrent writers and
        resumed runs cannot duplicate a memory). With ``agent_id``, the memory
        is in that agent's scope (Mem0's ``agent_id``) inside the space's.
        """
        self._write_check()
        check_text(text)
        payload = payload_for(self.space_id, text, metadata)
        payload.pop("agent_id", None)  # a scope is given by the argument, never by metadata
        if agent_id is not None:
            payload["agent_id"] = validate_agent_name(agent_id)
        if key is not None:
            payload["idempotency_key"] = check_key(key)
        vector = vector_literal(self._embedder.model.embed_documents([text])[0])
        new_id = str(uuid.uuid4())
        with self._conn() as conn:
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (id, vector, payload) VALUES (%s, %s::vector, %s) "
                    "ON CONFLICT ((payload->>'idempotency_key')) "
                    "WHERE payload ? 'idempotency_key' DO NOTHING RETURNING id"
                ).format(self.table),
                [new_id, vector, Jsonb(payload)],
            ).fetchone()
            if row is None:
                row = conn.execute(
                    sql.SQL("SELECT id FROM {} WHERE payload->>'idempotency_key' = %s").format(
                        self.table
                    ),
                    [key],
                ).fetchone()
        return str(row[0])

    def add_many(self, items: list[tuple[str, dict[str, Any] | None]]) -> list[str]:
        """Store many memories in one bulk load; return their new ids in order."""
        rows = [MemoryRow(str(uuid.uuid4()), text, meta) for text, meta in items]
        self.bulk_load(rows)
        return [r.id for r in rows]

    def bulk_load(self, rows: list[MemoryRow]) -> int:
        """Load ``rows`` with COPY in one transaction; return how many were new.

        Embeds in batches; rows whose id (or idempotency key) is already stored
        are skipped, so importing the same export twice adds nothing.
        """
        self._write_check()
        for row in rows:
            check_text(row.text)
        staged = sql.Identifier("memory_import")
        with self._conn() as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE {} (id UUID, vector TEXT, payload JSONB, "
                    "created_at TIMESTAMPTZ) ON COMMIT DROP"
                ).format(staged)
            )
            with conn.cursor().copy(
                sql.SQL("COPY {} (id, vector, payload, created_at) FROM STDIN").format(staged)
            ) as copy:
                for start in range(0, len(rows), EMBED_BATCH):
                    batch = rows[start : start + EMBED_BATCH]
                    vectors = self._embedder.model.embed_documents([r.text for r in batch])
                    for row, vector in zip(batch, vectors, strict=True):
                        payload = payload_for(self.space_id, row.text, row.metadata)
                        if row.created_at is not None:
                            payload["created_at"] = row.created_at.isoformat()
                        copy.write_row(
                            (row.id, vector_literal(vector), json.dumps(payload), row.created_at)
                        )
            # A large load into a small table: building the HNSW graph once at the end is
            # several times faster than growing it row by row. Readers of this space
            # wait for the load meanwhile (the index is dropped inside the transaction).
            existing = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table))
            rebuild = len(rows) >= REBUILD_AT and len(rows) > existing.fetchone()[0]
            hnsw = sql.Identifier(self.schema, f"{self.table_name}_hnsw")
            if rebuild:
                conn.execute(BUILD_MEMORY)
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(hnsw))
            added = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (id, vector, payload, created_at) "
                    "SELECT id, vector::public.vector, payload, coalesce(created_at, now()) "
                    "FROM {} ON CONFLICT DO NOTHING"
                ).format(self.table, staged)
            ).rowcount
            if rebuild:
                conn.execute(hnsw_index(self.schema, self.table_name))
            return added

    def delete(self, memory_id: str) -> bool:
        """Remove one memory; return whether it existed."""
        self._write_check()
        try:
            uuid.UUID(str(memory_id))
        except ValueError:
            raise InvalidInput(f"not a memory id: {str(memory_id)[:60]!r}") from None
        with self._conn() as conn:
            done = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = %s").format(self.table), [memory_id]
            ).rowcount
        return bool(done)

    def prune(self, before: datetime) -> int:
        """Delete memories stored before ``before``; return how many."""
        self._write_check()
        with self._conn() as conn:
            return conn.execute(
                sql.SQL("DELETE FROM {} WHERE created_at < %s").format(self.table), [before]
            ).rowcount

    # -- reads -------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 5, *, agent_id: str | None = None) -> list[MemoryHit]:
        """The memories most similar to ``query``, best first (HNSW, cosine).

        Space-wide (no agent's context) unless ``agent_id`` names one agent's scope.
        """
        vector = self.embed_query(check_query(query))
        if agent_id is None:
            return self.vector_search(vector, limit)
        rows = self._fetch(
            sql.SQL(
                "SELECT id, payload, 1 - (vector <=> %(v)s::vector) FROM {} WHERE {} "
                "ORDER BY vector <=> %(v)s::vector LIMIT %(k)s"
            ).format(self.table, agent_filter(agent_id)),
            {"v": vector, "k": clamp(limit, SEARCH_MAX)},
        )
        return [hit_from(*row) for row in rows]

    def embed_query(self, query: str) -> str:
        """The query's vector in pgvector's text form (embed once, search many)."""
        return vector_literal(self._embedder.model.embed_query(query))

    def vector_search(self, vector: str, limit: int, kind: str | None = None) -> list[MemoryHit]:
        """Nearest memories to an embedded query (``kind``: see ``_kind``)."""
        rows = self._fetch(
            sql.SQL(
                "SELECT id, payload, 1 - (vector <=> %(v)s::vector) FROM {} WHERE {} "
                "ORDER BY vector <=> %(v)s::vector LIMIT %(k)s"
            ).format(self.table, kind_filter(kind)),
            {"v": vector, "k": clamp(limit, SEARCH_MAX)},
        )
        return [hit_from(*row) for row in rows]

    def rankings(
        self, query: str, depth: int, kind: str | None = None, *, vector: bool, text: bool
    ) -> Rankings:
        """Vector and full-text rankings of ``query`` (the query embedded once, and returned)."""
        embedded = self.embed_query(query) if vector else None
        return Rankings(
            self.vector_search(embedded, depth, kind) if embedded is not None else [],
            self.text_search(query, depth, kind) if text else [],
            embedded,
        )

    def ensure_supports(self, operation: str) -> None:
        """Every ``spaces memory`` operation works on pgvector: nothing to refuse."""

    def text_search(self, query: str, limit: int, kind: str | None = None) -> list[MemoryHit]:
        """Memories matching any word of ``query``, ranked by ``TEXT_RANK``."""
        source = tsquery_any(check_query(query))
        if not source:
            return []
        rows = self._fetch(
            sql.SQL(
                "SELECT id, payload, {rank} AS r FROM to_tsquery(%(c)s::regconfig, %(q)s) q, "
                "LATERAL (SELECT id, payload, tsv FROM {} WHERE tsv @@ q AND {} LIMIT %(n)s) m "
                "ORDER BY r DESC LIMIT %(k)s"
            ).format(self.table, kind_filter(kind), rank=TEXT_RANK),
            {"c": TS_CONFIG, "q": source, "n": TEXT_CANDIDATES, "k": clamp(limit, SEARCH_MAX)},
        )
        return [hit_from(*row) for row in rows]

    def all(
        self, limit: int = 100, offset: int = 0, *, agent_id: str | None = None
    ) -> list[MemoryHit]:
        """Memories of the space, oldest first, up to ``limit`` (ids are stable across calls).

        Every memory, agents' contexts included, unless ``agent_id`` names one scope.
        """
        where = sql.SQL("TRUE") if agent_id is None else agent_filter(agent_id)
        rows = self._fetch(
            sql.SQL(
                "SELECT id, payload, NULL FROM {} WHERE {} ORDER BY created_at, id "
                "LIMIT %s OFFSET %s"
            ).format(self.table, where),
            [clamp(limit, LIST_MAX), max(0, int(offset))],
        )
        return [hit_from(*row) for row in rows]

    def iter_all(self) -> Iterator[MemoryHit]:
        """Every memory, oldest first, streamed by a server-side cursor (for export)."""
        with self._conn() as conn, conn.transaction():
            cursor = conn.cursor(name="memory_export")
            cursor.execute(
                sql.SQL("SELECT id, payload, NULL FROM {} ORDER BY created_at, id").format(
                    self.table
                )
            )
            for row in cursor:
                yield hit_from(*row)

    def stats(self) -> dict[str, Any]:
        """Count, on-disk size (table and indexes) and embedder of the space's memory."""
        with self._conn() as conn:
            count, size = conn.execute(
                sql.SQL("SELECT count(*), pg_total_relation_size(%s::regclass) FROM {}").format(
                    self.table
                ),
                [self.table.as_string(conn)],
            ).fetchone()
        name = self._backends.settings.embeddings
        return {
            "count": int(count),
            "bytes": int(size),
            "embedder": name,
            "dims": embedder_dims(name),
            "store": "pgvector",
        }

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        try:
            with self._backends.pool.connection() as conn:
                yield conn
        except psycopg.errors.DataException as exc:
            raise InvalidInput(f"memory: {exc}".splitlines()[0]) from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable("memory", str(exc)) from exc

    def _fetch(self, query: sql.Composable, params: Any) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(query, params).fetchall()


@contextmanager
def open_space_memory(
    backends: Backends, config: SpaceConfig, *, writable: bool
) -> Iterator[MemoryStore]:
    """The space's memory for the duration of the block (pgvector, or Mem0 on Qdrant)."""
    if backends.settings.qdrant_url:
        from app.spaces.stores.memory_qdrant import open_qdrant_memory

        with open_qdrant_memory(backends, config, writable=writable) as memory:
            yield memory
        return
    ensure_memory_table(backends, config)
    yield PgMemory(backends, config, writable=writable)


def drop_space_memory(backends: Backends, config: SpaceConfig) -> None:
    """Undo a failed creation's memory (a pgvector table rolls back with its transaction)."""
    backends.memory_tables.discard(config.space_id)
    if backends.settings.qdrant_url:
        from app.spaces.stores.memory_qdrant import drop_qdrant_memory

        drop_qdrant_memory(backends, config)
