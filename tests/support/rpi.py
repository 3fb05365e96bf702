"""What several rpi tests start from: the question, a seeded space, a run up to a tool approval."""

from __future__ import annotations

from app.runner import Runner

QUERY = "How does Raft make ledger blocks final?"


def seed(manager, space_id: str) -> None:
    """A note pair, a memory and a graph fact for research to find."""
    space = manager.open_space(space_id, write=True)
    space.vault.write_note(
        "Learning/Raft.md",
        "# Raft\n\nAn entry is committed once a majority of the Raft cluster stored it.",
        {"tags": ["consensus"]},
    )
    space.vault.write_note(
        "Learning/Ledger.md", "# Ledger\n\nA ledger block is final once the Raft log commits it."
    )
    with space.memory() as memory:
        memory.add("The team chose Raft over Paxos for the ledger.", key="seed")
    space.graph.merge_relation("Raft", "FINALISES", "Ledger")


def to_tool_request(runner: Runner, space_id: str, url: str):
    """An rpi run on ``url`` approved past its plan, now waiting for the fetch's approval."""
    waiting = runner.start("rpi", space_id, f"Summarise {url}")
    assert [s["id"] for s in waiting.plan["steps"]] == ["s1", "u1", "s2", "s3"]
    asked = runner.resume(waiting.thread_id, {"action": "approve"})
    assert asked.status == "awaiting_approval"
    return asked
