"""The work of one task, in a parallel branch: the agent's calls, its tools, its approvals.

``run_task`` gives the task to its agent: the agent's system prompt, its own
context plus the space's recall, the results of the tasks it depends on and
the session's recent history, with the agent's tools bound. (The context is
retrieved by ``dispatch`` for the whole wave, and the interactions are
remembered after the reply, each with one opening of the space's memory.) Tools that need
no approval run at once. A tool that needs approval parks the task as
``waiting``; ``ask_tool`` then asks a person through one ``tool_approval``
interrupt per call, in its own branch, so parallel tasks ask in parallel and
each interrupt is answered on its own (by its id, LangGraph's resume map).
Nothing runs twice on resume: the model's answer is kept in the task's
messages, and only the interrupted ``ask_tool`` branch runs again.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.types import interrupt
from typing_extensions import TypedDict

from app.errors import SpaceNotFound, SpacesError, StoreUnavailable
from app.graphs.chat.planning import TOOL_ROUNDS
from app.graphs.chat.prompts import task_prompt
from app.graphs.chat.tools import NEEDS_APPROVAL, TOOLS, run_tool
from app.graphs.hitl import edited_args, read_answer, tool_request
from app.graphs.scope import Scope
from app.spaces.stores.agents import AgentStore
from app.spaces.stores.chat_store import ChatStore

HISTORY_MESSAGES = 8


class TaskInput(TypedDict, total=False):
    """What a branch gets through ``Send``: the turn's keys and its one task."""

    space_id: str
    model: str
    turn: int
    mode: str
    task: dict[str, Any]
    earlier: dict[str, str]
    context: dict[str, list[str]]  # retrieved for the wave: the agent's own, the space's


def recent_history(store: ChatStore, session_id: str, turn: int) -> list[dict[str, Any]]:
    """The session's messages before this turn, newest last (a summary first, if any)."""
    before = [m for m in store.messages(session_id) if m["turn"] < turn]
    return before[-HISTORY_MESSAGES:]


def _finish(scope: Scope, state: TaskInput, task: dict[str, Any], **changes: Any) -> dict:
    """Record the task's end in the ``tasks`` table and emit it (remembered after the reply)."""
    done = {**task, **changes, "messages": None, "pending": None}
    ChatStore(scope.space.postgres).save_task(scope.thread_id or "", state["turn"], done)
    if done["status"] == "completed":
        scope.emit("task.completed", task_id=done["id"], agent=done["agent"])
    else:
        scope.emit("task.failed", task_id=done["id"], agent=done["agent"], error=done["error"])
    return {"tasks": {done["id"]: done}}


def _start(scope: Scope, state: TaskInput, task: dict[str, Any], agent: Any) -> list[Any]:
    """Mark the task running and build the agent's first messages, with its context."""
    session = scope.thread_id or ""
    store = ChatStore(scope.space.postgres)
    store.save_task(session, state["turn"], {**task, "status": "running"})
    scope.emit("task.started", task_id=task["id"], agent=agent.name, agent_id=agent.agent_id)
    context = state.get("context") or {}
    history = recent_history(store, session, state["turn"])
    prompt = task_prompt(
        agent.name, task["description"], state.get("earlier") or {},
        context.get("own") or [], context.get("recall") or [], history,
    )  # fmt: skip
    return [SystemMessage(agent.system_prompt), HumanMessage(prompt)]


def run_task(state: TaskInput, scope: Scope) -> dict[str, Any]:
    """Give the task to its agent until it answers, fails, or waits for an approval."""
    task = state["task"]
    try:
        agent = AgentStore(scope.space).get(task["agent"])
    except SpaceNotFound:
        return _finish(scope, state, task, status="failed", error=f"no agent {task['agent']!r}")
    try:
        messages = task.get("messages") or _start(scope, state, task, agent)
        rounds = task.get("rounds", 0)
        while True:
            tools = [TOOLS[n] for n in agent.tools] if rounds < TOOL_ROUNDS else []
            answer: AIMessage = scope.ask(messages, tools=tools, model=agent.model)
            if not (answer.tool_calls and tools):
                break
            messages, rounds = [*messages, answer], rounds + 1
            gated = [
                c
                for c in answer.tool_calls
                if c["name"] in NEEDS_APPROVAL and c["name"] in agent.tools
            ]
            for call in answer.tool_calls:
                if call not in gated:  # run now (or refused: not one of the agent's tools)
                    messages.append(_tool_message(scope, task, agent.tools, call))
            if gated:
                scope.emit("tool.requested", task_id=task["id"], tools=[c["name"] for c in gated])
                waiting = {**task, "status": "waiting", "messages": messages, "rounds": rounds,
                           "pending": gated}  # fmt: skip
                return {"tasks": {task["id"]: waiting}}
    except StoreUnavailable:
        raise
    except SpacesError as exc:  # the model failed after its fallbacks, or the budget is out
        return _finish(scope, state, task, status="failed", error=str(exc))
    return _finish(scope, state, task, status="completed", result=str(answer.content))


def _tool_message(scope: Scope, task: dict, allowed: list[str], call: dict) -> ToolMessage:
    scope.emit("tool.started", task_id=task["id"], tool=call["name"])
    output = run_tool(scope, allowed, call["name"], call.get("args") or {})
    failed = output.startswith("failed:")
    scope.emit("tool.failed" if failed else "tool.completed", task_id=task["id"], tool=call["name"])
    return ToolMessage(output, tool_call_id=call["id"], name=call["name"])


def ask_tool(state: TaskInput, scope: Scope) -> dict[str, Any]:
    """Ask a person whether the task's next pending tool call may run; run it or decline."""
    task = state["task"]
    call, rest = task["pending"][0], task["pending"][1:]
    args = call.get("args") or {}
    extras = {
        "type": "tool_approval", "space_id": scope.space_id, "task_id": task["id"],
        "agent": task["agent"], "tool": call["name"], "args": args,
    }  # fmt: skip
    scope.emit("approval.required", kind="tool_approval", task_id=task["id"], tool=call["name"])
    while True:
        answer = read_answer(interrupt(tool_request(call["name"], args, extras)))
        action = answer.get("action")
        chosen = edited_args(call["name"], args, answer)
        if isinstance(chosen, dict) or action == "reject":
            break
        extras = {**extras, "error": chosen}
    scope.emit("approval.resolved", kind="tool_approval", task_id=task["id"], action=action)
    if isinstance(chosen, dict):
        agent_tools = [call["name"]]  # approved for this one call
        message = _tool_message(scope, task, agent_tools, {**call, "args": chosen})
    else:
        message = ToolMessage(
            "the user did not approve this tool call", tool_call_id=call["id"], name=call["name"]
        )
    updated = {
        **task,
        "status": "waiting" if rest else "resumed",
        "messages": [*task["messages"], message],
        "pending": rest,
    }
    return {"tasks": {task["id"]: updated}}
