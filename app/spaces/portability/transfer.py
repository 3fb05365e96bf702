"""Export a space to one portable bundle, and import a bundle as a space, all or nothing.

A bundle (``bundle_format.py``: tar + Zstandard, manifest first, every part
checksummed) holds everything the space owns: the vault's files, the
memories with their vectors and payloads, the graph partition, every table
of the space's Postgres schema (runs, artifacts, objects and versions, the
audit log, and whatever tables later migrations add), the registry rows it
owns (members, monthly usage and usage events), and a manifest with the
format version, the schema version, the embedder's name and dimension.

Import reads and checks the whole bundle before it touches anything; then
it creates the space (``SpaceManager.create_space``, itself atomic), loads
the Postgres parts in one transaction, the memories, the graph and the
vault; if any step fails, everything it made is removed again, so an
import either completes or leaves no trace. A bundle made with another
embedder is refused unless ``reembed`` asks for its memories to be embedded
again with this installation's embedder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.errors import InvalidInput, SpaceNotFound, StoreUnavailable
from app.ids import validate_space_id, validate_user_id
from app.spaces.access.roles import Action, require
from app.spaces.infra.migrations import REGISTRY_SCHEMA, SPACE_MIGRATIONS
from app.spaces.model.space_model import SpaceConfig, SpaceStatus
from app.spaces.portability import portable_stores as stores
from app.spaces.portability.bundle_format import DEFAULT_MAX_BYTES, read_bundle, write_bundle
from app.spaces.portability.bundle_registry import check_registry
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit
from app.spaces.stores.graph import drop_graph_partition
from app.spaces.stores.memory import drop_space_memory

R = sql.Identifier(REGISTRY_SCHEMA)
CONFIG_KEYS = ("name", "description", "monthly_token_budget", "monthly_api_calls")


@dataclass(frozen=True)
class Transfer:
    """What an export or import moved."""

    space_id: str
    path: str
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The summary the CLI prints."""
        return {"space_id": self.space_id, "path": self.path, "counts": self.counts}


@contextmanager
def _staging(manager: SpaceManager) -> Iterator[Path]:
    root = manager.settings.home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix="bundle-") as folder:
        yield Path(folder)


def _vault_files(root: Path) -> Iterator[tuple[Path, str]]:
    for folder, _dirs, files in os.walk(root):  # does not follow symlinked folders
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path, path.relative_to(root).as_posix()


def export_space(manager: SpaceManager, space_id: str, actor: str, out: str | Path) -> Transfer:
    """Write the space's bundle to ``out`` (admins; the file appears only when complete)."""
    target = Path(out)
    if not target.name.endswith(".tar.zst"):
        raise InvalidInput("the bundle's file name must end in .tar.zst")
    if not target.parent.is_dir():
        raise InvalidInput(f"no folder {str(target.parent)[:200]!r} to write the bundle in")
    config = require(manager, space_id, actor, Action.EXPORT).config
    pool, embedder = manager.backends.pool, manager.backends.embedder()
    with _staging(manager) as parts:
        counts: dict[str, int] = {"notes": 0, "files": 0}
        for path, rel in _vault_files(manager.vault_root(config)):
            dest = parts / "vault" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            counts["files"] += 1
            counts["notes"] += rel.endswith(".md")
        tables = stores.dump_schema(pool, config.postgres_schema, parts)
        registry = stores.dump_registry(pool, space_id)
        (parts / "registry.json").write_text(json.dumps(registry, default=str))
        counts["memories"] = stores.dump_memories(
            manager.backends, config, parts / "memories.jsonl"
        )
        entities, relations = manager.handle(config).graph.partition()
        (parts / "graph.json").write_text(
            json.dumps({"entities": entities, "relations": relations})
        )
        counts.update(entities=len(entities), relations=len(relations), tables=len(tables))
        manifest = {
            "space": {**config.to_json(), "status": config.status.value},
            "space_schema_version": len(SPACE_MIGRATIONS),
            "embedder": {"name": embedder.name, "dims": embedder.dims},
            "tables": tables,
            "counts": counts,
        }
        write_bundle(parts, manifest, target)
    audit.record(pool, config.postgres_schema, actor=actor, action="space.export",
                 target=target.name)  # fmt: skip
    return Transfer(space_id, str(target), counts)


def _checked(manifest: dict[str, Any], new_id: str | None, owner: str | None) -> SpaceConfig:
    space = manifest.get("space")
    if not isinstance(space, dict):
        raise InvalidInput("bundle refused: its manifest has no space")
    version = manifest.get("space_schema_version")
    if not isinstance(version, int) or not 1 <= version <= len(SPACE_MIGRATIONS):
        raise InvalidInput(
            f"bundle refused: schema version {version!r} is newer than this installation's "
            f"{len(SPACE_MIGRATIONS)}"
        )
    sid = validate_space_id(new_id or space.get("space_id"))
    return SpaceConfig(
        space_id=sid,
        owner_id=validate_user_id(owner or space.get("owner_id")),
        preferred_model=space.get("preferred_model"),
        **{k: space.get(k) for k in CONFIG_KEYS},
    )


def import_space(
    manager: SpaceManager,
    bundle: str | Path,
    *,
    new_id: str | None = None,
    owner: str | None = None,
    reembed: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Transfer:
    """Recreate the bundle's space (as ``new_id``, owned by ``owner``), all or nothing."""
    with _staging(manager) as parts:
        manifest = read_bundle(Path(bundle), parts, max_bytes=max_bytes)
        config = _checked(manifest, new_id, owner)
        old_id = manifest["space"]["space_id"]
        try:
            manager.get_space(config.space_id)
            raise InvalidInput(f"space {config.space_id!r} already exists: import it --as NEW_ID")
        except SpaceNotFound:
            pass
        rows = _memories(manager, parts, manifest, reembed)
        graph = _json(parts / "graph.json", "graph.json")
        registry = _json(parts / "registry.json", "registry.json")
        check_registry(registry, stores.REGISTRY_TABLES)  # before anything is created
        manager.create_space(config)
        try:
            _load(manager, config, parts, manifest, rows, graph, registry, old_id)
        except BaseException:
            discard(manager, config)
            raise
    counts = {**manifest.get("counts", {}), "memories": len(rows)}
    return Transfer(config.space_id, str(bundle), counts)


def _json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        raise InvalidInput(f"bundle refused: {what} is missing or not JSON") from None


def _memories(
    manager: SpaceManager, parts: Path, manifest: dict[str, Any], reembed: bool
) -> list[dict[str, Any]]:
    """The bundle's memories, re-embedded if asked; refused if made with another embedder."""
    ours = manager.backends.embedder()
    theirs = manifest.get("embedder") or {}
    rows = list(stores.read_memories(parts / "memories.jsonl"))
    same = theirs.get("name") == ours.name and theirs.get("dims") == ours.dims
    if not same and not reembed:
        raise InvalidInput(
            f"bundle refused: its memories were embedded by {theirs.get('name')!r} "
            f"({theirs.get('dims')} dimensions), this installation uses {ours.name!r} "
            f"({ours.dims}); import with --reembed to embed them again"
        )
    if not same:
        for start in range(0, len(rows), stores.BATCH):
            batch = rows[start : start + stores.BATCH]
            vectors = ours.model.embed_documents([r["payload"]["data"] for r in batch])
            for row, vector in zip(batch, vectors, strict=True):
                row["vector"] = list(vector)
    if any(len(r["vector"]) != ours.dims for r in rows):
        raise InvalidInput(f"bundle refused: a memory vector is not {ours.dims}-dimensional")
    return rows


def _load(
    manager: SpaceManager, config: SpaceConfig, parts: Path, manifest: dict[str, Any],
    rows: list[dict[str, Any]], graph: Any, registry: Any, old_id: str,
) -> None:  # fmt: skip
    pool = manager.backends.pool
    try:
        with pool.connection() as conn, conn.transaction():
            stores.load_schema(conn, config.postgres_schema, parts, manifest.get("tables") or [])
            stores.load_registry(conn, config, registry, old_id=old_id, owner=config.owner_id)
    except psycopg.Error as exc:
        raise InvalidInput(f"bundle refused: its tables do not load ({exc})") from None
    stores.load_memories(manager.backends, config, rows, old_id)
    if not isinstance(graph, dict):
        raise InvalidInput("bundle refused: graph.json is not an object")
    manager.handle(config).graph.load_partition(
        graph.get("entities") or [], graph.get("relations") or []
    )
    vault = manager.vault_root(config)
    source = parts / "vault"
    if source.is_dir():
        for path, rel in _vault_files(source):
            dest = vault / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    audit.record(pool, config.postgres_schema, actor=config.owner_id, action="space.import",
                 target=old_id, detail={"counts": manifest.get("counts")})  # fmt: skip
    if manifest["space"].get("status") == SpaceStatus.ARCHIVED.value:
        manager.archive_space(config.space_id)


def discard(manager: SpaceManager, config: SpaceConfig) -> None:
    """Remove every trace of a space whose import failed (never used on a finished space)."""
    try:
        with manager.backends.pool.connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(config.postgres_schema)
                )
            )
            for table in ("space_members", "space_usage_events", "space_usage", "budget_holds",
                          "threads", "spaces"):  # fmt: skip
                conn.execute(
                    sql.SQL("DELETE FROM {}.{} WHERE space_id = %s").format(
                        R, sql.Identifier(table)
                    ),
                    [config.space_id],
                )
    except psycopg.Error as exc:
        raise StoreUnavailable("postgres", str(exc)) from exc
    drop_space_memory(manager.backends, config)
    drop_graph_partition(manager.backends.graph(), config.space_id)
    shutil.rmtree(manager.vault_root(config), ignore_errors=True)
