"""The pgvector memory store: limits honoured, idempotent keys, legacy migration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from app.errors import InvalidInput, SpaceArchived
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.memory_rows import payload_for


def test_limits_are_honoured_past_twenty(manager: SpaceManager, space: SpaceConfig) -> None:
    """Mem0 2.2 silently capped search and listing at 20 (issue 13, 7a)."""
    with manager.open_space(space.space_id, write=True).memory() as memory:
        ids = memory.add_many([(f"fact number {n} about turbines", {"n": n}) for n in range(45)])
        assert len(set(ids)) == 45
        assert len(memory.all(limit=10_000)) == 45
        assert len(memory.all(limit=30)) == 30
        assert len(memory.search("turbines", limit=40)) == 40
        assert len(memory.search("turbines", limit=3)) == 3
        assert memory.stats()["count"] == 45
        with pytest.raises(InvalidInput):
            memory.search("turbines", limit="many")  # type: ignore[arg-type]


def test_full_text_ranks_at_most_the_candidate_cap(manager, space, monkeypatch) -> None:
    """A word in more rows than ``TEXT_CANDIDATES`` ranks only that many (bounded cost)."""
    from app.spaces.stores import memory as memory_module

    with manager.open_space(space.space_id, write=True).memory() as memory:
        memory.add_many([(f"turbine note {n}", {}) for n in range(12)])
        assert len(memory.text_search("turbine", 50)) == 12
        monkeypatch.setattr(memory_module, "TEXT_CANDIDATES", 4)
        assert len(memory.text_search("turbine", 50)) == 4


def test_key_makes_add_idempotent(manager: SpaceManager, space: SpaceConfig) -> None:
    with manager.open_space(space.space_id, write=True).memory() as memory:
        first = memory.add("the pump P7 runs at 42 bar", key="k1")
        assert memory.add("the pump P7 runs at 42 bar", key="k1") == first
        assert [m.id for m in memory.all()] == [first]
        assert memory.all()[0].metadata["idempotency_key"] == "k1"


def test_text_search_delete_prune(manager: SpaceManager, space: SpaceConfig) -> None:
    with manager.open_space(space.space_id, write=True).memory() as memory:
        keep = memory.add("Kestrel telemetry arrives every minute")
        gone = memory.add("Obsolete rule about fax machines")
        assert [h.id for h in memory.text_search("fax rules", 5)] == [gone]
        assert memory.delete(gone) is True
        assert memory.delete(gone) is False
        with pytest.raises(InvalidInput):
            memory.delete("not-an-id")
        assert memory.prune(datetime.now(UTC) - timedelta(days=1)) == 0
        assert [m.id for m in memory.all()] == [keep]
        assert memory.prune(datetime.now(UTC) + timedelta(seconds=5)) == 1
        assert memory.all() == []


def test_archived_space_memory_is_read_only(manager: SpaceManager, new_id) -> None:
    sid = manager.create_space(SpaceConfig(new_id("ro"), "RO", "alice")).space_id
    manager.archive_space(sid)
    with manager.open_space(sid).memory() as memory:
        for write in (
            lambda: memory.add("x"),
            lambda: memory.add_many([("x", None)]),
            lambda: memory.prune(datetime.now(UTC)),
        ):
            with pytest.raises(SpaceArchived):
                write()


def _legacy_space(manager: SpaceManager, settings, new_id, count: int) -> SpaceConfig:
    """A space as today's main made it: registry row and schema, memories in a local folder."""
    from qdrant_client import QdrantClient, models

    space = manager.create_space(SpaceConfig(new_id("old"), "Old", "alice"))
    with manager.backends.pool.connection() as conn:
        conn.execute(
            sql.SQL("DROP TABLE {}").format(
                sql.Identifier(space.postgres_schema, space.mem0_collection_name)
            )
        )
    manager.backends.memory_tables.discard(space.space_id)
    embedder = manager.backends.embedder()
    texts = [f"legacy memory {n}: the valve V{n} was replaced" for n in range(count)]
    vectors = embedder.model.embed_documents(texts)
    client = QdrantClient(path=str(settings.home / "qdrant" / space.space_id))
    try:
        client.create_collection(
            space.mem0_collection_name,
            vectors_config=models.VectorParams(size=embedder.dims, distance=models.Distance.COSINE),
        )
        client.upsert(
            space.mem0_collection_name,
            [
                models.PointStruct(
                    id=str(uuid.uuid4()),
                    vector=v,
                    payload=payload_for(space.space_id, t, {"n": n, "idempotency_key": f"k{n}"}),
                )
                for n, (t, v) in enumerate(zip(texts, vectors, strict=True))
            ],
        )
    finally:
        client.close()
    return space


def test_legacy_local_mode_space_migrates_on_start(settings, new_id) -> None:
    with SpaceManager(settings) as manager:
        space = _legacy_space(manager, settings, new_id, 30)
    folder = settings.home / "qdrant" / space.space_id
    assert folder.is_dir()
    # A new manager (as a process starting) migrates the folder before first use.
    with (
        SpaceManager(settings) as manager,
        manager.open_space(space.space_id, write=True).memory() as memory,
    ):
        listed = memory.all(limit=1000)
        assert len(listed) == 30
        assert memory.search("valve V7 replaced", limit=1)[0].text.startswith("legacy memory 7:")
        # Keys survive: re-adding a migrated key stores nothing new.
        assert memory.add("again", key="k3") in {m.id for m in listed}
    assert not folder.exists()
    assert (settings.home / "qdrant-migrated" / space.space_id).is_dir()


def test_large_load_rebuilds_the_index(manager, space, monkeypatch) -> None:
    """Past REBUILD_AT rows into a smaller table, the HNSW index is rebuilt once, not lost."""
    from app.spaces.stores import memory as memory_module

    monkeypatch.setattr(memory_module, "REBUILD_AT", 10)
    with manager.open_space(space.space_id, write=True).memory() as memory:
        memory.add_many([(f"bulk fact {n} about gearboxes", None) for n in range(40)])
        assert memory.search("gearboxes", limit=50).__len__() == 40
    with manager.backends.pool.connection() as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            [space.postgres_schema, space.mem0_collection_name],
        ).fetchall()
    assert f"{space.mem0_collection_name}_hnsw" in {i[0] for i in indexes}


def test_mem0_pgvector_provider_reads_the_table(manager: SpaceManager, space) -> None:
    """The payload layout is Mem0's: its own pgvector provider finds what we stored."""
    from psycopg.conninfo import make_conninfo

    from app.llm.resolve import resolve_chat_model
    from app.spaces.stores.memory_qdrant import _mem0_class

    with manager.open_space(space.space_id, write=True).memory() as memory:
        stored = memory.add("Heron valves are serviced every spring")
    backends = manager.backends
    uri = make_conninfo(backends._uri, options=f"-c search_path={space.postgres_schema},public")
    mem0 = _mem0_class(backends.settings.home).from_config(
        {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": uri,
                    "collection_name": space.mem0_collection_name,
                    "embedding_model_dims": backends.embedder().dims,
                    "hnsw": True,
                },
            },
            "embedder": {"provider": "langchain", "config": {"model": backends.embedder().model}},
            "llm": {
                "provider": "langchain",
                "config": {"model": resolve_chat_model("offline", backends.settings)},
            },
            "history_db_path": str(backends.settings.home / f"mem0-{space.space_id}.db"),
        }
    )
    try:
        found = mem0.get_all(filters={"user_id": space.space_id}, top_k=10)["results"]
        assert [(m["id"], m["memory"]) for m in found] == [
            (stored, "Heron valves are serviced every spring")
        ]
    finally:
        mem0.close()


def test_hnsw_indexes_use_the_chosen_settings(manager, space) -> None:
    """ef_construction 128 on memories and vault chunks, ef_search 200 on every connection."""
    opened = manager.open_space(space.space_id, write=True)
    with opened.memory() as memory:
        memory.add("the pump P7 runs at 42 bar")
    opened.reindex_changed()
    with manager.backends.pool.connection() as conn:
        defs = [
            r[0]
            for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE %s",
                [space.postgres_schema, "%USING hnsw%"],
            ).fetchall()
        ]
        ef_search = conn.execute("SHOW hnsw.ef_search").fetchone()
    assert len(defs) == 2 and all("ef_construction='128'" in d for d in defs), defs
    assert ef_search == ("200",)


def test_migration_is_a_start_up_step_not_a_side_effect_of_the_pool(settings, new_id) -> None:
    """Opening connections only opens them; ``open_backends`` (every entry point's) migrates."""
    from app.spaces.infra.backends import Backends
    from app.spaces.startup import open_backends

    with SpaceManager(settings) as manager:
        space = _legacy_space(manager, settings, new_id, 3)
    folder = settings.home / "qdrant" / space.space_id
    plain = Backends(settings)
    try:
        with plain.pool.connection() as conn:
            conn.execute("SELECT 1")
        assert folder.is_dir()
    finally:
        plain.close()
    open_backends(settings).close()
    assert not folder.exists()
    assert (settings.home / "qdrant-migrated" / space.space_id).is_dir()
