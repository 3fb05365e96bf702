"""The graphs as stock LangGraph UIs drive them: ``messages`` in and out, failures as errors.

agent-chat-ui and ``useStream`` submit ``{messages: [...]}``, render
``values.messages`` and show a run whose status is ``error`` as failed.
These drive the compiled graphs as the server serves them
(``raise_failures=True``), on the real stores.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from app.errors import RunFailed
from app.graphs.chat.graph import build_chat
from app.graphs.context import RunContext
from app.graphs.rpi import build_rpi
from app.spaces.stores.agents import AgentStore
from tests.support.deps import graph_deps

QUERY = "How does Raft make ledger blocks final?"


def _chat(settings):
    return build_chat(graph_deps(settings), raise_failures=True).compile(
        checkpointer=InMemorySaver()
    )


def _writer(manager, space_id: str) -> None:
    AgentStore(manager.open_space(space_id, write=True)).create(
        "writer", system_prompt="You write.", model="offline", user_id="alice"
    )


def test_chat_takes_messages_and_the_space_from_the_context(settings, manager, space) -> None:
    _writer(manager, space.space_id)
    graph = _chat(settings)
    config = {"configurable": {"thread_id": f"ui-{space.space_id}"}}
    context = RunContext(user_id="alice", space_id=space.space_id)
    human = {"type": "human", "content": [{"type": "text", "text": "@writer a haiku"}]}
    out = graph.invoke({"messages": [human]}, config, context=context)
    assert (out["status"], out["mode"]) == ("completed", "direct")
    asked, said = out["messages"]
    assert isinstance(asked, HumanMessage) and isinstance(said, AIMessage)
    assert said.content == out["reply"] and said.content.startswith("[offline model] @writer")
    # today's input still works on the same thread, and the conversation grows
    out = graph.invoke({"space_id": space.space_id, "message": "@writer again"}, config,
                       context=RunContext(user_id="alice"))  # fmt: skip
    assert out["status"] == "completed" and len(out["messages"]) == 4
    assert out["messages"][2].content == "@writer again"


def test_chat_takes_the_space_and_agent_from_an_assistants_config(settings, manager, space):
    _writer(manager, space.space_id)
    graph = _chat(settings)
    config = {"configurable": {"thread_id": f"cfg-{space.space_id}", "space_id": space.space_id}}
    out = graph.invoke({"messages": [("human", "@writer hello")]}, config,
                       context=RunContext(user_id="alice"))  # fmt: skip
    assert out["status"] == "completed"
    agent = RunContext(user_id="alice", space_id=space.space_id, agent="writer")
    config = {"configurable": {"thread_id": f"agent-{space.space_id}"}}
    out = graph.invoke({"messages": [("human", "no mention")]}, config, context=agent)
    assert (out["mode"], out["messages"][-1].name) == ("direct", "writer")


def test_a_failed_served_turn_raises_and_the_thread_goes_on(settings, manager, space) -> None:
    _writer(manager, space.space_id)
    graph = _chat(settings)
    config = {"configurable": {"thread_id": f"fail-{space.space_id}"}}
    context = RunContext(user_id="alice", space_id=space.space_id)
    with pytest.raises(RunFailed, match="no agent 'nobody'"):
        graph.invoke({"messages": [("human", "@nobody hi")]}, config, context=context)
    values = graph.get_state(config).values
    assert (values["status"], values["error"]) == ("failed", "no agent 'nobody'")
    with pytest.raises(RunFailed, match="send a message"):  # no new human message: no turn
        graph.invoke({"messages": []}, config, context=context)
    out = graph.invoke({"messages": [("human", "@writer hi")]}, config, context=context)
    assert out["status"] == "completed"
    with pytest.raises(RunFailed, match="needs a space"):
        graph.invoke({"messages": [("human", "hi")]}, {"configurable": {"thread_id": "nospace"}},
                     context=RunContext(user_id="alice"))  # fmt: skip


def test_rpi_keeps_the_question_and_the_answer_as_messages(settings, space) -> None:
    graph = build_rpi(graph_deps(settings), raise_failures=True).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": f"rpi-{space.space_id}"}}
    context = RunContext(user_id="alice")
    graph.invoke({"space_id": space.space_id, "query": QUERY}, config, context=context)
    waiting = graph.get_state(config).values["messages"]
    assert [type(m).__name__ for m in waiting] == ["HumanMessage", "AIMessage"]  # + research
    assert waiting[0].content == QUERY
    out = graph.invoke(Command(resume={"action": "approve"}), config, context=context)
    assert out["status"] == "completed"
    final = out["messages"][-1]
    assert isinstance(final, AIMessage) and final.content.startswith("# Implementation:")
    with pytest.raises(RunFailed, match="no space"):
        graph.invoke({"space_id": space.space_id, "query": QUERY},
                     {"configurable": {"thread_id": f"rpi-x-{space.space_id}"}},
                     context=RunContext(user_id="mallory"))  # fmt: skip


def test_internal_structured_calls_stay_out_of_the_messages_stream(settings, space) -> None:
    """The plan (a structured call) is not streamed as the assistant's message; answers are."""
    graph = build_rpi(graph_deps(settings), raise_failures=True).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": f"stream-{space.space_id}"}}
    streamed = graph.stream(
        {"space_id": space.space_id, "query": QUERY}, config,
        context=RunContext(user_id="alice"), stream_mode="messages",
    )  # fmt: skip
    nodes = [
        meta.get("langgraph_node")
        for message, meta in streamed
        if getattr(message, "tool_calls", None) or message.content
    ]
    assert "plan" not in nodes  # the Plan tool call of the structured call
    assert "research" in nodes or "admit" in nodes  # the question and research do stream


def test_rpi_takes_its_question_from_messages_and_its_space_from_the_context(settings, space):
    graph = build_rpi(graph_deps(settings), raise_failures=True).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": f"rpi-ui-{space.space_id}"}}
    context = RunContext(user_id="alice", space_id=space.space_id)
    graph.invoke({"messages": [("human", QUERY)]}, config, context=context)
    state = graph.get_state(config)
    assert state.interrupts and state.values["space_id"] == space.space_id
    assert state.values["query"] == QUERY


def test_a_long_sessions_checkpoint_keeps_its_last_messages() -> None:
    from langchain_core.messages import RemoveMessage

    from app.graphs.chat.intake import _turn
    from app.graphs.messages import KEPT_MAX

    history = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(KEPT_MAX + 50)]
    context = RunContext(user_id="alice", space_id="s")
    update = _turn({"messages": history}, context, {}).update
    removed = [m.id for m in update["messages"] if isinstance(m, RemoveMessage)]
    assert removed == [f"m{i}" for i in range(52)]  # room for this turn's reply
    assert update["message"] == f"m{KEPT_MAX + 49}"
