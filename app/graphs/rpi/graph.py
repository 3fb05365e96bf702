"""The ``rpi`` graph: admit, research, plan, approve (interrupt), implement, extract, save.

Every node that can be re-run after a crash is idempotent: model calls are
counted under checkpoint-derived keys, notes are replaced in place, memories
carry idempotency keys, graph writes are MERGEs and Postgres writes upserts.
Failures a user can cause end the run with a status and a one-line error,
never a traceback.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from app.errors import (
    BudgetExceeded,
    InvalidInput,
    ModelUnavailable,
    SpacesError,
    StoreUnavailable,
)
from app.graphs.admission import admit, check_query, open_for_run, run_context, run_model
from app.graphs.calls import ask_model, thread_id_of
from app.graphs.context import RunContext
from app.graphs.events import emit
from app.graphs.research import graph as research_graph
from app.graphs.research.graph import new_note_dir
from app.graphs.research.spec import parse_spec
from app.graphs.resources import settings_of
from app.graphs.rpi.prompts import (
    FACTS_SYSTEM,
    IMPLEMENT_SYSTEM,
    PLAN_SYSTEM,
    facts_prompt,
    plan_prompt,
    step_prompt,
)
from app.graphs.rpi.save import estimate_plan, implementation_text, save_outputs
from app.graphs.rpi.state import KeyFacts, Plan, RPIInput, RPIOutput, RPIState, validate_plan
from app.graphs.rpi.tools import IMPLEMENT_TOOLS, NEEDS_APPROVAL, run_tool
from app.spaces.budget import thread_totals
from app.spaces.run_records import register_thread, upsert_run

MAX_TOOL_ROUNDS = 3
FEEDBACK_MAX = 2_000


def _stop(status: str, exc: Exception) -> Command:
    return Command(goto="finish", update={"status": status, "error": str(exc)})


def admit_run(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["research", "finish"]]:
    """Refuse unknown, archived, foreign or spent spaces; fix the model and note folder."""
    try:
        query = check_query(state.get("query"))
        parse_spec(state.get("context_spec"))
        admitted = admit(run_context(runtime), state.get("space_id"))
        model = state.get("model") or run_model(run_context(runtime), admitted)
        space_id = admitted.space.config.space_id
        if thread_id := thread_id_of(config):
            register_thread(
                admitted.manager.backends.pool,
                thread_id,
                space_id,
                run_context(runtime).user_id,
                "rpi",
            )
    except BudgetExceeded as exc:
        return _stop("budget_exceeded", exc)
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return _stop("failed", exc)
    note_dir = state.get("note_dir") or new_note_dir(
        admitted, "Projects", query, thread_id_of(config)
    )
    emit(runtime, config, "run.started", space_id, query=query, model=model)
    return Command(
        goto="research",
        update={
            "query": query,
            "model": model,
            "note_dir": note_dir,
            "related_notes": [f"{note_dir}/plan", f"{note_dir}/implementation"],
            "status": "running",
            "error": None,
        },
    )


def after_research(state: RPIState) -> Literal["plan", "finish"]:
    """Plan only if research completed (it may have been refused or run out of budget)."""
    return "plan" if state.get("status") == "completed" else "finish"


def plan(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["approve_plan", "finish"]]:
    """Ask the model for a plan (again, with the person's feedback, after ``revise``)."""
    messages = [
        SystemMessage(PLAN_SYSTEM),
        HumanMessage(plan_prompt(state["query"], state.get("research", ""), state.get("feedback"))),
    ]
    try:
        drafted = ask_model(
            runtime, config, state["space_id"], state["model"], messages,
            schema=Plan,
        )  # fmt: skip
        if drafted is None:
            raise InvalidInput("the model answered without a plan")
        checked, order = validate_plan(drafted.model_dump())
    except BudgetExceeded as exc:
        return _stop("budget_exceeded", exc)
    except InvalidInput as exc:
        return _stop("failed", InvalidInput(f"the model's plan was unusable: {exc}"))
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return _stop("failed", exc)
    emit(runtime, config, "phase.completed", state["space_id"], phase="plan")
    return Command(
        goto="approve_plan",
        update={
            "plan": checked,
            "order": order,
            "approval_error": None,
            "status": "awaiting_approval",
        },
    )


def approve_plan(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["implement", "plan", "approve_plan", "finish"]]:
    """Stop for a person: approve, reject, edit or revise the plan.

    A valid edit replaces the plan and is carried out. An invalid edit or an
    unknown action asks again, showing the error; the plan stays awaiting.
    """
    tokens, cost = estimate_plan(state["plan"], state.get("research", ""), state["model"])
    request: dict[str, Any] = {
        "type": "plan_approval",
        "space_id": state["space_id"],
        "plan": state["plan"],
        "estimated_tokens": tokens,
        "estimated_cost_usd": cost,
    }
    if state.get("approval_error"):
        request["error"] = state["approval_error"]
    emit(runtime, config, "approval.required", state["space_id"], kind="plan_approval")
    answer = interrupt(request)
    action = answer.get("action") if isinstance(answer, dict) else None
    emit(runtime, config, "approval.resolved", state["space_id"], action=str(action)[:20])
    start = {"step_index": 0, "deliverables": {}, "step_messages": [], "tool_rounds": 0}
    if action == "approve":
        return Command(
            goto="implement", update={**start, "status": "implementing", "approval_error": None}
        )
    if action == "reject":
        feedback = str(answer.get("feedback") or "")[:FEEDBACK_MAX]
        return Command(
            goto="finish",
            update={"status": "rejected", "error": None, "feedback": feedback or None},
        )
    if action == "edit":
        try:
            edited, order = validate_plan(answer.get("plan"))
        except InvalidInput as exc:
            return Command(goto="approve_plan", update={"approval_error": str(exc)})
        return Command(
            goto="implement",
            update={**start, "plan": edited, "order": order, "status": "implementing"},
        )
    if action == "revise":
        feedback = answer.get("feedback")
        if not isinstance(feedback, str) or not 0 < len(feedback.strip()) <= FEEDBACK_MAX:
            error = f"revise needs feedback text of 1 to {FEEDBACK_MAX} characters"
            return Command(goto="approve_plan", update={"approval_error": error})
        return Command(goto="plan", update={"feedback": feedback.strip()})
    error = f"unknown action {str(action)[:40]!r}: use approve, reject, edit or revise"
    return Command(goto="approve_plan", update={"approval_error": error})


def implement(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["run_tools", "implement", "extract", "finish"]]:
    """Carry out the next step in dependency order (one step per node run)."""
    order, index = state["order"], state.get("step_index", 0)
    if index >= len(order):
        return Command(goto="extract")
    steps = {s["id"]: s for s in state["plan"]["steps"]}
    step = steps[order[index]]
    deliverables = state.get("deliverables") or {}
    messages = state.get("step_messages") or [
        SystemMessage(IMPLEMENT_SYSTEM),
        HumanMessage(step_prompt(state["query"], state.get("research", ""), step, deliverables)),
    ]
    tools = IMPLEMENT_TOOLS if state.get("tool_rounds", 0) < MAX_TOOL_ROUNDS else []
    try:
        answer: AIMessage = ask_model(
            runtime, config, state["space_id"], state["model"], messages,
            tools=tools,
        )  # fmt: skip
    except BudgetExceeded as exc:
        return _stop("budget_exceeded", exc)
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return _stop("failed", exc)
    if answer.tool_calls and tools:
        return Command(goto="run_tools", update={"step_messages": [*messages, answer]})
    emit(runtime, config, "phase.progress", state["space_id"], phase="implement", step=step["id"])
    return Command(
        goto="implement",
        update={
            "deliverables": {**deliverables, step["id"]: str(answer.content)},
            "step_index": index + 1,
            "step_messages": [],
            "tool_rounds": 0,
        },
    )


def _approved(tool: str, args: dict, space_id: str) -> bool:
    """Ask a person whether ``tool`` may run; ask again on an unknown answer."""
    request: dict[str, Any] = {
        "type": "tool_approval",
        "tool": tool,
        "args": args,
        "space_id": space_id,
    }
    while True:
        answer = interrupt(request)
        action = answer.get("action") if isinstance(answer, dict) else None
        if action in ("approve", "reject"):
            return action == "approve"
        request = {**request, "error": f"unknown action {str(action)[:40]!r}: approve or reject"}


def run_tools(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["run_tools", "implement"]]:
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
    if name in NEEDS_APPROVAL and not _approved(name, args, state["space_id"]):
        output = "the user did not approve this tool call"
    else:
        emit(runtime, config, "tool.started", state["space_id"], tool=name)
        output = run_tool(name, args, settings_of(run_context(runtime)))
        kind = "tool.failed" if output.startswith("failed:") else "tool.completed"
        emit(runtime, config, kind, state["space_id"], tool=name)
    last = len(pending) == 1
    return Command(
        goto="implement" if last else "run_tools",
        update={
            "step_messages": [*messages, ToolMessage(output, tool_call_id=call["id"], name=name)],
            "tool_rounds": rounds + 1 if last else rounds,
        },
    )


def extract(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["save", "finish"]]:
    """Ask the model for the key facts, entities and relations (skipped if the budget is out)."""
    messages = [
        SystemMessage(FACTS_SYSTEM),
        HumanMessage(
            facts_prompt(state["query"], state.get("research", ""), implementation_text(state))
        ),
    ]
    try:
        answer = ask_model(
            runtime, config, state["space_id"], state["model"], messages,
            schema=KeyFacts,
        )  # fmt: skip
        facts = (answer or KeyFacts()).model_dump()
    except BudgetExceeded:
        facts = KeyFacts().model_dump()  # save the work done; remember nothing new
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return _stop("failed", exc)
    return Command(goto="save", update={"facts": facts})


def save(
    state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["finish"]]:
    """Write plan and implementation notes, memories, graph facts and run records."""
    try:
        admitted = open_for_run(run_context(runtime), state["space_id"])
        artifacts = save_outputs(
            admitted, state, thread_id_of(config), run_context(runtime).user_id
        )
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return _stop("failed", exc)
    emit(runtime, config, "memory.saved", state["space_id"], facts=len(state["facts"]["facts"]))
    return Command(goto="finish", update={"artifacts": artifacts, "status": "completed"})


def finish(state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """Total the run's usage, record its outcome in the space, and report it."""
    status = state.get("status") or "failed"
    if status not in ("completed", "rejected", "budget_exceeded"):
        status = "failed"
    thread_id = thread_id_of(config)
    tokens, cost = 0, 0.0
    artifacts = state.get("artifacts") or (
        {"research": state["research_path"]} if state.get("research_path") else {}
    )
    try:
        admitted = open_for_run(run_context(runtime), state.get("space_id"))
    except SpacesError:
        admitted = None  # refused at admission: nothing of the space may be touched
    if admitted is not None and thread_id:
        tokens, cost = thread_totals(admitted.manager.backends.pool, thread_id)
        if state.get("model"):
            upsert_run(
                admitted.space.postgres,
                thread_id=thread_id,
                user_id=run_context(runtime).user_id,
                query=state.get("query", ""),
                status=status,
                model=state.get("model"),
                tokens_used=tokens,
                cost_usd=cost,
                result={"artifacts": artifacts, "error": state.get("error")},
            )
    kind = "run.completed" if status in ("completed", "rejected") else "run.failed"
    if isinstance(state.get("space_id"), str):
        emit(runtime, config, kind, state["space_id"], status=status)
    return {
        "status": status,
        "tokens_used": tokens,
        "cost_usd": round(cost, 6),
        "artifacts": artifacts,
    }


builder = StateGraph(
    RPIState, context_schema=RunContext, input_schema=RPIInput, output_schema=RPIOutput
)
builder.add_node("admit", admit_run)
builder.add_node("research", research_graph)
builder.add_node("plan", plan)
builder.add_node("approve_plan", approve_plan)
builder.add_node("implement", implement)
builder.add_node("run_tools", run_tools)
builder.add_node("extract", extract)
builder.add_node("save", save)
builder.add_node("finish", finish)
builder.add_edge(START, "admit")
builder.add_conditional_edges("research", after_research, ["plan", "finish"])
builder.add_edge("finish", END)

graph = builder.compile(name="rpi")
