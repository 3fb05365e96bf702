"""Every request fits the model's context window: learned from the server, set, or refused unsent.

The fake server (``tests/support/fake_openai.py``) refuses, as llama-server does, any
request whose prompt is longer than its window. A space with much more text
than the window holds must still run to the end: research trimmed by rank,
answers capped to fit.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from app.errors import ContextTooSmall
from app.llm.fit import fit_request
from app.llm.window import Window, context_window
from app.runner import Runner
from tests.support.deps import graph_deps, node_scope_for
from tests.support.fake_openai import FakeOpenAI, completion

WINDOW = 2048
PLAN = {
    "title": "Pump report",
    "steps": [
        {"id": "s1", "description": "Collect the pump facts", "depends_on": []},
        {"id": "s2", "description": "Write the report", "depends_on": ["s1"]},
    ],
}


def _asked(body: dict) -> str | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return choice.get("function", {}).get("name")
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name")


def _responder(body: dict):
    args = {
        "Plan": PLAN,
        "KeyFacts": {"facts": ["Pump P7 runs at 42 bar."]},
        "Relevant": {"ids": [1, 2, 3, 4, 5, 6]},
    }.get(_asked(body) or "")
    if args is None:  # a long deliverable, so later prompts carry a lot
        return 200, completion("Pump P7 runs at 42 bar [1]. " * 150)
    if body.get("response_format"):
        return 200, completion(json.dumps(args))
    return 200, completion(tool_calls=[{"name": _asked(body), "args": args}])


def _big_space(manager, space_id: str) -> None:
    vault = manager.open_space(space_id, write=True).vault
    for n in range(12):
        vault.write_note(
            f"Plant/pump-{n}.md",
            f"Pump P{n} feeds cooling loop {n} and runs at {40 + n} bar. " * 60,
        )


def _fits(server: FakeOpenAI) -> None:
    assert server.refused == 0
    for body, size in zip(server.requests, server.sizes, strict=True):
        asked = body.get("max_tokens") or body.get("max_completion_tokens") or 0
        assert size + asked <= WINDOW, (size, asked)


@pytest.mark.parametrize("props", [True, False], ids=["window-from-server", "window-set"])
def test_a_space_larger_than_the_window_runs_to_the_end(settings, space, manager, props) -> None:
    _big_space(manager, space.space_id)
    with FakeOpenAI(_responder, window=WINDOW, props=props) as s:
        wired = dataclasses.replace(
            settings,
            openai_base_url=s.base_url,
            openai_api_key="sk-t",
            model_context=() if props else (("m", WINDOW),),
        )
        assert context_window("openai:m", wired).tokens == WINDOW
        runner = Runner(wired, graph_deps(wired))
        spec = {"vault": {"top_k": 8}}
        waiting = runner.start(
            "rpi", space.space_id, "Report on the pumps", model="openai:m", context_spec=spec
        )
        assert waiting.status == "awaiting_approval", waiting.error
        done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    _fits(s)
    assert len(s.requests) >= 5  # selection, synthesis, plan, two steps, facts


def test_a_request_that_cannot_fit_is_never_sent() -> None:
    window = Window(512, "setting")
    huge = [SystemMessage("rules " * 2000), HumanMessage("q")]
    fitted, cap, changes = fit_request(huge, window, 2000)
    assert changes and cap >= 128 and sum(len(m.content) for m in fitted) < 2000
    with pytest.raises(ContextTooSmall, match="no room"):
        fit_request([HumanMessage("q")], window, 2000, extra_tokens=600)


def test_a_refusal_as_too_long_is_one_line_and_not_a_method_switch(settings, space) -> None:
    with FakeOpenAI(_responder, window=64) as s:  # our estimate thinks 8192 (unknown model)
        wired = dataclasses.replace(settings, openai_base_url=s.base_url, openai_api_key="sk-t")
        scope = node_scope_for(wired, space.space_id, f"overflow-{space.space_id}")
        scope.model = "openai:unknown-model"
        with pytest.raises(ContextTooSmall, match="exceeds the available context size"):
            scope.ask([HumanMessage("plan " * 400)])
    assert len(s.requests) == 1


def test_the_window_setting_is_read_per_model_and_checked() -> None:
    from app.errors import InvalidInput
    from app.settings import Settings

    s = Settings.from_env({"SPACES_MODEL_CONTEXT": "smollm2=4096, *=16000"})
    assert context_window("openai:smollm2@json_schema", s) == Window(4096, "setting")
    assert context_window("openai:gpt-4o", s).tokens == 16000
    assert context_window("openai:gpt-4o", Settings.from_env({})).tokens == 128_000
    assert context_window("openai:own", Settings.from_env({})).source == "default"
    assert context_window("offline", s).source == "none"
    with pytest.raises(InvalidInput, match="SPACES_MODEL_CONTEXT"):
        Settings.from_env({"SPACES_MODEL_CONTEXT": "smollm2"})
