"""Compaction: older turns summarised (or, far over, truncated) after the reply, never lost."""

from __future__ import annotations

import dataclasses

from app.graphs.chat.client import ChatClient
from app.spaces.stores.agents import AgentStore
from app.spaces.stores.chat_store import ChatStore
from tests.support.deps import graph_deps


def _client(settings, manager, space_id: str, **limits) -> ChatClient:
    AgentStore(manager.open_space(space_id, write=True)).create(
        "writer", system_prompt="You write.", model="offline", user_id="alice"
    )
    return ChatClient(graph_deps(dataclasses.replace(settings, **limits)))


def test_older_turns_are_summarised_after_the_reply(settings, manager, space):
    client = _client(
        settings, manager, space.space_id, chat_context_tokens=200, compact_at=0.5,
        truncate_at=0.99,
    )  # fmt: skip
    session = None
    events: list[dict] = []
    for n in range(3):
        turn = client.send(
            space.space_id, "alice", f"@writer note number {n} about the harbour",
            session_id=session, on_event=events.append,
        )  # fmt: skip
        session = turn.session_id
        assert turn.status == "completed"
    store = ChatStore(manager.open_space(space.space_id).postgres)
    messages = store.messages(session)
    assert messages[0]["role"] == "summary"
    assert messages[0]["content"].startswith("[offline model] Summary of")
    assert {m["turn"] for m in messages if m["role"] != "summary"} == {2, 3}  # the latest two
    archives = store.archives(session)
    assert archives and {a["kind"] for a in archives} == {"summarised"}
    archived = [m["content"] for a in archives for m in a["turns"]]
    assert "@writer note number 0 about the harbour" in archived  # the raw turn is kept
    kinds = [e["event_type"] for e in events]
    first = kinds.index("session.compacted")
    assert kinds.index("message.created") < first  # the reply was out before compaction
    assert kinds[first - 1] == "usage.updated"  # the summary is a (counted) model call


def test_far_over_the_budget_the_oldest_turns_are_truncated(settings, manager, space):
    client = _client(settings, manager, space.space_id, chat_context_tokens=100)
    first = client.send(space.space_id, "alice", "@writer hello")
    client.send(space.space_id, "alice", "@writer again", session_id=first.session_id)
    events: list[dict] = []
    client.send(
        space.space_id, "alice", "@writer " + "long text " * 200,
        session_id=first.session_id, on_event=events.append,
    )  # fmt: skip
    store = ChatStore(manager.open_space(space.space_id).postgres)
    (archive,) = store.archives(first.session_id)
    assert (archive["kind"], archive["summary"], archive["first_turn"]) == ("truncated", None, 1)
    assert [m["role"] for m in store.messages(first.session_id)][:1] == ["user"]  # no summary
    compacted = next(e for e in events if e["event_type"] == "session.compacted")
    assert compacted["payload"]["kind"] == "truncated"
    after = events.index(compacted)
    assert "usage.updated" not in [e["event_type"] for e in events[after - 1 : after]]
