"""Move memories of spaces made before pgvector out of qdrant-client's local folders.

Earlier versions kept each space's memories in ``SPACES_HOME/qdrant/<id>/``
(Mem0 on qdrant-client's local mode). Every entry point runs this at
start-up (``app.spaces.startup``), before it uses a store: it copies every
such folder's points, with their ids, vectors and Mem0
payloads, into the space's pgvector table, checks that every id arrived, and
only then moves the folder to ``SPACES_HOME/qdrant-migrated/<id>/`` (kept,
not deleted, so nothing is lost if something went wrong). ``spaces memory
migrate`` does the same on demand. Re-running is safe: ids already copied
are skipped.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock
from psycopg import sql
from psycopg.rows import dict_row

from app.errors import StoreUnavailable
from app.ids import validate_space_id
from app.spaces.infra.embeddings import embedder_dims
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig, config_from_row
from app.spaces.stores.memory_rows import vector_literal
from app.spaces.stores.memory_schema import create_memory_table

if TYPE_CHECKING:
    from app.spaces.infra.backends import Backends

BATCH = 2_000


def legacy_folders(home: Path) -> list[Path]:
    """Local-mode folders still waiting to be migrated (cheap: one directory listing)."""
    root = home / "qdrant"
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir())


def _created(payload: dict) -> datetime:
    try:
        return datetime.fromisoformat(str(payload.get("created_at")))
    except ValueError:
        return datetime.now(UTC)


def _registered(backends: Backends, space_ids: list[str]) -> dict[str, SpaceConfig]:
    """The registry's configs of those of ``space_ids`` it knows."""
    with backends.pool.connection() as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                sql.SQL(
                    "SELECT config, status, created_at FROM {}.spaces WHERE space_id = ANY(%s)"
                ).format(sql.Identifier(REGISTRY_SCHEMA)),
                [space_ids],
            )
            .fetchall()
        )
    return {c.space_id: c for c in map(config_from_row, rows)}


def migrate_legacy_memory(backends: Backends) -> dict[str, int]:
    """Copy every legacy local-mode space memory into pgvector; return copied counts by space.

    Folders of spaces the registry does not know are left alone.
    """
    if backends.settings.qdrant_url:
        return {}
    folders = legacy_folders(backends.settings.home)
    if not folders:
        return {}
    known = _registered(backends, [f.name for f in folders])
    moved: dict[str, int] = {}
    for folder in folders:
        config = known.get(folder.name)
        if config is None:
            continue
        validate_space_id(config.space_id)
        with FileLock(str(folder.parent / f"{config.space_id}.lock")):
            if folder.is_dir():
                moved[config.space_id] = _migrate_one(backends, config, folder)
    return moved


def _migrate_one(backends: Backends, config: SpaceConfig, folder: Path) -> int:
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(folder))
    try:
        name = config.mem0_collection_name
        if not client.collection_exists(name):
            points, dims = [], embedder_dims(backends.settings.embeddings)
        else:
            dims = client.get_collection(name).config.params.vectors.size
            points = []
            offset = None
            while True:
                batch, offset = client.scroll(
                    name, limit=BATCH, offset=offset, with_payload=True, with_vectors=True
                )
                points.extend(batch)
                if offset is None:
                    break
    finally:
        client.close()
    table = sql.Identifier(config.postgres_schema, config.mem0_collection_name)
    with backends.pool.connection() as conn, conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"spaces-memory:{config.space_id}"]
        )
        create_memory_table(conn, config, dims)
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (id, vector, payload, created_at) "
                    "VALUES (%s, %s::vector, %s::jsonb, %s) ON CONFLICT DO NOTHING"
                ).format(table),
                [
                    (
                        str(p.id),
                        vector_literal(p.vector),
                        json.dumps(p.payload or {}),
                        _created(p.payload or {}),
                    )
                    for p in points
                ],
            )
        ids = [str(p.id) for p in points]
        present = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE id = ANY(%s::uuid[])").format(table), [ids]
        ).fetchone()[0]
        if present != len(ids):
            raise StoreUnavailable(
                "memory", f"migration of {config.space_id}: {present} of {len(ids)} points arrived"
            )
    done = backends.settings.home / "qdrant-migrated"
    done.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(done / folder.name))
    backends.memory_tables.discard(config.space_id)
    return len(points)
