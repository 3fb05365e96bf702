"""DDL of a space's memory table: Mem0's pgvector layout plus our columns and indexes.

Kept apart from ``memory`` (the read/write API) so that space creation, the
legacy migration and bulk loads share one definition of the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from app.errors import StoreUnavailable
from app.spaces.infra.embeddings import embedder_dims

if TYPE_CHECKING:
    from app.spaces.infra.backends import Backends
    from app.spaces.model.space_model import SpaceConfig

TS_CONFIG = "english"


def create_memory_table(conn: psycopg.Connection, config: SpaceConfig, dims: int) -> None:
    """Create the space's memory table and its indexes (idempotent).

    HNSW on cosine distance (``HNSW_WITH``; ``hnsw.ef_search`` is set per
    connection by ``Backends``), GIN on the
    generated ``tsvector``, and a partial unique index on the idempotency key.
    """
    schema, name = config.postgres_schema, config.mem0_collection_name
    table = sql.Identifier(schema, name)
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {t} ("
            "id UUID PRIMARY KEY, vector public.vector({d}), payload JSONB NOT NULL, "
            "tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector({c}, coalesce(payload->>'data', ''))) STORED, "
            "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ).format(t=table, d=sql.Literal(int(dims)), c=sql.Literal(TS_CONFIG))
    )
    conn.execute(hnsw_index(schema, name))
    for suffix, body in (
        ("tsv", "USING gin (tsv)"),
        ("created", "(created_at)"),
    ):
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} " + body).format(
                sql.Identifier(f"{name}_{suffix}"), table
            )
        )
    conn.execute(
        sql.SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ((payload->>'idempotency_key')) "
            "WHERE payload ? 'idempotency_key'"
        ).format(sql.Identifier(f"{name}_ikey"), table)
    )


# HNSW build settings for memories and vault chunks. pgvector's default
# ef_construction (64) topped out at recall@5 0.932 against exact search at 1M
# clustered vectors, whatever the ef_search; 128 gives 0.960 at ef_search 100
# and 0.984 at 200 (p95 10 ms), and built 1M rows in 355 s (bench/recall_bench.py).
HNSW_WITH = sql.SQL("WITH (m = 16, ef_construction = 128)")
# Memory for a bulk (re)build: the graph of 1M 256-dimension memories does not
# fit in 1 GB, and the build then took about 23 minutes instead of 355 s.
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '2GB'"


def hnsw_on(index: sql.Identifier, table: sql.Composable) -> sql.Composed:
    """``CREATE INDEX IF NOT EXISTS`` of an HNSW cosine index with ``HNSW_WITH``."""
    return sql.SQL(
        "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (vector public.vector_cosine_ops) {}"
    ).format(index, table, HNSW_WITH)


def hnsw_index(schema: str, name: str) -> sql.Composed:
    """``CREATE INDEX`` of the memory table's HNSW index."""
    return hnsw_on(sql.Identifier(f"{name}_hnsw"), sql.Identifier(schema, name))


def table_dims(conn: psycopg.Connection, config: SpaceConfig) -> int | None:
    """The vector dimension of the space's memory table, or None if it has none yet."""
    row = conn.execute(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) "
        "AND attname = 'vector'",
        [sql.Identifier(config.postgres_schema, config.mem0_collection_name).as_string(conn)],
    ).fetchone()
    return int(row[0]) if row else None


def ensure_memory_table(backends: Backends, config: SpaceConfig) -> None:
    """Make sure the table exists with the embedder's dimension (checked once per process)."""
    name = backends.settings.embeddings
    want = embedder_dims(name)
    cache = backends.memory_tables
    if config.space_id in cache:
        return
    try:
        with backends.pool.connection() as conn:
            dims = table_dims(conn, config)
            if dims is None:
                with conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        [f"spaces-memory:{config.space_id}"],
                    )
                    create_memory_table(conn, config, want)
                dims = want
    except psycopg.OperationalError as exc:
        raise StoreUnavailable("memory", str(exc)) from exc
    if dims != want:
        raise StoreUnavailable(
            "memory",
            f"table {config.mem0_collection_name} holds {dims}-dimension vectors but "
            f"embeddings {name!r} make {want}; "
            "set SPACES_EMBEDDINGS to the embedder the space was created with",
        )
    cache.add(config.space_id)
