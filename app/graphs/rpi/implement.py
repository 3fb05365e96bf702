"""``rpi``'s implement loop: one plan step per pass, its tool calls, and their approvals.

``implement`` asks the model for the next step's deliverable; a tool call
goes to ``run_tools``, which asks a person first when the tool reaches
outside the space (``NEEDS_APPROVAL``) and runs exactly one call per pass,
because LangGraph re-runs a node from its start when it resumes after an
interrupt. At most ``MAX_TOOL_ROUNDS`` rounds of tools a step.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.types import Command, interrupt

from app.graphs.citations import check_citations
from app.graphs.hitl import edited_args, read_answer, tool_request
from app.graphs.rpi.prompts import IMPLEMENT_SYSTEM, step_prompt
from app.graphs.rpi.state import RPIState
from app.graphs.rpi.tools import IMPLEMENT_TOOLS, NEEDS_APPROVAL, check_tool_calls, run_tool
from app.graphs.scope import Scope, approval_key, approval_refused
from app.llm.structured import InvalidOutput
from app.spaces.access.roles import Action

MAX_TOOL_ROUNDS = 3


def implement(
    state: RPIState, scope: Scope
) -> Command[Literal["run_tools", "implement", "extract", "finish"]]:
    """Carry out the next step in dependency order (one step per node run).

    Tool calls with unknown tools or invalid arguments are re-asked with the
    error; the deliverable's citations and quotes are checked against the
    research's sources.
    """
    order, index = state["order"], state.get("step_index", 0)
    if index >= len(order):
        return Command(goto="extract")
    steps = {s["id"]: s for s in state["plan"]["steps"]}
    step = steps[order[index]]
    deliverables = state.get("deliverables") or {}
    messages = state.get("step_messages") or [
        SystemMessage(IMPLEMENT_SYSTEM),
        HumanMessage(
            step_prompt(
                state["query"], state.get("research", ""), step, deliverables, scope.room()[0]
            )
        ),
    ]
    tools = IMPLEMENT_TOOLS if state.get("tool_rounds", 0) < MAX_TOOL_ROUNDS else []
    try:
        answer: AIMessage = scope.ask(messages, tools=tools, validate=check_tool_calls)
    except InvalidOutput as exc:
        if exc.last is None:  # the server never returned a readable answer: fail in one line
            raise
        answer = exc.last  # still invalid: run_tools answers each call with its failure
    if answer.tool_calls and tools:
        return Command(goto="run_tools", update={"step_messages": [*messages, answer]})
    scope.emit("phase.progress", phase="implement", step=step["id"])
    done = check_citations(str(answer.content), state.get("sources") or [], state["query"]).text
    return Command(
        goto="implement",
        update={
            "deliverables": {**deliverables, step["id"]: done},
            "step_index": index + 1,
            "step_messages": [],
            "tool_rounds": 0,
        },
    )


def _approved(tool: str, args: dict, scope: Scope, error: str | None) -> dict | bool | str:
    """Ask a person whether ``tool`` may run: the args to run it with (edited or not),
    ``False`` if declined, or an error line if a refused user answered.

    A refused answer ends this pass (the node runs again and asks afresh):
    LangGraph replays a node's earlier answers when it resumes, and an
    answer must be judged by the role of the user who gave it.
    """
    extras: dict[str, Any] = {
        "type": "tool_approval",
        "tool": tool,
        "args": args,
        "space_id": scope.space_id,
    }
    if error:
        extras["error"] = error
    for asked in itertools.count():
        answer = read_answer(interrupt(tool_request(tool, args, extras)))
        action = answer.get("action")
        if not scope.allows(Action.APPROVE):
            return approval_refused(scope, "tool", asked)
        chosen = edited_args(tool, args, answer)
        if isinstance(chosen, dict) or action == "reject":
            scope.audit("approval.tool", approval_key(scope, asked), tool=tool, answer=action)
            return chosen if isinstance(chosen, dict) else False
        extras = {**extras, "error": chosen}
    raise AssertionError("unreachable")


def run_tools(state: RPIState, scope: Scope) -> Command[Literal["run_tools", "implement"]]:
    """Run the next tool call the model asked for; one per pass, so none runs twice.

    LangGraph re-runs a node from its start when it resumes after an
    interrupt, so a node that asked for approval of a second call after
    running a first would run the first again. Here each pass asks (if the
    tool needs approval) and then runs exactly one call.
    """
    messages = state["step_messages"]
    asked = next(m for m in reversed(messages) if isinstance(m, AIMessage))
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    pending = [c for c in asked.tool_calls if c["id"] not in answered]
    rounds = state.get("tool_rounds", 0)
    if not pending:
        return Command(goto="implement", update={"tool_rounds": rounds + 1})
    call = pending[0]
    name, args = call["name"], call.get("args") or {}
    allowed = (
        _approved(name, args, scope, state.get("approval_error"))
        if name in NEEDS_APPROVAL
        else args
    )
    if isinstance(allowed, str):  # answered by a user who may not: ask again
        return Command(goto="run_tools", update={"approval_error": allowed})
    if allowed is False:
        output = "the user did not approve this tool call"
    else:
        scope.emit("tool.started", tool=name)
        output = run_tool(name, allowed, scope.settings)
        scope.emit("tool.failed" if output.startswith("failed:") else "tool.completed", tool=name)
    last = len(pending) == 1
    return Command(
        goto="implement" if last else "run_tools",
        update={
            "step_messages": [*messages, ToolMessage(output, tool_call_id=call["id"], name=name)],
            "tool_rounds": rounds + 1 if last else rounds,
            "approval_error": None,
        },
    )
