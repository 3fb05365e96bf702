"""The OpenAI path over the wire: a local server speaking chat-completions stands in for it."""

from __future__ import annotations

import dataclasses

import pytest
from langchain_core.messages import HumanMessage

from app.graphs.rpi.state import Plan
from app.graphs.rpi.tools import IMPLEMENT_TOOLS
from app.llm.pricing import cost_usd
from app.runner import Runner
from tests.support.deps import graph_deps, node_scope_for
from tests.support.fake_openai import PLAN, FakeOpenAI, completion, error, forced_tool


def _scope(settings, server: FakeOpenAI, space_id: str, model: str = "openai:gpt-4o-mini"):
    wired = dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="sk-test")
    scope = node_scope_for(wired, space_id, f"wire-{space_id}")
    scope.model = model
    return scope


def test_structured_output_and_usage(settings, space, manager) -> None:
    reply = completion(tool_calls=[{"name": "Plan", "args": PLAN}])
    with FakeOpenAI(lambda body: (200, reply)) as s:
        scope = _scope(settings, s, space.space_id, "openai:gpt-4o-mini")
        plan = scope.ask(
            [HumanMessage("plan it")],
            schema=Plan,
        )
    assert isinstance(plan, Plan) and [st.id for st in plan.steps] == ["s1", "s2"]
    assert forced_tool(s.requests[0]) == "Plan"
    usage = manager.get_usage(space.space_id)
    assert usage.tokens_used == 120 and usage.api_calls_used == 1
    assert usage.cost_usd == pytest.approx(cost_usd("gpt-4o-mini", 100, 20))


def test_tool_calls_are_parsed(settings, space) -> None:
    reply = completion(tool_calls=[{"name": "http_get", "args": {"url": "http://x.test/"}}])
    with FakeOpenAI(lambda body: (200, reply)) as s:
        scope = _scope(settings, s, space.space_id, "openai:gpt-4o-mini")
        message = scope.ask(
            [HumanMessage("fetch")],
            tools=IMPLEMENT_TOOLS,
        )
    assert message.tool_calls[0]["name"] == "http_get"
    assert message.tool_calls[0]["args"] == {"url": "http://x.test/"}
    assert s.requests[0]["tools"][0]["function"]["name"] == "http_get"


def test_429_is_retried(settings, space, manager) -> None:
    calls = {"n": 0}

    def responder(body: dict):
        calls["n"] += 1
        return error(429, "slow down") if calls["n"] == 1 else (200, completion("fine"))

    with FakeOpenAI(responder) as s:
        message = _scope(settings, s, space.space_id).ask([HumanMessage("hi")])
    assert message.content == "fine" and len(s.requests) == 2
    assert manager.get_usage(space.space_id).api_calls_used == 1  # one call, retried once


def test_5xx_falls_back_to_the_next_model(settings, space, manager) -> None:
    def responder(body: dict):
        if body["model"] == "broken-model":
            return error(503, "overloaded")
        return 200, completion("from the fallback", model=body["model"])

    with FakeOpenAI(responder) as s:
        scope = _scope(settings, s, space.space_id, "openai:broken-model,openai:gpt-4o")
        message = scope.ask(
            [HumanMessage("hi")],
        )
    assert message.content == "from the fallback"
    assert [r["model"] for r in s.requests][-1] == "gpt-4o"
    assert s.requests[0]["model"] == "broken-model"
    usage = manager.get_usage(space.space_id)
    assert usage.api_calls_used == 1
    assert usage.cost_usd == pytest.approx(cost_usd("gpt-4o", 100, 20))  # priced as gpt-4o


def test_a_whole_rpi_run_over_the_wire(settings, space, manager) -> None:
    facts = {"facts": ["Wire runs work."], "entities": [{"name": "Wire", "kind": "concept"}]}

    def responder(body: dict):
        forced = forced_tool(body)
        if forced == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        if forced == "KeyFacts":
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        return 200, completion("A deliverable [1].", prompt_tokens=50, completion_tokens=10)

    with FakeOpenAI(responder) as s:
        wired = dataclasses.replace(settings, openai_base_url=s.base_url, openai_api_key="sk-test")
        runner = Runner(wired, graph_deps(wired))
        waiting = runner.start("rpi", space.space_id, "Test the wire", model="openai:gpt-4o-mini")
        assert waiting.plan == PLAN
        done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    # research 60 + plan 120 + two steps 60 each + facts 120
    assert done.tokens_used == manager.get_usage(space.space_id).tokens_used == 420
    assert len(s.requests) == 5
    assert done.cost_usd == pytest.approx(
        cost_usd("gpt-4o-mini", 50, 10) * 3 + cost_usd("gpt-4o-mini", 100, 20) * 2, abs=1e-6
    )
    with manager.open_space(space.space_id).memory() as memory:
        assert "Wire runs work." in [m.text for m in memory.all()]


def test_a_provider_failure_is_one_line_and_the_run_resumes(settings, space, manager) -> None:
    from app.errors import ModelUnavailable

    broken = {"on": True}

    def responder(body: dict):
        if broken["on"]:
            return error(401, "invalid api key")
        if forced_tool(body) == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        return 200, completion("fine")

    with FakeOpenAI(responder) as s:
        wired = dataclasses.replace(settings, openai_base_url=s.base_url, openai_api_key="k")
        runner = Runner(wired, graph_deps(wired))
        failed = r"^model failed: \w*AuthenticationError"
        with pytest.raises(ModelUnavailable, match=failed) as info:
            runner.start("rpi", space.space_id, "Anything", model="openai:gpt-4o-mini")
        assert "\n" not in str(info.value)
        with manager.backends.pool.connection() as conn:
            (thread_id,) = conn.execute(
                "SELECT thread_id FROM spaces_registry.threads WHERE space_id = %s",
                [space.space_id],
            ).fetchone()
        assert runner.status(thread_id).status == "interrupted"
        broken["on"] = False
        resumed = runner.resume(thread_id)
    assert resumed.status == "awaiting_approval" and resumed.plan == PLAN


def test_one_process_drives_a_thread_at_a_time(settings) -> None:
    from app.errors import InvalidInput

    runner = Runner(settings, graph_deps(settings))
    with runner._driver.lock("t-lock"):
        other = Runner(settings, graph_deps(settings))
        other.backends = type(runner.backends)(settings)  # another process's connections
        try:
            with pytest.raises(InvalidInput, match="already running"), other._driver.lock("t-lock"):
                pass
        finally:
            other.backends.close()
