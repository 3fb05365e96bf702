"""Node-level tests of ``rpi`` with a scripted model, on the real stores.

Each node is called directly with a ``Scope`` whose model is a
``scripted:<name>`` registered in the test's settings, so the test decides
what the model answers and checks where the node routes the run.
"""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from app.errors import BudgetExceeded, InvalidInput, StoreUnavailable
from app.graphs.context import RunContext
from app.graphs.rpi.graph import extract, plan
from app.graphs.rpi.implement import implement
from app.graphs.scope import open_scope, scoped
from app.spaces.model.space_model import SpaceConfig
from tests.support.deps import graph_deps
from tests.support.scripted import Script, scripted_settings, tool_call

PLAN = {
    "title": "Explain finality",
    "steps": [
        {"id": "s1", "description": "Describe Raft", "depends_on": []},
        {"id": "s2", "description": "Relate it to blocks", "depends_on": ["s1"]},
    ],
}


def scope_with(settings, space_id: str, script: Script):
    """A node scope on ``space_id`` whose model answers from ``script``."""
    scripted, name = scripted_settings(settings, script)
    config = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}, "metadata": {}}
    return open_scope(
        graph_deps(scripted), RunContext(user_id="alice"), config, space_id, model=name
    )


def test_plan_node_checks_the_scripted_plan_and_asks_for_approval(settings, space) -> None:
    script = Script(tool_call("Plan", PLAN))
    command = plan(
        {"query": "How are blocks final?", "research": "notes"},
        scope_with(settings, space.space_id, script),
    )
    assert command.goto == "approve_plan"
    assert command.update["order"] == ["s1", "s2"]
    assert command.update["status"] == "awaiting_approval"
    assert script.bound == [["Plan"]]  # structured output went through tool calling
    assert "How are blocks final?" in str(script.prompts[0][-1].content)


def test_plan_node_reasks_then_repairs_a_cyclic_plan(settings, space) -> None:
    """Asked three times (the first answer and two re-asks), then repaired and shown."""
    cyclic = {**PLAN, "steps": [{"id": "s1", "description": "a", "depends_on": ["s1"]}]}
    script = Script(*[tool_call("Plan", cyclic)] * 3)
    command = plan({"query": "q", "research": ""}, scope_with(settings, space.space_id, script))
    assert command.goto == "approve_plan"
    assert command.update["plan"]["steps"][0]["depends_on"] == []
    assert command.update["plan_repairs"]  # listed for the person who approves


def _implement_state() -> dict:
    return {"query": "q", "research": "", "plan": PLAN, "order": ["s1", "s2"], "step_index": 0}


def test_implement_routes_a_tool_call_to_run_tools(settings, space) -> None:
    script = Script(tool_call("http_get", {"url": "https://example.org/"}))
    command = implement(_implement_state(), scope_with(settings, space.space_id, script))
    assert command.goto == "run_tools"
    asked = command.update["step_messages"][-1]
    assert isinstance(asked, AIMessage) and asked.tool_calls[0]["name"] == "http_get"
    assert script.bound == [["http_get"]]


def test_implement_keeps_a_plain_answer_and_moves_to_the_next_step(settings, space) -> None:
    script = Script(AIMessage("Raft commits a block once a majority stores it."))
    command = implement(_implement_state(), scope_with(settings, space.space_id, script))
    assert command.goto == "implement"
    assert command.update["step_index"] == 1
    assert command.update["deliverables"] == {
        "s1": "Raft commits a block once a majority stores it."
    }


def test_implement_offers_no_tools_after_the_last_tool_round(settings, space) -> None:
    script = Script(AIMessage("done without tools"))
    state = {**_implement_state(), "tool_rounds": 3, "step_messages": [HumanMessage("step s1")]}
    command = implement(state, scope_with(settings, space.space_id, script))
    assert command.goto == "implement" and script.bound == []


def test_extract_with_the_budget_spent_saves_without_calling_the_model(
    manager, settings, new_id
) -> None:
    poor = manager.create_space(
        SpaceConfig(new_id("poor"), "Poor", "alice", monthly_token_budget=10)
    )
    script = Script(tool_call("KeyFacts", {"facts": ["never asked"]}))
    state = {**_implement_state(), "deliverables": {"s1": "x", "s2": "y"}}
    command = extract(state, scope_with(settings, poor.space_id, script))
    assert command.goto == "save"
    assert command.update["facts"] == {"facts": [], "entities": [], "relations": []}
    assert script.prompts == []  # refused before the call


@pytest.mark.parametrize(
    ("error", "status"),
    [(BudgetExceeded("spent"), "budget_exceeded"), (InvalidInput("bad plan"), "failed")],
)
def test_scoped_maps_budget_and_user_errors_to_finish(settings, space, error, status) -> None:
    def failing(state, scope):
        raise error

    node = scoped(graph_deps(settings), failing)
    runtime = Runtime(context=RunContext(user_id="alice"))
    command = node({"space_id": space.space_id}, runtime, {"configurable": {"thread_id": "t"}})
    assert command.goto == "finish"
    assert command.update == {"status": status, "error": str(error)}


def test_scoped_reraises_store_failures_so_the_run_can_resume(settings, space) -> None:
    def failing(state, scope):
        raise StoreUnavailable("graph", "down")

    node = scoped(graph_deps(settings), failing)
    with pytest.raises(StoreUnavailable):
        node({"space_id": space.space_id}, Runtime(context=RunContext(user_id="alice")), {})


def test_scoped_refuses_another_users_space_as_missing(settings, space) -> None:
    node = scoped(graph_deps(settings), lambda state, scope: pytest.fail("must not run"))
    command = node({"space_id": space.space_id}, Runtime(context=RunContext(user_id="bob")), {})
    assert command.update == {"status": "failed", "error": f"no space {space.space_id!r}"}


def test_an_unregistered_scripted_model_is_refused(settings, space) -> None:
    from app.graphs.admission import run_model

    scope = scope_with(settings, space.space_id, Script())
    with pytest.raises(InvalidInput, match="unknown model"):
        run_model(RunContext(user_id="alice", model="scripted:nobody"), scope.space, settings)
