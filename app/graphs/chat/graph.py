"""The ``chat`` graph: one turn of a session with the space's personal agents.

A session is a thread on one space; each message is a run on it. ``admit``
stores the message and picks the mode: ``@name ...`` goes straight to that
agent (direct mode, no planner, no plan approval); anything else goes to the
planner, whose task graph is checked (unknown agents, cycles; one re-ask
with the error), then stops at a ``plan_approval`` interrupt that carries
``expires_at``. ``dispatch`` runs the tasks in dependency order, in waves
of ``Send`` branches (at most 3 at once, each agent within its
``concurrency_limit``); a failed task fails its dependents. ``reply``
stores and sends the answer, citing the tasks; ``remember`` then stores the
turn's interactions in each agent's context and ``compact`` trims the
history, so neither delays the reply. ``build_chat(deps)`` builds
it; ``langgraph.json`` serves the module-level ``graph``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send, interrupt

from app.errors import BudgetExceeded, InvalidInput
from app.graphs.admission import check_query, run_model
from app.graphs.chat.agent_context import Interaction, remember_all, retrieve_for
from app.graphs.chat.compaction import SUMMARY_MAX_OUTPUT, compact
from app.graphs.chat.intake import intake
from app.graphs.chat.planning import (
    MAX_PARALLEL,
    TASK_TOKENS,
    check_plan,
    fail_blocked,
    minimal_task_plan,
    new_task,
    next_wave,
)
from app.graphs.chat.prompts import PLAN_SYSTEM, plan_prompt
from app.graphs.chat.state import TASKS_MAX, ChatInput, ChatOutput, ChatState, TaskPlan
from app.graphs.chat.tasks import ask_tool, recent_history, run_task
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.estimate import PLAN_TOKENS
from app.graphs.failure import end_graph
from app.graphs.hitl import hitl_request, plan_description, read_answer
from app.graphs.messages import answer as ai_answer
from app.graphs.scope import Scope, allowed_scope, scoped
from app.ids import validate_agent_name
from app.llm.structured import InvalidOutput
from app.spaces.stores.agents import AgentStore
from app.spaces.stores.chat_store import ChatStore
from app.spaces.stores.run_records import register_thread

MENTION = re.compile(r"@([A-Za-z0-9_]+)\s*(.*)", re.S)
PLAN_ATTEMPTS = 2
COMPACT_TOKENS = 4_000 + SUMMARY_MAX_OUTPUT
DIRECT_ESTIMATE = TASK_TOKENS + COMPACT_TOKENS
ORCHESTRATED_ESTIMATE = PLAN_ATTEMPTS * PLAN_TOKENS + TASKS_MAX * TASK_TOKENS + COMPACT_TOKENS


def _session(scope: Scope) -> str:
    if not scope.thread_id:
        raise InvalidInput("a chat turn needs a thread: the session it belongs to")
    return scope.thread_id


def admit(state: ChatState, scope: Scope) -> Command[Literal["plan", "dispatch", "finish"]]:
    """Check and store the message, hold the turn's budget, and pick the mode."""
    message = check_query(state.get("message"))
    session = _session(scope)
    model = run_model(scope.context, scope.space, scope.settings)
    mention = MENTION.fullmatch(message)
    target = None
    if mention:
        target = AgentStore(scope.space).get(validate_agent_name(mention.group(1)))
        if not mention.group(2).strip():
            raise InvalidInput(f"say something to @{target.name}")
    elif not AgentStore(scope.space).list():
        raise InvalidInput("this space has no agents yet: create one first")
    register_thread(scope.deps.backends.pool, session, scope.space_id, scope.user_id, "chat")
    tokens = scope.context.token_reserve
    if tokens is None:
        tokens = DIRECT_ESTIMATE if target is not None else ORCHESTRATED_ESTIMATE
    scope.budget.hold_run(session, tokens, "chat")
    store = ChatStore(scope.space.postgres)
    store.open_session(session, scope.user_id, title=message)
    turn = (state.get("turn") or 0) + 1  # the same again if this node re-runs after a crash
    store.add_message(session, turn, "user", message)
    start = {
        "model": model, "turn": turn, "tasks": None, "plan": None, "reply": None,
        "expires_at": None, "approval_error": None, "error": None, "status": "admitted",
    }  # fmt: skip
    scope.emit("message.created", role="user", turn=turn)
    if target is not None:
        scope.emit("agent.direct_call", agent=target.name, agent_id=target.agent_id, turn=turn)
        task = new_task("t1", target, mention.group(2).strip(), [])
        return Command(goto="dispatch", update={**start, "mode": "direct", "plan": [task]})
    return Command(goto="plan", update={**start, "mode": "orchestrated"})


def plan(state: ChatState, scope: Scope) -> Command[Literal["approve_plan", "finish"]]:
    """Ask the planner for a task graph over the space's agents; re-ask once if it is invalid."""
    agents = {a.name: a for a in AgentStore(scope.space).list()}
    store = ChatStore(scope.space.postgres)
    history = recent_history(store, _session(scope), state["turn"])
    scope.emit("plan.requested", agents=len(agents))
    error: str | None = None
    repairs: list[str] = []
    for _attempt in range(PLAN_ATTEMPTS):
        prompt = plan_prompt(state["message"], list(agents.values()), history, error)
        try:
            drafted = scope.ask([SystemMessage(PLAN_SYSTEM), HumanMessage(prompt)], schema=TaskPlan)
            if drafted is None:
                raise InvalidInput("the model answered without a plan")
            tasks = check_plan(drafted.model_dump(), agents)
            break
        except InvalidOutput as exc:
            error = exc.error
        except InvalidInput as exc:
            error = str(exc)
    else:  # no usable task graph: a minimal one, never a failed turn
        tasks, repairs = minimal_task_plan(state["message"], agents, str(error)[:200])
        scope.emit("plan.repaired", repairs=repairs)
    expires = datetime.now(UTC) + timedelta(seconds=scope.settings.approval_timeout_s)
    scope.emit("task_plan.created", tasks=[{k: t[k] for k in ("id", "agent")} for t in tasks])
    return Command(
        goto="approve_plan",
        update={
            "plan": tasks, "plan_repairs": repairs, "expires_at": expires.isoformat(),
            "status": "awaiting_approval",
        },
    )  # fmt: skip


def approve_plan(
    state: ChatState, scope: Scope
) -> Command[Literal["dispatch", "approve_plan", "finish"]]:
    """Stop for a person: approve, edit or reject the plan, before ``expires_at``.

    An edit (the standard ``edit`` decision, its ``args.tasks``) is checked
    like the planner's plan; an invalid one asks again with the error.
    An answer after the deadline counts as declined: the turn ends
    ``rejected`` with the reason ``approval timed out``.
    """
    tasks = state["plan"] or []
    extras: dict[str, Any] = {
        "type": "plan_approval", "space_id": scope.space_id, "plan": tasks,
        "expires_at": state["expires_at"],
        "estimated_tokens": sum(t["estimated_tokens"] for t in tasks),
        "estimated_cost_usd": round(sum(t["estimated_cost_usd"] for t in tasks), 6),
        "estimated_seconds": _seconds(tasks),
        "repairs": state.get("plan_repairs") or [],
    }  # fmt: skip
    if state.get("approval_error"):
        extras["error"] = state["approval_error"]
    args = {"tasks": [{k: t[k] for k in ("id", "agent", "description", "depends_on")}
                      for t in tasks]}  # fmt: skip
    request = hitl_request("approve_task_plan", args, plan_description(state["message"], extras),
                           extras)  # fmt: skip
    scope.emit("approval.required", kind="plan_approval", expires_at=state["expires_at"])
    answer = read_answer(interrupt(request))
    action = answer.get("action")
    if datetime.now(UTC) > datetime.fromisoformat(str(state["expires_at"])):
        scope.emit("approval.expired", kind="plan_approval")
        return Command(goto="finish", update={"status": "rejected", "error": "approval timed out"})
    if action not in ("approve", "reject", "edit"):
        error = f"unknown action {str(action)[:40]!r}: approve, edit or reject"
        return Command(goto="approve_plan", update={"approval_error": error})
    start: dict[str, Any] = {"status": "running", "approval_error": None}
    if action == "edit":  # the edited tasks, checked like the planner's
        agents = {a.name: a for a in AgentStore(scope.space).list()}
        try:
            start["plan"] = check_plan((answer.get("edited") or {}).get("args"), agents)
        except InvalidInput as exc:
            return Command(goto="approve_plan", update={"approval_error": str(exc)})
    scope.emit("approval.resolved", kind="plan_approval", action=action)
    if action == "reject":
        reason = str(answer.get("feedback") or "declined")[:500]
        return Command(goto="finish", update={"status": "rejected", "error": reason})
    return Command(goto="dispatch", update=start)


def _seconds(tasks: list[dict[str, Any]]) -> float:
    """Wall time of the plan if each wave takes its slowest task (waves of ``MAX_PARALLEL``)."""
    waves = -(-len(tasks) // MAX_PARALLEL)
    return round(waves * max((t["estimated_seconds"] for t in tasks), default=0), 1)


def dispatch(state: ChatState, scope: Scope) -> Command[Literal["run_task", "ask_tool", "reply"]]:
    """Send the next wave of tasks, fail the ones a failure blocks, or go to the reply."""
    tasks = dict(state.get("tasks") or {})
    store = ChatStore(scope.space.postgres)
    changed: dict[str, dict[str, Any]] = {}
    if not tasks:  # the turn's first wave: its tasks come from the (approved) plan
        changed = {t["id"]: t for t in state.get("plan") or []}
        for task in changed.values():
            store.save_task(_session(scope), state["turn"], task)
        tasks = dict(changed)
    blocked = fail_blocked(tasks)
    changed.update(blocked)
    for task in blocked.values():
        store.save_task(_session(scope), state["turn"], task)
        scope.emit("task.failed", task_id=task["id"], agent=task["agent"], error=task["error"])
    tasks.update(blocked)
    wave = next_wave(tasks)
    _agent_statuses(scope, tasks, {t["agent"] for t in wave})
    if not wave:
        return Command(goto="reply", update={"tasks": changed})
    scope.emit("task.progress", running=[t["id"] for t in wave],
               done=sum(t["status"] in ("completed", "failed") for t in tasks.values()),
               total=len(tasks))  # fmt: skip
    keys = {"space_id": state["space_id"], "model": state["model"], "turn": state["turn"],
            "mode": state.get("mode", "orchestrated")}  # fmt: skip
    contexts = _retrieve(scope, [t for t in wave if t["status"] == "pending"])
    sends = [
        Send(
            "ask_tool" if t["status"] == "waiting" else "run_task",
            {
                **keys,
                "task": t,
                "earlier": {d: tasks[d]["result"] for d in t["depends_on"]},
                "context": contexts.get(t["id"], {}),
            },
        )
        for t in wave
    ]
    return Command(goto=sends, update={"tasks": changed})


def _retrieve(scope: Scope, starting: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Each starting task's context: its agent's own interactions and the space's recall."""
    if not starting:
        return {}
    found = retrieve_for(scope.space, [(t["agent"], t["description"]) for t in starting])
    contexts = {}
    for task, hits in zip(starting, found, strict=True):
        scope.emit(
            "context.retrieved", task_id=task["id"], agent=task["agent"],
            own=len(hits.own), recall=len(hits.space),
        )  # fmt: skip
        contexts[task["id"]] = {
            "own": [h.text for h in hits.own], "recall": [h.text for h in hits.space],
        }  # fmt: skip
    return contexts


def _agent_statuses(scope: Scope, tasks: dict[str, dict[str, Any]], busy: set[str]) -> None:
    """Busy while an agent has a task in the wave; else error if its last task failed."""
    store = AgentStore(scope.space)
    for name in {t["agent"] for t in tasks.values()}:
        mine = [t for t in tasks.values() if t["agent"] == name]
        failed = any(t["status"] == "failed" for t in mine)
        status = "busy" if name in busy else "error" if failed else "ready"
        if store.set_status(name, status):
            scope.emit("agent.status.changed", agent=name, status=status)


def reply(state: ChatState, scope: Scope) -> Command[Literal["remember"]]:
    """Store and send the answer: the agent's own (direct) or the results, citing tasks."""
    tasks = [state["tasks"][t["id"]] for t in state["plan"] or []]
    done = [t for t in tasks if t["status"] == "completed"]
    if state.get("mode") == "direct":
        (task,) = tasks
        text = task["result"] if done else f"@{task['agent']} failed: {task['error']}"
    else:
        lines = [f"Done {len(done)} of {len(tasks)} tasks."]
        for t in tasks:
            body = t["result"] if t["status"] == "completed" else f"failed: {t['error']}"
            lines.append(f"\n[{t['id']}] @{t['agent']}: {body}")
        text = "\n".join(lines)
    status = "completed" if done else "failed"
    agent_id = tasks[0]["agent_id"] if state.get("mode") == "direct" else None
    cited = [t["id"] for t in tasks]
    ChatStore(scope.space.postgres).add_message(
        _session(scope), state["turn"], "assistant", text, agent_id=agent_id,
        meta={"mode": state.get("mode"), "tasks": cited},
    )  # fmt: skip
    scope.emit("message.created", role="assistant", turn=state["turn"], tasks=cited)
    error = None if done else "every task failed"
    said = ai_answer(
        text, f"{state.get('answered')}:reply", name=tasks[0]["agent"] if agent_id else None
    )
    update = {"reply": text, "status": status, "error": error, "messages": [said]}
    return Command(goto="remember", update=update)


def remember(state: ChatState, scope: Scope) -> Command[Literal["compact"]]:
    """Store each task of the turn in its agent's context, once the reply is out."""
    session = _session(scope)
    items = [
        Interaction(
            t["agent"],
            f"Task: {t['description']}\n"
            + (f"Result: {t['result']}" if t["status"] == "completed" else f"Failed: {t['error']}"),
            t["id"],
            t["status"] == "completed",
            state.get("mode") or "task",
            key=f"{session}:{state['turn']}:{t['id']}",
        )
        for t in (state.get("tasks") or {}).values()
        if t["status"] in ("completed", "failed")
    ]
    if items:
        remember_all(scope.space, items)
    return Command(goto="compact")


def compact_node(state: ChatState, scope: Scope) -> Command[Literal["finish"]]:
    """Summarise or truncate the session's history once the reply is out (never before)."""
    try:
        done = compact(scope, _session(scope), state["model"])
    except BudgetExceeded:
        done = None  # the history stays as it is; the next turn tries again
    if done:
        scope.emit("session.compacted", **done)
    return Command(goto="finish")


def finish_node(deps: Deps) -> Any:
    """The last node: free the turn's hold and report its outcome (touching only an owned space)."""

    def finish(state: ChatState, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
        status = state.get("status") or "failed"
        if status not in ("completed", "rejected", "budget_exceeded"):
            status = "failed"
        scope = allowed_scope(deps, runtime, config, state)
        if scope is not None:
            if scope.thread_id:
                scope.budget.release_run(scope.thread_id, "chat")
            _agent_statuses(scope, state.get("tasks") or {}, set())
            kind = "run.completed" if status in ("completed", "rejected") else "run.failed"
            scope.emit(kind, status=status, turn=state.get("turn"))
        return {"status": status, "message": None}  # the next turn brings its own

    return finish


def build_chat(deps: Deps, *, raise_failures: bool = False) -> StateGraph:
    """The uncompiled ``chat`` graph over ``deps`` (compile it with your own checkpointer).

    ``raise_failures``: a failed turn ends with an error (``app/graphs/failure.py``),
    as the served graph does; in process it ends with ``status: failed``.
    """
    builder = StateGraph(
        ChatState, context_schema=RunContext, input_schema=ChatInput, output_schema=ChatOutput
    )
    builder.add_node("intake", intake)
    for step in (admit, plan, approve_plan, dispatch, reply, remember):
        builder.add_node(step.__name__, scoped(deps, step))
    builder.add_node("compact", scoped(deps, compact_node))
    builder.add_node("run_task", scoped(deps, run_task))
    builder.add_node("ask_tool", scoped(deps, ask_tool))
    builder.add_node("finish", finish_node(deps))
    builder.add_edge(START, "intake")
    builder.add_edge("run_task", "dispatch")
    builder.add_edge("ask_tool", "dispatch")
    end_graph(builder, raise_failures=raise_failures)
    return builder
