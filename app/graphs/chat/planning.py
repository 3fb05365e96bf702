"""The orchestrator's checks and scheduling: a valid task graph, then waves of ready tasks.

``check_plan`` reuses the ``rpi`` plan check (unique ids, known
dependencies, no cycles, dependency order) and adds what only a team has:
every task names one of the space's live agents. Estimates are ours,
computed from each call's caps and the agent's model price, not the model's
guesses. ``next_wave`` picks what runs next: ready tasks in plan order, at
most ``MAX_PARALLEL`` at once and at most each agent's ``concurrency_limit``;
a task whose dependency failed fails too, with the reason. When the planner
gives no usable task graph, ``minimal_task_plan`` hands the whole request to
the one agent it fits best, so a turn always has a plan to approve.
"""

from __future__ import annotations

import re
from typing import Any

from app.errors import InvalidInput
from app.graphs.chat.state import TaskPlan
from app.graphs.plans import parse_plan, validate_plan
from app.llm.pricing import cost_usd
from app.llm.resolve import MAX_OUTPUT_TOKENS
from app.spaces.stores.agents import Agent

MAX_PARALLEL = 3  # the seed's limit on agents working at once
TASK_PROMPT_TOKENS = 3_000
TOOL_ROUNDS = 3
TASK_TOKENS = (TOOL_ROUNDS + 1) * (TASK_PROMPT_TOKENS + MAX_OUTPUT_TOKENS)
SECONDS_PER_CALL = 8.0
ACTIVE = ("running", "waiting", "resumed")
DONE = ("completed", "failed")


def new_task(task_id: str, agent: Agent, description: str, depends_on: list[str]) -> dict[str, Any]:
    """A task record as the graph keeps it, with our estimates."""
    return {
        "id": task_id,
        "agent": agent.name,
        "agent_id": agent.agent_id,
        "concurrency_limit": agent.concurrency_limit,
        "description": description,
        "depends_on": depends_on,
        "status": "pending",
        "result": None,
        "error": None,
        "estimated_tokens": TASK_TOKENS,
        "estimated_cost_usd": round(
            cost_usd(agent.model, TASK_PROMPT_TOKENS, MAX_OUTPUT_TOKENS), 6
        ),
        "estimated_seconds": SECONDS_PER_CALL,
    }


def check_plan(raw: object, agents: dict[str, Agent]) -> list[dict[str, Any]]:
    """The plan's tasks in dependency order, or ``InvalidInput`` saying what is wrong."""
    plan = parse_plan(TaskPlan, raw)
    steps = [
        {"id": t.id, "description": t.description, "depends_on": t.depends_on} for t in plan.tasks
    ]
    _, order = validate_plan({"title": "tasks", "steps": steps})
    by_id = {t.id: t for t in plan.tasks}
    for task in plan.tasks:
        if task.agent not in agents:
            raise InvalidInput(f"invalid plan: task {task.id!r} names unknown agent {task.agent!r}")
    return [
        new_task(i, agents[by_id[i].agent], by_id[i].description,
                 list(dict.fromkeys(by_id[i].depends_on)))
        for i in order
    ]  # fmt: skip


_WORD = re.compile(r"[a-z0-9]{3,}")


def minimal_task_plan(
    request: str, agents: dict[str, Agent], why: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """One task: the whole request, for the agent whose name and prompt share most of its words.

    Ties go to the first agent by name. ``InvalidInput`` if the space has no
    live agent (nothing could run the task).
    """
    if not agents:
        raise InvalidInput(f"the planner's task graph was unusable ({why}) and no agent is live")
    words = set(_WORD.findall(request.lower()))

    def fit(name: str) -> tuple[int, str]:
        agent = agents[name]
        own = set(_WORD.findall(f"{agent.name} {agent.system_prompt}".lower()))
        return -len(words & own), name

    chosen = min(agents, key=fit)
    description = " ".join(request.split())[:1_000] or "Answer the request"
    tasks = check_plan(
        {"tasks": [{"id": "t1", "agent": chosen, "description": description}]}, agents
    )
    repairs = [f"the planner gave no usable task graph ({why}): gave the request to {chosen}"]
    return tasks, repairs


def fail_blocked(tasks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tasks to fail because a task they depend on failed (transitively), with the reason."""
    failed = {i for i, t in tasks.items() if t["status"] == "failed"}
    blocked: dict[str, dict[str, Any]] = {}
    changed = True
    while changed:
        changed = False
        for tid, task in tasks.items():
            if task["status"] != "pending" or tid in blocked:
                continue
            bad = next((d for d in task["depends_on"] if d in failed), None)
            if bad is not None:
                blocked[tid] = {**task, "status": "failed", "error": f"depends on failed {bad}"}
                failed.add(tid)
                changed = True
    return blocked


def next_wave(tasks: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks to run now: waiting and resumed ones first, then ready ones, within limits."""
    done = {i for i, t in tasks.items() if t["status"] == "completed"}
    ready = [t for t in tasks.values() if t["status"] in ACTIVE] + [
        t
        for t in tasks.values()
        if t["status"] == "pending" and all(d in done for d in t["depends_on"])
    ]
    wave: list[dict[str, Any]] = []
    per_agent: dict[str, int] = {}
    for task in ready:
        if len(wave) == MAX_PARALLEL:
            break
        if per_agent.get(task["agent"], 0) >= task["concurrency_limit"]:
            continue
        per_agent[task["agent"]] = per_agent.get(task["agent"], 0) + 1
        wave.append(task)
    return wave
