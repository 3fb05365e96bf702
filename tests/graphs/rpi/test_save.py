"""The save step's graph facts survive a kill of the graph server right after they are written.

Issue 11, item 5: the embedded FalkorDB snapshots once a second, and a
completed run never writes its facts again, so ``save`` must make them
durable before the run is recorded as completed. Here the server is killed
with SIGKILL the moment ``save`` has written them (and made them durable);
the run still completes, and the facts are there when the server is back.
"""

from __future__ import annotations

import json
import os
import signal

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from app.graphs.context import RunContext
from app.graphs.rpi import build_rpi
from app.spaces.stores.graph import SpaceGraph
from tests.support.deps import graph_deps


def test_graph_facts_survive_kill_9_right_after_the_save_step_writes_them(
    manager, space, settings, monkeypatch
) -> None:
    kills: list[int] = []
    durable = SpaceGraph.make_durable

    def durable_then_kill(graph: SpaceGraph) -> None:
        durable(graph)
        state = json.loads((settings.home / "falkordb" / "server.json").read_text())
        os.kill(state["pid"], signal.SIGKILL)  # before anything else runs
        kills.append(state["pid"])

    monkeypatch.setattr(SpaceGraph, "make_durable", durable_then_kill)
    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"kill-{space.space_id}"}}
    context = RunContext(user_id="alice")
    graph.invoke(
        {"space_id": space.space_id, "query": "How does Raft finalise blocks?"},
        config,
        context=context,
    )
    done = graph.invoke(Command(resume={"action": "approve"}), config, context=context)
    assert done["status"] == "completed"
    assert len(kills) == 1  # the save step asked for durability, and the server died right then
    relations = manager.open_space(space.space_id).graph.relations()  # revives the server
    assert relations, "the run's graph facts were lost with the server"
    assert all(rel == "MENTIONS" for _, rel, _ in relations)
    state = json.loads((settings.home / "falkordb" / "server.json").read_text())
    assert state["pid"] != kills[0]
