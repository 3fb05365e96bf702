"""Space lifecycle on the real services: create, read, switch, archive, usage."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from app.errors import InvalidInput, SpaceArchived, SpaceExists, SpaceNotFound
from app.spaces.infra.migrations import (
    REGISTRY_MIGRATIONS,
    REGISTRY_SCHEMA,
    SPACE_MIGRATIONS,
    migrate,
)
from app.spaces.model.space_model import SpaceConfig, SpaceStatus, SpaceUsage
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.memory_schema import table_dims


def test_create_provisions_all_four_stores(manager: SpaceManager, space: SpaceConfig) -> None:
    root = manager.vault_root(space)
    for folder in ("Projects", "Learning", "Memories", ".obsidian"):
        assert (root / folder).is_dir()
    assert (root / ".obsidian" / "app.json").is_file()
    with manager.backends.pool.connection() as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [space.postgres_schema],
            )
        }
    assert {"runs", "artifacts", "schema_migrations"} <= tables
    with manager.backends.pool.connection() as conn:
        assert table_dims(conn, space) == manager.backends.embedder().dims
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            [space.postgres_schema, space.mem0_collection_name],
        ).fetchall()
    assert any("hnsw" in i[0] and "vector_cosine_ops" in i[0] for i in indexes)
    handle = manager.open_space(space.space_id)
    assert handle.graph.counts() == {"entities": 0, "relations": 0}
    assert space.created_at is not None


def test_derived_names_follow_the_seed(space: SpaceConfig) -> None:
    sid = space.space_id
    assert space.obsidian_vault_path == f"vaults/{sid}"
    assert space.mem0_collection_name == f"mem0_{sid}"
    assert space.neo4j_graph_name == f"graph_{sid}"
    assert space.postgres_schema == f"space_{sid}"


def test_derived_names_cannot_point_at_another_space() -> None:
    with pytest.raises(InvalidInput, match="postgres_schema"):
        SpaceConfig("a_space", "A", "alice", postgres_schema="space_other")


def test_duplicate_id_is_refused(manager: SpaceManager, space: SpaceConfig) -> None:
    with pytest.raises(SpaceExists):
        manager.create_space(SpaceConfig(space.space_id, "Again", "bob"))
    assert manager.get_space(space.space_id).owner_id == "alice"


def test_get_switch_and_current_are_per_manager(
    manager: SpaceManager, settings, space: SpaceConfig
) -> None:
    other = SpaceManager(settings, manager.backends)
    assert manager.switch_space(space.space_id).space_id == space.space_id
    assert manager.get_current_space().space_id == space.space_id
    with pytest.raises(InvalidInput, match="no space selected"):
        other.get_current_space()
    with pytest.raises(SpaceNotFound):
        manager.switch_space("no_such_space")
    assert manager.get_current_space().space_id == space.space_id


def test_list_by_owner(manager: SpaceManager, new_id) -> None:
    owner = f"owner-{new_id()}"
    ids = sorted(new_id() for _ in range(2))
    for sid in ids:
        manager.create_space(SpaceConfig(sid, "Listed", owner))
    assert [s.space_id for s in manager.list_spaces(owner)] == ids
    assert manager.list_spaces("nobody-at-all") == []


def test_archive_refuses_writes_everywhere_and_activate_restores(
    manager: SpaceManager, space: SpaceConfig
) -> None:
    sid = space.space_id
    assert manager.archive_space(sid).status is SpaceStatus.ARCHIVED
    assert manager.archive_space(sid).status is SpaceStatus.ARCHIVED  # idempotent
    with pytest.raises(SpaceArchived):
        manager.open_space(sid, write=True)
    handle = manager.open_space(sid)
    assert not handle.writable
    with pytest.raises(SpaceArchived):
        handle.vault.write_note("Projects/n.md", "x")
    with pytest.raises(SpaceArchived):
        handle.graph.merge_entity("x")
    with handle.memory() as memory, pytest.raises(SpaceArchived):
        memory.add("x")
    with handle.postgres.connection() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute(
            "INSERT INTO runs (thread_id, user_id, query, status) VALUES ('t','u','q','s')"
        )
    with pytest.raises(SpaceArchived):
        manager.record_usage(sid, 10)
    assert manager.activate_space(sid).is_active
    manager.open_space(sid, write=True).vault.write_note("Projects/n.md", "x")


def test_usage_is_atomic_and_idempotent(manager: SpaceManager, space: SpaceConfig) -> None:
    sid = space.space_id
    manager.record_usage(sid, 100, 1, 0.002, idempotency_key=f"{sid}:a")
    manager.record_usage(sid, 100, 1, 0.002, idempotency_key=f"{sid}:a")  # a replay
    usage = manager.record_usage(sid, 50, 2, 0.001)
    assert (usage.tokens_used, usage.api_calls_used) == (150, 3)
    assert usage.cost_usd == pytest.approx(0.003)
    assert usage.get_budget_remaining(space) == space.monthly_token_budget - 150
    with pytest.raises(InvalidInput):
        manager.record_usage(sid, -1)


def test_budget_helpers() -> None:
    config = SpaceConfig("b_space", "B", "alice", monthly_token_budget=100, monthly_api_calls=5)
    assert SpaceUsage("b_space", "2026-11", 40).get_budget_remaining(config) == 60
    assert not SpaceUsage("b_space", "2026-11", 99, 4).is_over_budget(config)
    assert SpaceUsage("b_space", "2026-11", 100).is_over_budget(config)
    assert SpaceUsage("b_space", "2026-11", 0, 5).is_over_budget(config)
    assert SpaceUsage("b_space", "2026-11", 150).get_budget_remaining(config) == 0


def test_migrations_rerun_safely(manager: SpaceManager, space: SpaceConfig) -> None:
    with manager.backends.pool.connection() as conn:
        assert migrate(conn, REGISTRY_SCHEMA, REGISTRY_MIGRATIONS) == 0
        assert migrate(conn, space.postgres_schema, SPACE_MIGRATIONS) == 0
        versions = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.schema_migrations").format(
                sql.Identifier(REGISTRY_SCHEMA)
            )
        ).fetchone()[0]
    assert versions == len(REGISTRY_MIGRATIONS)
    assert manager.get_space(space.space_id).name == "Test space"
