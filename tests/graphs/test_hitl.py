"""Approvals in the standard HITL schema, answered with ``decisions`` (and still with ``action``).

agent-chat-ui and Agent Inbox render ``action_requests`` / ``review_configs``
and resume with ``{decisions: [...]}``; the project's own fields stay beside
them. Parallel tool approvals are answered one by one, by interrupt id.
"""

from __future__ import annotations

import dataclasses

from app.graphs.chat.client import ChatClient
from app.runner import Runner
from app.spaces.stores.agents import AgentStore
from tests.support.deps import graph_deps
from tests.support.rpi import QUERY

APPROVE = {"decisions": [{"type": "approve"}]}


def _reject(message: str) -> dict:
    return {"decisions": [{"type": "reject", "message": message}]}


def _edit(name: str, args: dict) -> dict:
    return {"decisions": [{"type": "edit", "edited_action": {"name": name, "args": args}}]}


def _standard(request: dict, name: str) -> dict:
    """The request's one action request, checked against its review config."""
    (action,) = request["action_requests"]
    (review,) = request["review_configs"]
    assert action["name"] == review["action_name"] == name
    assert review["allowed_decisions"] == ["approve", "edit", "reject"]
    assert isinstance(action["description"], str) and action["description"]
    return action


def test_rpi_plan_approval_is_a_hitl_request_answered_with_decisions(settings, space) -> None:
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", space.space_id, QUERY)
    request = waiting.request
    action = _standard(request, "approve_plan")
    assert action["args"] == waiting.plan == request["plan"]
    assert request["type"] == "plan_approval" and "repairs" in request
    assert "Plan for: " + QUERY in action["description"]
    edited = {"title": "Edited", "steps": [{"id": "only", "description": "Say it briefly."}]}
    bad = runner.resume(waiting.thread_id, _edit("approve_plan", {"title": "x", "steps": []}))
    assert bad.status == "awaiting_approval" and bad.request["error"]
    done = runner.resume(waiting.thread_id, _edit("approve_plan", edited))
    assert done.status == "completed", done.error
    final = runner.status(done.thread_id)
    assert final.status == "completed"
    rejected = runner.start("rpi", space.space_id, QUERY)
    out = runner.resume(rejected.thread_id, _reject("not now"))
    assert out.status == "rejected"
    graph = runner._compiled("rpi")
    values = graph.get_state({"configurable": {"thread_id": rejected.thread_id}}).values
    assert values["feedback"] == "not now"
    assert values["messages"][-1].content == "The plan was rejected: not now"
    approved = runner.start("rpi", space.space_id, QUERY)
    assert runner.resume(approved.thread_id, APPROVE).status == "completed"
    legacy = runner.start("rpi", space.space_id, QUERY)  # today's payload still works
    assert runner.resume(legacy.thread_id, {"action": "approve"}).status == "completed"


def test_chat_task_plan_edit_and_reject_with_decisions(settings, manager, space) -> None:
    store = AgentStore(manager.open_space(space.space_id, write=True))
    for name in ("researcher", "writer"):
        store.create(name, system_prompt=f"You are a {name}.", model="offline", user_id="alice")
    client = ChatClient(graph_deps(settings))
    planned = client.send(space.space_id, "alice", "research raft; write a summary")
    ((pending),) = planned.interrupts
    action = _standard(pending["value"], "approve_task_plan")
    assert [t["agent"] for t in action["args"]["tasks"]] == [
        t["agent"] for t in pending["value"]["plan"]
    ]
    assert pending["value"]["expires_at"] in action["description"]
    one = {"tasks": [{"id": "w1", "agent": "writer", "description": "write it"}]}
    unknown = {"tasks": [{"id": "w1", "agent": "nobody", "description": "x"}]}
    asked = client.answer(space.space_id, "alice", planned.session_id,
                          {pending["id"]: _edit("approve_task_plan", unknown)})  # fmt: skip
    assert asked.status == "awaiting_approval" and "nobody" in asked.request["error"]
    (again,) = asked.interrupts
    done = client.answer(space.space_id, "alice", planned.session_id,
                         {again["id"]: _edit("approve_task_plan", one)})  # fmt: skip
    assert done.status == "completed", done.error
    assert [(t["id"], t["agent"]) for t in done.tasks] == [("w1", "writer")]
    second = client.send(space.space_id, "alice", "research b; write c",
                         session_id=planned.session_id)  # fmt: skip
    (pending,) = second.interrupts
    out = client.answer(space.space_id, "alice", planned.session_id,
                        {pending["id"]: _reject("too broad")})  # fmt: skip
    assert (out.status, out.error) == ("rejected", "too broad")


def test_parallel_tool_approvals_answered_by_id_with_decisions(settings, manager, space, site):
    url, hits = site
    store = AgentStore(manager.open_space(space.space_id, write=True))
    for name in ("alpha", "beta", "gamma"):
        store.create(
            name, system_prompt=f"You are {name}; you fetch pages.", model="offline",
            user_id="alice", tools=["http_get"],
        )  # fmt: skip
    client = ChatClient(graph_deps(dataclasses.replace(settings, allow_private_urls=True)))
    text = f"alpha fetch {url}?a; beta fetch {url}?b; gamma fetch {url}?c"
    planned = client.send(space.space_id, "alice", text)
    (plan,) = planned.interrupts
    asked = client.answer(space.space_id, "alice", planned.session_id, {plan["id"]: APPROVE})
    by_task = {i["value"]["task_id"]: i for i in asked.interrupts}
    assert set(by_task) == {"t1", "t2", "t3"}
    for task_id, pending in by_task.items():
        action = _standard(pending["value"], "http_get")
        assert action["args"]["url"].endswith("?" + "abc"[int(task_id[1]) - 1])
    edit = _edit("http_get", {"url": f"{url}?edited"})
    one = client.answer(space.space_id, "alice", asked.session_id, {by_task["t1"]["id"]: edit})
    assert {i["value"]["task_id"] for i in one.interrupts} == {"t2", "t3"}
    assert hits == ["/page?edited"]  # the edited call ran, not the asked one
    other = _edit("memory_search", {"query": "x"})
    wrong = client.answer(space.space_id, "alice", asked.session_id, {by_task["t2"]["id"]: other})
    t2 = next(i for i in wrong.interrupts if i["value"]["task_id"] == "t2")
    assert "not the tool" in t2["value"]["error"]
    rest = client.answer(
        space.space_id, "alice", asked.session_id,
        {t2["id"]: _reject("no"), by_task["t3"]["id"]: {"action": "approve"}},
    )  # fmt: skip
    assert rest.status == "completed", rest.error
    assert sorted(hits) == ["/page?c", "/page?edited"]
    results = {t["id"]: t["result"] for t in rest.tasks}
    assert "did not approve" in results["t2"]


def test_rpi_tool_approval_edited_and_rejected_with_decisions(space, settings, site) -> None:
    from tests.support.rpi import to_tool_request

    url, hits = site
    allowed = dataclasses.replace(settings, allow_private_urls=True)
    runner = Runner(allowed, graph_deps(allowed))
    asked = to_tool_request(runner, space.space_id, url)
    assert _standard(asked.request, "http_get")["args"] == {"url": url}
    wrong = runner.resume(asked.thread_id, _edit("other_tool", {"url": url}))
    assert wrong.status == "awaiting_approval" and "not the tool" in wrong.request["error"]
    done = runner.resume(asked.thread_id, _edit("http_get", {"url": f"{url}?edited"}))
    assert done.status == "completed", done.error
    assert hits == ["/page?edited"]  # the edited call ran, not the asked one
    again = to_tool_request(runner, space.space_id, url)
    done = runner.resume(again.thread_id, _reject("no fetching"))
    assert done.status == "completed" and hits == ["/page?edited"]
