"""Adversarial isolation: data written in space A is unreachable from space B."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager

SECRET = "zebra-quartz payroll of project Aurora"


@pytest.fixture
def pair(manager: SpaceManager, new_id) -> tuple[SpaceConfig, SpaceConfig]:
    a = manager.create_space(SpaceConfig(new_id("a"), "A", "alice"))
    b = manager.create_space(SpaceConfig(new_id("b"), "B", "bob"))
    return a, b


def test_postgres(manager: SpaceManager, pair) -> None:
    a, b = pair
    with manager.open_space(a.space_id, write=True).postgres.connection() as conn:
        conn.execute(
            "INSERT INTO runs (thread_id, user_id, query, status) VALUES (%s, 'alice', %s, 'done')",
            ["t-a", SECRET],
        )
    with manager.open_space(b.space_id).postgres.connection() as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert conn.execute("SHOW search_path").fetchone()[0] == b.postgres_schema
    # The pool hands the same connections around; nothing of A's setting survives.
    with manager.backends.pool.connection() as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == '"$user", public'


def test_memory(manager: SpaceManager, pair) -> None:
    a, b = pair
    with manager.open_space(a.space_id, write=True).memory() as memory:
        memory.add(SECRET)
        assert memory.search("Aurora payroll")[0].text == SECRET
    with manager.open_space(b.space_id).memory() as memory:
        assert memory.search("Aurora payroll") == []
        assert memory.all() == []


def test_vault(manager: SpaceManager, pair) -> None:
    a, b = pair
    handle_a = manager.open_space(a.space_id, write=True)
    handle_a.vault.write_note("Projects/secret.md", SECRET)
    vault_b = manager.open_space(b.space_id, write=True).vault
    assert vault_b.list_notes() == []
    for hostile in (
        f"../{a.space_id}/Projects/secret.md",
        f"Projects/../../{a.space_id}/Projects/secret.md",
        str(handle_a.vault.root / "Projects" / "secret.md"),
        ".obsidian/app.md",
        "Projects/secret.md\x00.md",
        "Projects\\..\\secret.md",
    ):
        with pytest.raises(InvalidInput):
            vault_b.read_note(hostile)
        with pytest.raises(InvalidInput):
            vault_b.write_note(hostile, "overwrite")
    assert handle_a.vault.read_note("Projects/secret.md").text.strip() == SECRET


def test_vault_symlink_out_is_refused(manager: SpaceManager, pair) -> None:
    a, b = pair
    vault_b = manager.open_space(b.space_id, write=True).vault
    (vault_b.root / "Projects" / "link").symlink_to(manager.vault_root(a))
    with pytest.raises(InvalidInput, match="outside"):
        vault_b.write_note("Projects/link/Projects/x.md", "escape")
    assert not (manager.vault_root(a) / "Projects" / "x.md").exists()


def test_graph(manager: SpaceManager, pair) -> None:
    a, b = pair
    graph_a = manager.open_space(a.space_id, write=True).graph
    graph_b = manager.open_space(b.space_id, write=True).graph
    graph_a.merge_relation("Aurora", "pays", "Payroll")
    # Same names in B make separate nodes, and B's traversal never crosses into A.
    graph_b.merge_entity("Aurora")
    assert graph_b.get_entity("Payroll") is None
    assert graph_b.find_entities("aur") == [graph_b.get_entity("Aurora")]
    assert graph_b.neighbours("Aurora", hops=3) == []
    assert graph_b.relations() == []
    assert graph_b.counts() == {"entities": 1, "relations": 0}
    assert graph_a.neighbours("Aurora") == [{"name": "Payroll", "kind": "concept"}]
    assert graph_a.counts() == {"entities": 2, "relations": 1}


def test_graph_rejects_injection_shaped_input(manager: SpaceManager, space) -> None:
    graph = manager.open_space(space.space_id, write=True).graph
    with pytest.raises(InvalidInput):
        graph.merge_relation("a", "x]->(b) DETACH DELETE b //", "c")
    with pytest.raises(InvalidInput):
        graph.merge_entity("a", properties={"space_id": "other"})
    with pytest.raises(InvalidInput):
        graph.neighbours("a", hops=10)
    # Cypher in a name is only ever data.
    hostile = "x'}) MATCH (n) DETACH DELETE n // \\' O'Brien"
    graph.merge_entity(hostile)
    assert graph.counts()["entities"] == 1
    assert graph.get_entity(hostile)["name"] == hostile


def test_batched_graph_writes_and_search_stay_in_their_space(manager, new_id) -> None:
    a = manager.open_space(manager.create_space(SpaceConfig(new_id("ga"), "A", "alice")).space_id)
    b = manager.open_space(manager.create_space(SpaceConfig(new_id("gb"), "B", "bob")).space_id)
    hostile = "O'Brien \\ }) MATCH (x) DETACH DELETE x //"
    a.graph.merge_facts(
        [(hostile, "person"), ("Shared", "concept")], [(hostile, "KNOWS", "Shared")]
    )
    b.graph.merge_facts([("Shared", "concept")], [("Shared", "OWNED_BY", "Bob")])
    found = a.graph.search(["shared", "brien"])
    assert {f["name"] for f in found} == {hostile, "Shared"}
    assert all(t == (hostile, "KNOWS", "Shared") for f in found for t in f["relations"])
    assert b.graph.search(["brien"]) == []
    assert b.graph.relations() == [("Shared", "OWNED_BY", "Bob")]
