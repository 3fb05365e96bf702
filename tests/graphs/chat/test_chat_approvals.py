"""Tool approvals in parallel branches: each interrupt answered on its own, by its id."""

from __future__ import annotations

import dataclasses

import pytest

from app.errors import InvalidInput
from app.graphs.chat.client import ChatClient
from app.spaces.stores.agents import AgentStore
from app.spaces.stores.chat_store import ChatStore
from tests.support.deps import graph_deps


def test_three_parallel_tool_approvals_answered_one_by_one(settings, manager, space, site):
    url, hits = site
    store = AgentStore(manager.open_space(space.space_id, write=True))
    for name in ("alpha", "beta", "gamma"):
        store.create(
            name, system_prompt=f"You are {name}; you fetch pages.", model="offline",
            user_id="alice", tools=["http_get"],
        )  # fmt: skip
    allowed = dataclasses.replace(settings, allow_private_urls=True)
    client = ChatClient(graph_deps(allowed))
    text = f"alpha fetch {url}?a; beta fetch {url}?b; gamma fetch {url}?c"
    planned = client.send(space.space_id, "alice", text)
    assert [t["agent"] for t in planned.request["plan"]] == ["alpha", "beta", "gamma"]
    (plan_interrupt,) = planned.interrupts
    asked = client.answer(
        space.space_id, "alice", planned.session_id, {plan_interrupt["id"]: {"action": "approve"}}
    )
    # all three branches stopped in the same wave, each with its own interrupt
    assert asked.status == "awaiting_approval" and len(asked.interrupts) == 3
    by_task = {i["value"]["task_id"]: i for i in asked.interrupts}
    assert set(by_task) == {"t1", "t2", "t3"}
    assert {i["value"]["tool"] for i in asked.interrupts} == {"http_get"}
    assert len({i["id"] for i in asked.interrupts}) == 3
    assert hits == []  # nothing fetched before a person said so

    one = client.answer(
        space.space_id, "alice", asked.session_id, {by_task["t1"]["id"]: {"action": "approve"}}
    )
    assert one.status == "awaiting_approval"
    assert {i["value"]["task_id"] for i in one.interrupts} == {"t2", "t3"}
    assert {i["id"] for i in one.interrupts} == {by_task["t2"]["id"], by_task["t3"]["id"]}
    assert hits == ["/page?a"]

    rest = client.answer(
        space.space_id, "alice", asked.session_id,
        {by_task["t2"]["id"]: {"action": "reject"}, by_task["t3"]["id"]: {"action": "approve"}},
    )  # fmt: skip
    assert rest.status == "completed", rest.error
    assert sorted(hits) == ["/page?a", "/page?c"]
    results = {t["id"]: t["result"] for t in rest.tasks}
    assert "pineapple" in results["t1"] and "pineapple" in results["t3"]
    assert "did not approve" in results["t2"] and "pineapple" not in results["t2"]
    rows = ChatStore(manager.open_space(space.space_id).postgres).tasks(asked.session_id)
    assert {r["task_id"]: r["status"] for r in rows} == {
        "t1": "completed", "t2": "completed", "t3": "completed",
    }  # fmt: skip


def test_an_unknown_interrupt_id_is_refused(settings, manager, space):
    AgentStore(manager.open_space(space.space_id, write=True)).create(
        "alpha", system_prompt="p", model="offline", user_id="alice"
    )
    client = ChatClient(graph_deps(settings))
    planned = client.send(space.space_id, "alice", "alpha do a thing")
    with pytest.raises(InvalidInput, match="no pending approval 'nope'"):
        client.answer(space.space_id, "alice", planned.session_id, {"nope": {"action": "approve"}})
    assert client.status(space.space_id, "alice", planned.session_id).status == "awaiting_approval"
