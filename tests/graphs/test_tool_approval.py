"""Tools that act outside the vault run only after a ``tool_approval`` answer."""

from __future__ import annotations

import dataclasses

from app.runner import Runner
from tests.support.deps import graph_deps
from tests.support.fake_openai import FakeOpenAI, completion, forced_tool
from tests.support.rpi import to_tool_request


def test_network_tool_waits_for_approval(space, settings, site, manager) -> None:
    url, hits = site
    runner = Runner(
        dataclasses.replace(settings, allow_private_urls=True),
        graph_deps(dataclasses.replace(settings, allow_private_urls=True)),
    )
    asked = to_tool_request(runner, space.space_id, url)
    assert asked.request == {
        "type": "tool_approval",
        "tool": "http_get",
        "args": {"url": url},
        "space_id": space.space_id,
        # the standard HITL request stock UIs render (app/graphs/hitl.py)
        "action_requests": [
            {"name": "http_get", "args": {"url": url},
             "description": "Run http_get with these arguments?"}
        ],
        "review_configs": [
            {"action_name": "http_get", "allowed_decisions": ["approve", "edit", "reject"]}
        ],
    }  # fmt: skip
    assert hits == []  # nothing fetched before the answer
    again = runner.resume(asked.thread_id, {"action": "maybe"})
    assert again.status == "awaiting_approval" and "unknown action" in again.request["error"]
    done = runner.resume(asked.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    assert hits == ["/page"]
    text = (settings.vaults_dir / space.space_id / done.artifacts["implementation"]).read_text()
    assert "pineapple" in text


def test_approved_fetches_of_private_addresses_are_still_refused(space, settings, site) -> None:
    url, hits = site
    runner = Runner(settings, graph_deps(settings))  # SPACES_ALLOW_PRIVATE_URLS unset
    asked = to_tool_request(runner, space.space_id, url)
    done = runner.resume(asked.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    assert hits == []
    text = (settings.vaults_dir / space.space_id / done.artifacts["implementation"]).read_text()
    assert "private or loopback address" in text


def test_several_tool_calls_each_run_once(space, settings, site) -> None:
    """A model asks for three fetches at once; each runs once, after its own approval."""
    url, hits = site
    plan = {"title": "T", "steps": [{"id": "s1", "description": "fetch", "depends_on": []}]}
    facts = {"facts": [], "entities": [], "relations": []}

    def responder(body: dict):
        forced = forced_tool(body)
        if forced == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": plan}])
        if forced == "KeyFacts":
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        if body["messages"][-1]["role"] == "tool":
            return 200, completion("done")
        calls = [{"name": "http_get", "args": {"url": f"{url}?n={n}"}} for n in range(3)]
        return 200, completion(tool_calls=calls)

    with FakeOpenAI(responder) as server:
        wired = dataclasses.replace(
            settings, openai_base_url=server.base_url, openai_api_key="k", allow_private_urls=True
        )
        runner = Runner(wired, graph_deps(wired))
        result = runner.start("rpi", space.space_id, "Fetch three", model="openai:gpt-4o-mini")
        result = runner.resume(result.thread_id, {"action": "approve"})
        seen = []
        while result.status == "awaiting_approval":
            seen.append(result.request["args"]["url"])
            result = runner.resume(result.thread_id, {"action": "approve"})
    assert result.status == "completed", result.error
    assert seen == [f"{url}?n={n}" for n in range(3)]
    assert hits == [f"/page?n={n}" for n in range(3)]  # each fetched exactly once


def test_rejected_tool_never_runs(space, settings, site) -> None:
    url, hits = site
    runner = Runner(settings, graph_deps(settings))
    asked = to_tool_request(runner, space.space_id, url)
    done = runner.resume(asked.thread_id, {"action": "reject"})
    assert done.status == "completed", done.error
    assert hits == []
    text = (settings.vaults_dir / space.space_id / done.artifacts["implementation"]).read_text()
    assert "did not approve" in text and "pineapple" not in text
