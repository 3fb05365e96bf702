"""Creation that fails half-way leaves nothing behind; stores that are down give one line."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from app.errors import StoreUnavailable
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.cli import run_cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_graph_down_mid_creation_leaves_nothing(settings, new_id) -> None:
    broken = dataclasses.replace(settings, neo4j_uri=f"bolt://127.0.0.1:{_closed_port()}")
    sid = new_id("half")
    with SpaceManager(broken) as manager:
        with pytest.raises(StoreUnavailable, match=r"^graph store failed") as info:
            manager.create_space(SpaceConfig(sid, "Half", "alice"))
        assert info.value.store == "graph"
        assert sid not in {s.space_id for s in manager.list_spaces()}
        with manager.backends.pool.connection() as conn:
            assert (
                conn.execute("SELECT to_regnamespace(%s)", [f"space_{sid}"]).fetchone()[0] is None
            )
        assert not (settings.home / "qdrant" / sid).exists()
        assert not (settings.vaults_dir / sid).exists()
    # The same id can be created once the store is back.
    with SpaceManager(settings) as manager:
        assert manager.create_space(SpaceConfig(sid, "Whole", "alice")).space_id == sid


def test_vault_failure_rolls_back_memory_and_graph(settings, new_id, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the vaults folder should be")
    broken = dataclasses.replace(settings, vaults_dir=blocker)
    sid = new_id("novault")
    with SpaceManager(broken) as manager:
        with pytest.raises(StoreUnavailable, match=r"^vault store failed"):
            manager.create_space(SpaceConfig(sid, "No vault", "alice"))
        assert not (settings.home / "qdrant" / sid).exists()
        graph = manager.backends.graph()
        from app.spaces.stores.graph import _run

        rows = _run(graph, "MATCH (p:SpacePartition {space_id: $s}) RETURN count(p) AS n", s=sid)
        assert rows[0]["n"] == 0
        with manager.backends.pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM spaces_registry.spaces WHERE space_id = %s", [sid]
            ).fetchone()
            assert row[0] == 0


def test_postgres_down_is_one_line(tmp_path) -> None:
    settings_like = type("S", (), {"home": tmp_path, "vaults_dir": tmp_path / "v"})()
    result = run_cli(
        settings_like,
        "list",
        DATABASE_URL=f"postgresql://nobody@127.0.0.1:{_closed_port()}/x?connect_timeout=1",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("spaces: postgres store failed")
    assert len(result.stderr.strip().splitlines()) == 1


def test_graph_server_crash_is_survived(manager, space, settings) -> None:
    """FalkorDB's Bolt layer has segfaulted here; the next query revives it."""
    import json
    import os
    import signal
    import time

    handle = manager.open_space(space.space_id, write=True)
    handle.graph.merge_entity("Before crash", "concept")
    time.sleep(2.2)  # the server snapshots every second that has a change
    state = json.loads((settings.home / "falkordb" / "server.json").read_text())
    os.kill(state["pid"], signal.SIGSEGV)
    assert handle.graph.get_entity("Before crash") is not None
    handle.graph.merge_entity("After crash", "concept")
    assert handle.graph.get_entity("After crash") is not None
    revived = json.loads((settings.home / "falkordb" / "server.json").read_text())
    assert revived["pid"] != state["pid"]
    assert revived["bolt_port"] == state["bolt_port"]
