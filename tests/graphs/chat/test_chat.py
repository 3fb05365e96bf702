"""The ``chat`` graph: direct calls, orchestrated plans with approval, history, failures."""

from __future__ import annotations

import dataclasses

import pytest

from app.errors import InvalidInput, ModelUnavailable, SpaceNotFound
from app.graphs.chat.agent_context import AgentContext
from app.graphs.chat.client import ChatClient
from app.graphs.chat.planning import check_plan, fail_blocked, new_task, next_wave
from app.spaces.stores.agents import AgentStore
from app.spaces.stores.chat_store import ChatStore
from tests.support.deps import graph_deps
from tests.support.fake_openai import FakeOpenAI, completion


def _team(manager, space_id: str, **limits: int) -> AgentStore:
    store = AgentStore(manager.open_space(space_id, write=True))
    store.create(
        "researcher", system_prompt="You research facts and sources.", model="offline",
        user_id="alice", concurrency_limit=limits.get("researcher", 1),
    )  # fmt: skip
    store.create(
        "writer", system_prompt="You write summaries and reports.", model="offline",
        user_id="alice", concurrency_limit=limits.get("writer", 1),
    )  # fmt: skip
    return store


@pytest.fixture
def client(settings) -> ChatClient:
    return ChatClient(graph_deps(settings))


def test_direct_call_answers_with_the_agents_context(client, manager, space):
    _team(manager, space.space_id)
    events: list[dict] = []
    first = client.send(
        space.space_id, "alice", "@researcher what is raft?", on_event=events.append
    )
    assert (first.status, first.mode, first.turn) == ("completed", "direct", 1)
    assert first.reply.startswith("[offline model] @researcher on: what is raft?")
    kinds = [e["event_type"] for e in events]
    assert "plan.requested" not in kinds and "approval.required" not in kinds  # no planner
    for kind in ("agent.direct_call", "task.started", "context.retrieved", "task.completed"):
        assert kind in kinds
    statuses = [e["payload"]["status"] for e in events if e["event_type"] == "agent.status.changed"]
    assert statuses == ["busy", "ready"]
    assert kinds.index("task.completed") < kinds.index("run.completed")
    second = client.send(
        space.space_id, "alice", "@researcher more about raft?", session_id=first.session_id
    )
    # the second call retrieved the first interaction from the agent's own context
    assert "From my context: Task: what is raft?" in second.reply
    messages = ChatStore(manager.open_space(space.space_id).postgres).messages(first.session_id)
    assert [(m["turn"], m["role"]) for m in messages] == [
        (1, "user"), (1, "assistant"), (2, "user"), (2, "assistant"),
    ]  # fmt: skip
    assert messages[1]["agent_id"] == f"{space.space_id}_researcher_1"
    team = AgentStore(manager.open_space(space.space_id, write=True))
    team.delete("researcher")  # soft: the session and who answered stay readable
    after = ChatStore(manager.open_space(space.space_id).postgres).messages(first.session_id)
    assert after == messages
    assert team.by_id(messages[1]["agent_id"]).system_prompt.startswith("You research")
    gone = client.send(space.space_id, "alice", "@researcher hello?", session_id=first.session_id)
    assert (gone.status, gone.error) == ("failed", "no agent 'researcher'")


def test_agent_context_is_the_agents_own(client, manager, space):
    _team(manager, space.space_id)
    client.send(space.space_id, "alice", "@researcher remember the word quokka")
    writer = client.send(space.space_id, "alice", "@writer what word is quokka about?")
    assert "quokka" in writer.reply  # its instruction, but nothing from the researcher's context
    assert "From my context" not in writer.reply
    handle = manager.open_space(space.space_id, write=True)
    stats = AgentContext(handle, "researcher").stats()
    assert (stats["interactions"], stats["succeeded"], stats["by_type"]) == (1, 1, {"direct": 1})
    exported = AgentContext(handle, "researcher").export()
    assert exported[0]["task_id"] == "t1" and "quokka" in exported[0]["text"]
    assert AgentContext(handle, "researcher").prune("2000-01-01") == 0
    assert AgentContext(handle, "researcher").clear() == 1
    assert AgentContext(handle, "researcher").stats()["interactions"] == 0
    assert AgentContext(handle, "writer").stats()["interactions"] == 1
    with pytest.raises(InvalidInput, match="invalid date"):
        AgentContext(handle, "writer").prune("yesterday")


def test_orchestrated_plan_waits_for_approval_then_runs_in_order(client, manager, space):
    _team(manager, space.space_id)
    text = "research raft consensus then write a summary; write a short report"
    waiting = client.send(space.space_id, "alice", text)
    assert waiting.status == "awaiting_approval" and waiting.mode == "orchestrated"
    request = waiting.request
    assert request["type"] == "plan_approval" and request["expires_at"]
    plan = {t["id"]: (t["agent"], t["depends_on"]) for t in request["plan"]}
    assert plan == {"t1": ("researcher", []), "t2": ("writer", ["t1"]), "t3": ("writer", [])}
    assert request["estimated_tokens"] == sum(t["estimated_tokens"] for t in request["plan"])
    done = client.send(space.space_id, "alice", "", session_id=waiting.session_id, answer="approve")
    assert done.status == "completed"
    assert done.reply.startswith("Done 3 of 3 tasks.")
    for tid in ("[t1] @researcher", "[t2] @writer", "[t3] @writer"):
        assert tid in done.reply
    assert "Building on: t1" in done.reply  # t2 got t1's result
    rows = ChatStore(manager.open_space(space.space_id).postgres).tasks(waiting.session_id)
    assert {(r["task_id"], r["status"]) for r in rows} == {
        ("t1", "completed"), ("t2", "completed"), ("t3", "completed"),
    }  # fmt: skip
    t1 = next(r for r in rows if r["task_id"] == "t1")
    t2 = next(r for r in rows if r["task_id"] == "t2")
    assert t2["started_at"] >= t1["finished_at"]


def test_rejected_and_expired_plans_run_nothing(settings, manager, space):
    _team(manager, space.space_id)
    client = ChatClient(graph_deps(settings))
    waiting = client.send(space.space_id, "alice", "research a; write b")
    no = client.send(space.space_id, "alice", "", session_id=waiting.session_id, answer="reject")
    assert (no.status, no.error) == ("rejected", "declined")
    expired_settings = dataclasses.replace(settings, approval_timeout_s=0)
    late = ChatClient(graph_deps(expired_settings))
    asked = late.send(space.space_id, "alice", "research a; write b")
    events: list[dict] = []
    answered = late.send(
        space.space_id, "alice", "", session_id=asked.session_id, answer="approve",
        on_event=events.append,
    )  # fmt: skip
    assert (answered.status, answered.error) == ("rejected", "approval timed out")
    assert "approval.expired" in [e["event_type"] for e in events]
    pg = manager.open_space(space.space_id).postgres
    assert ChatStore(pg).tasks(asked.session_id) == []
    assert ChatStore(pg).tasks(waiting.session_id) == []


def test_a_failed_task_fails_its_dependents_and_the_rest_go_on(client, manager, space):
    store = _team(manager, space.space_id)
    store.create("critic", system_prompt="You criticise.", model="offline", user_id="alice")
    waiting = client.send(
        space.space_id, "alice", "criticise the draft then write a fix; research raft"
    )
    assert {t["id"]: t["agent"] for t in waiting.request["plan"]} == {
        "t1": "critic", "t2": "writer", "t3": "researcher",
    }  # fmt: skip
    store.delete("critic")  # deleted between plan and approval: its task cannot run
    done = client.send(space.space_id, "alice", "", session_id=waiting.session_id, answer="approve")
    by_id = {t["id"]: t for t in done.tasks}
    assert by_id["t1"]["status"] == "failed" and "no agent 'critic'" in by_id["t1"]["error"]
    assert (by_id["t2"]["status"], by_id["t2"]["error"]) == ("failed", "depends on failed t1")
    assert by_id["t3"]["status"] == "completed"
    assert done.status == "completed" and "Done 1 of 3 tasks." in done.reply


def test_planner_is_asked_again_with_the_error(settings, manager, space):
    _team(manager, space.space_id)
    plans = [
        {"tasks": [{"id": "t1", "agent": "ghost", "description": "haunt"}]},
        {"tasks": [{"id": "t1", "agent": "writer", "description": "write"}]},
    ]

    def answer(request: dict) -> tuple[int, dict]:
        plan = plans[min(len(server.requests), 2) - 1]
        return 200, completion(tool_calls=[{"name": "TaskPlan", "args": plan}])

    with FakeOpenAI(answer) as server:
        fake = dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="k")
        client = ChatClient(graph_deps(fake))
        waiting = client.send(space.space_id, "alice", "write", model="openai:gpt-4o-mini")
    assert waiting.status == "awaiting_approval"
    assert [t["agent"] for t in waiting.request["plan"]] == ["writer"]
    assert len(server.requests) == 2
    second = server.requests[1]["messages"][-1]["content"]
    assert "unknown agent &#x27;ghost&#x27;" in second or "unknown agent 'ghost'" in second


def test_empty_task_plans_are_repaired_into_one_task_for_the_fitting_agent(
    settings, manager, space
):
    _team(manager, space.space_id)

    def answer(request: dict) -> tuple[int, dict]:
        if request.get("tool_choice") or request.get("response_format"):
            return 200, completion("")  # the planner never gives a task plan
        return 200, completion("The summary.")

    with FakeOpenAI(answer) as server:
        fake = dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="k")
        client = ChatClient(graph_deps(fake))
        waiting = client.send(
            space.space_id, "alice", "write a short summary report", model="openai:m"
        )
        assert waiting.status == "awaiting_approval", waiting.error
        assert [(t["id"], t["agent"]) for t in waiting.request["plan"]] == [("t1", "writer")]
        assert waiting.request["plan"][0]["description"] == "write a short summary report"
        (repair,) = waiting.request["repairs"]
        assert "no usable task graph" in repair and "writer" in repair
        done = client.send(
            space.space_id, "alice", "", session_id=waiting.session_id, answer="approve"
        )
    assert done.status == "completed", done.error


def test_plan_checks():
    agents = {"a": _agent("a"), "b": _agent("b")}
    ok = check_plan(
        {"tasks": [{"id": "x", "agent": "a", "description": "d", "depends_on": ["y"]},
                   {"id": "y", "agent": "b", "description": "d"}]},
        agents,
    )  # fmt: skip
    assert [t["id"] for t in ok] == ["y", "x"]
    for bad, message in (
        ({"tasks": [{"id": "x", "agent": "z", "description": "d"}]}, "unknown agent 'z'"),
        (
            {
                "tasks": [
                    {"id": "x", "agent": "a", "description": "d", "depends_on": ["y"]},
                    {"id": "y", "agent": "a", "description": "d", "depends_on": ["x"]},
                ]
            },
            "dependency cycle",
        ),
        ({"tasks": []}, "invalid plan"),
    ):
        with pytest.raises(InvalidInput, match=message):
            check_plan(bad, agents)


def test_waves_respect_the_limits():
    agents = {"a": _agent("a", 1), "b": _agent("b", 3)}
    tasks = {f"t{n}": new_task(f"t{n}", agents["b"], "d", []) for n in range(5)}
    tasks["a1"] = new_task("a1", agents["a"], "d", [])
    tasks["a2"] = new_task("a2", agents["a"], "d", [])
    wave = next_wave(tasks)
    assert len(wave) == 3  # the seed's limit, whatever the agents allow
    tasks = {k: v for k, v in tasks.items() if k.startswith("a")}
    assert [t["id"] for t in next_wave(tasks)] == ["a1"]  # a's concurrency_limit is 1
    tasks["a1"] = {**tasks["a1"], "status": "failed"}
    tasks["c"] = new_task("c", agents["b"], "d", ["a2"])
    tasks["a2"]["depends_on"] = ["a1"]
    assert set(fail_blocked(tasks)) == {"a2", "c"}


def _agent(name: str, limit: int = 1):
    from datetime import UTC, datetime

    from app.spaces.stores.agents import Agent

    return Agent(name, 1, f"s_{name}_1", "p", "offline", [], limit, "ready", "u",
                 datetime.now(UTC), None)  # fmt: skip


def test_sessions_are_their_owners_only(client, manager, space, new_id):
    from app.spaces.model.space_model import SpaceConfig

    _team(manager, space.space_id)
    turn = client.send(space.space_id, "alice", "@writer hello")
    other = manager.create_space(SpaceConfig(new_id(), "Bob's", "bob"))
    AgentStore(manager.open_space(other.space_id, write=True)).create(
        "writer", system_prompt="p", model="offline", user_id="bob"
    )
    with pytest.raises(SpaceNotFound, match="no session"):
        client.send(other.space_id, "bob", "@writer hi", session_id=turn.session_id)
    with pytest.raises(SpaceNotFound, match="no space"):
        client.status(space.space_id, "bob", turn.session_id)
    with pytest.raises(SpaceNotFound, match="no space"):
        client.send(space.space_id, "bob", "@writer hi")
    store = ChatStore(manager.open_space(space.space_id).postgres)
    with pytest.raises(SpaceNotFound):
        store.session_detail(turn.session_id, "bob")
    assert store.sessions("bob") == []
    assert [m["role"] for m in store.messages(turn.session_id)] == ["user", "assistant"]


def test_a_turn_stopped_by_a_model_failure_continues_later(settings, manager, space):
    _team(manager, space.space_id)
    down = {"now": True}

    def answer(request: dict) -> tuple[int, dict]:
        if down["now"]:
            return 503, {"error": {"message": "overloaded", "type": "server_error"}}
        plan = {"tasks": [{"id": "t1", "agent": "writer", "description": "write"}]}
        return 200, completion(tool_calls=[{"name": "TaskPlan", "args": plan}])

    with FakeOpenAI(answer) as server:
        fake = dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="k")
        client = ChatClient(graph_deps(fake))
        session = "crash-" + space.space_id.replace("_", "-")
        with pytest.raises(ModelUnavailable):
            client.send(space.space_id, "alice", "write", session_id=session,
                        model="openai:gpt-4o-mini")  # fmt: skip
        stopped = client.status(space.space_id, "alice", session)
        assert stopped.status == "interrupted"
        with pytest.raises(InvalidInput, match="stopped mid-turn"):
            client.send(space.space_id, "alice", "something else", session_id=session)
        down["now"] = False
        resumed = client.send(space.space_id, "alice", "", session_id=session)
    assert resumed.status == "awaiting_approval" and resumed.turn == 1
    assert [t["agent"] for t in resumed.request["plan"]] == ["writer"]
    messages = ChatStore(manager.open_space(space.space_id).postgres).messages(session)
    assert [(m["turn"], m["role"]) for m in messages] == [(1, "user")]  # stored once
