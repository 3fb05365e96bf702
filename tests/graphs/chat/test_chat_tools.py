"""The agents' tool registry: each tool works inside its space and fails as text."""

from __future__ import annotations

from app.graphs.chat.tools import RUNNERS, TOOLS, run_tool
from app.spaces.stores.agents import AGENT_TOOLS
from tests.support.deps import node_scope_for


def test_the_registry_is_the_agents_tool_list():
    assert set(TOOLS) == set(RUNNERS) == set(AGENT_TOOLS)


def test_each_tool_reads_and_writes_only_its_space(settings, manager, space, new_id):
    from app.spaces.model.space_model import SpaceConfig

    handle = manager.open_space(space.space_id, write=True)
    handle.vault.write_note("Learning/raft.md", "# Raft\n\nRaft elects a leader by majority vote.")
    (handle.vault.root / "Learning" / "votes.csv").write_text("node,votes\na,3\nb,2\n")
    handle.graph.merge_entity("Raft", "protocol")
    with handle.memory() as memory:
        memory.add("Raft needs a majority to commit.")
        memory.add("private to an agent", agent_id="other")
    scope = node_scope_for(settings, space.space_id, "tools-thread")
    every = list(AGENT_TOOLS)

    assert "Learning/raft.md" in run_tool(scope, every, "vault_search", {"query": "leader"})
    assert "majority vote" in run_tool(scope, every, "vault_read", {"path": "Learning/raft.md"})
    wrote = run_tool(scope, every, "write_note", {"path": "notes/a.md", "text": "hello"})
    assert wrote == "wrote Agents/notes/a.md"
    assert handle.vault.read_note("Agents/notes/a.md").text.strip() == "hello"
    recalled = run_tool(scope, every, "recall", {"query": "majority commit"})
    assert "Raft needs a majority" in recalled and "private" not in recalled
    assert "Raft" in run_tool(scope, every, "graph_query", {"text": "raf"})
    assert "'rows': 2" in run_tool(scope, every, "data_stats", {"path": "Learning/votes.csv"})

    # failures are answers, not errors; nothing outside the space or the agent's tools
    assert run_tool(scope, every, "vault_read", {"path": "../../etc/passwd"}).startswith("failed:")
    assert run_tool(scope, every, "write_note", {"path": "x.md"}).startswith("failed: needs 'text'")
    assert run_tool(scope, ["recall"], "vault_read", {"path": "Learning/raft.md"}) == (
        "failed: tool 'vault_read' is not one of this agent's tools"
    )
    other = manager.create_space(SpaceConfig(new_id(), "Other", "alice"))
    elsewhere = node_scope_for(settings, other.space_id, "tools-thread-2")
    assert run_tool(elsewhere, every, "vault_search", {"query": "leader"}) == "no matching notes"
    assert run_tool(elsewhere, every, "recall", {"query": "majority"}) == "nothing recalled"
