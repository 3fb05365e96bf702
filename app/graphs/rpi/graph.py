"""The ``rpi`` graph: admit, research, plan, approve (interrupt), implement, extract, save.

``build_rpi(deps)`` builds it over explicit dependencies; the servers serve
the one ``app/graphs/served.py`` builds. The implement loop (a step, its
tool calls and their approvals) is ``implement.py``. Every node
that touches the space is written against a ``Scope`` (``scope.py``), which
owns admission checks and the mapping of failures to outcomes. Every node
that can be re-run after a crash is idempotent: model calls are counted
under checkpoint-derived keys, notes are replaced in place, memories carry
idempotency keys, graph writes are MERGEs and Postgres writes upserts.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from app.errors import BudgetExceeded, InvalidInput, SpacesError
from app.graphs.admission import check_query, run_context, run_model
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.estimate import rpi_estimate
from app.graphs.failure import end_graph
from app.graphs.hitl import hitl_request, plan_description, read_answer
from app.graphs.messages import question, question_of
from app.graphs.notes import claim_note_dir
from app.graphs.research import build_research
from app.graphs.research.spec import parse_spec
from app.graphs.rpi.implement import implement, run_tools
from app.graphs.rpi.planning import minimal_plan, repair_plan, salvage_facts, validate_plan
from app.graphs.rpi.prompts import (
    FACTS_SYSTEM,
    PLAN_SYSTEM,
    facts_prompt,
    plan_prompt,
)
from app.graphs.rpi.save import estimate_plan, final_answer, implementation_text, save_outputs
from app.graphs.rpi.state import KeyFacts, Plan, RPIInput, RPIOutput, RPIState
from app.graphs.scope import (
    Scope,
    approval_key,
    approval_refused,
    audit_run_end,
    open_scope,
    scoped,
    space_of,
)
from app.llm.structured import InvalidOutput
from app.spaces.access.roles import Action
from app.spaces.stores.budget import thread_totals
from app.spaces.stores.run_records import register_thread, run_owner, upsert_run

FEEDBACK_MAX = 2_000


def admit(state: RPIState, scope: Scope) -> Command[Literal["research", "finish"]]:
    """Check the input, fix the model and note folder, and hold the run's whole estimate.

    A run the space cannot afford ends here as ``budget_exceeded``, before it
    spends a token.
    """
    query = check_query(question_of(state))
    spec = parse_spec(state.get("context_spec"))
    model = state.get("model") or run_model(scope.context, scope.space, scope.settings)
    tokens = scope.context.token_reserve
    if tokens is None:
        tokens = rpi_estimate(len(spec.agents()))
    if thread_id := scope.thread_id:
        scope.budget.hold_run(thread_id, tokens, "rpi")  # refused runs leave no thread record
        register_thread(scope.deps.backends.pool, thread_id, scope.space_id, scope.user_id, "rpi")
    elif scope.budget.remaining() < tokens:
        raise BudgetExceeded(f"space {scope.space_id!r} cannot afford a run of up to {tokens}")
    scope.audit("run.start", "run.start", graph="rpi")
    note_dir = state.get("note_dir") or claim_note_dir(
        scope.space.vault, "Projects", query, scope.thread_id
    )
    scope.emit("run.started", query=query, model=model)
    return Command(
        goto="research",
        update={
            "space_id": scope.space_id,
            "query": query,
            "model": model,
            "note_dir": note_dir,
            "status": "running",
            "error": None,
            "messages": [question(query, "query")],
        },
    )


def after_research(state: RPIState) -> Literal["plan", "finish"]:
    """Plan only if research completed (it may have been refused or run out of budget)."""
    return "plan" if state.get("status") == "completed" else "finish"


def plan(state: RPIState, scope: Scope) -> Command[Literal["approve_plan", "finish"]]:
    """Ask the model for a plan (again, with the person's feedback, after ``revise``).

    An invalid plan is re-asked with its error; if it stays invalid it is
    repaired where the meaning is clear, or replaced by a minimal plan from the
    query and the research when nothing is left to repair; the repairs go to
    the approval.
    """
    room, _count = scope.room()
    prompt = plan_prompt(state["query"], state.get("research", ""), state.get("feedback"), room)
    messages = [SystemMessage(PLAN_SYSTEM), HumanMessage(prompt)]
    repairs: list[str] = []
    try:
        checked, order = scope.ask(
            messages, schema=Plan, validate=lambda drafted: validate_plan(drafted.model_dump())
        )
    except InvalidOutput as exc:
        try:
            checked, order, repairs = repair_plan(exc.raw, state["query"])
        except InvalidInput as why:  # nothing to repair: a minimal plan, never a failed run
            checked, order, repairs = minimal_plan(
                state["query"], state.get("research", ""), f"{why} after {exc.attempts} attempts"
            )
        scope.emit("plan.repaired", repairs=repairs)
    scope.emit("phase.completed", phase="plan")
    return Command(
        goto="approve_plan",
        update={
            "plan": checked,
            "order": order,
            "plan_repairs": repairs,
            "approval_error": None,
            "status": "awaiting_approval",
        },
    )


def approve_plan(
    state: RPIState, scope: Scope
) -> Command[Literal["implement", "plan", "approve_plan", "finish"]]:
    """Stop for a person: approve, reject, edit or revise the plan.

    A valid edit replaces the plan and is carried out. An invalid edit or an
    unknown action asks again, showing the error; the plan stays awaiting.
    An approved plan resizes the run's hold to what it needs.
    """
    tokens, cost = estimate_plan(state["plan"], state.get("research", ""), state["model"])
    extras: dict[str, Any] = {
        "type": "plan_approval",
        "space_id": state["space_id"],
        "plan": state["plan"],
        "estimated_tokens": tokens,
        "estimated_cost_usd": cost,
        "repairs": state.get("plan_repairs") or [],
    }
    if state.get("approval_error"):
        extras["error"] = state["approval_error"]
    request = hitl_request(
        "approve_plan", state["plan"], plan_description(state["query"], extras), extras
    )
    scope.emit("approval.required", kind="plan_approval")
    answer = read_answer(interrupt(request))
    action = answer.get("action")
    if "edited" in answer:  # the standard edit: the plan is the action's args
        edited = answer["edited"]["args"]
        answer["plan"] = edited.get("plan") if isinstance(edited.get("plan"), dict) else edited
    if not scope.allows(Action.APPROVE):  # checked against the user who resumed the run
        error = approval_refused(scope, "plan", 0)
        return Command(goto="approve_plan", update={"approval_error": error})
    scope.audit("approval.plan", approval_key(scope, 0), answer=str(action)[:20])
    scope.emit("approval.resolved", action=str(action)[:20])
    start = {"step_index": 0, "deliverables": {}, "step_messages": [], "tool_rounds": 0}
    if action == "reject":
        feedback = str(answer.get("feedback") or "")[:FEEDBACK_MAX]
        return Command(
            goto="finish",
            update={"status": "rejected", "error": None, "feedback": feedback or None},
        )
    if action == "revise":
        feedback = answer.get("feedback")
        if not isinstance(feedback, str) or not 0 < len(feedback.strip()) <= FEEDBACK_MAX:
            error = f"revise needs feedback text of 1 to {FEEDBACK_MAX} characters"
            return Command(goto="approve_plan", update={"approval_error": error})
        return Command(goto="plan", update={"feedback": feedback.strip()})
    if action not in ("approve", "edit"):
        error = f"unknown action {str(action)[:40]!r}: use approve, reject, edit or revise"
        return Command(goto="approve_plan", update={"approval_error": error})
    chosen, order = state["plan"], state["order"]
    if action == "edit":
        try:
            chosen, order = validate_plan(answer.get("plan"))
        except InvalidInput as exc:
            return Command(goto="approve_plan", update={"approval_error": str(exc)})
        tokens, _ = estimate_plan(chosen, state.get("research", ""), state["model"])
    if scope.thread_id:
        scope.budget.resize_run(scope.thread_id, tokens)
    return Command(
        goto="implement",
        update={
            **start, "plan": chosen, "order": order, "status": "implementing",
            "approval_error": None,
        },
    )  # fmt: skip


def extract(state: RPIState, scope: Scope) -> Command[Literal["save", "finish"]]:
    """Ask the model for the key facts, entities and relations (skipped if the budget is out)."""
    messages = [
        SystemMessage(FACTS_SYSTEM),
        HumanMessage(
            facts_prompt(
                state["query"],
                state.get("research", ""),
                implementation_text(state),
                scope.room()[0],
            )
        ),
    ]
    try:
        facts = scope.ask(messages, schema=KeyFacts).model_dump()
    except InvalidOutput as exc:
        facts, repairs = salvage_facts(exc.raw)  # keep what is valid, drop the rest
        scope.emit("facts.repaired", repairs=repairs)
    except BudgetExceeded:
        facts = KeyFacts().model_dump()  # save the work done; remember nothing new
    return Command(goto="save", update={"facts": facts})


def save(state: RPIState, scope: Scope) -> Command[Literal["finish"]]:
    """Write plan and implementation notes, memories, graph facts and run records."""
    artifacts, cites, quotes = save_outputs(scope, state)
    scope.emit("memory.saved", facts=len(state["facts"]["facts"]))
    update = {
        "artifacts": artifacts,
        "status": "completed",
        "unverified_citations": state.get("unverified_citations", 0) + cites,
        "unverified_quotes": state.get("unverified_quotes", 0) + quotes,
    }
    return Command(goto="finish", update=update)


def finish_node(deps: Deps, graph_name: str) -> Any:
    """The last node: free the run's hold, total its usage, record and report its outcome.

    It runs for refused runs too, so it opens the space only if the run may
    touch it, and touches nothing otherwise.
    """

    def finish(state: RPIState, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
        status = state.get("status") or "failed"
        if status not in ("completed", "rejected", "budget_exceeded"):
            status = "failed"
        tokens, cost = 0, 0.0
        artifacts = state.get("artifacts") or (
            {"research": state["research_path"]} if state.get("research_path") else {}
        )
        try:
            context = run_context(runtime)
            scope = open_scope(
                deps, context, config, space_of(state, context), writer=runtime.stream_writer
            )
        except SpacesError:
            scope = None  # refused at admission: nothing of the space may be touched
        if scope is not None and (thread_id := scope.thread_id):
            scope.budget.release_run(thread_id, graph_name)
            tokens, cost = thread_totals(scope.deps.backends.pool, thread_id)
            if state.get("model"):
                upsert_run(
                    scope.space.postgres,
                    thread_id=thread_id,
                    user_id=run_owner(scope.deps.backends.pool, thread_id, scope.user_id),
                    query=state.get("query", ""),
                    status=status,
                    model=state.get("model"),
                    tokens_used=tokens,
                    cost_usd=cost,
                    result={"artifacts": artifacts, "error": state.get("error")},
                )
        if scope is not None:
            audit_run_end(scope, status)
            kind = "run.completed" if status in ("completed", "rejected") else "run.failed"
            scope.emit(kind, status=status)
        done = {
            "status": status,
            "tokens_used": tokens,
            "cost_usd": round(cost, 6),
            "artifacts": artifacts,
        }
        if said := final_answer(state, status):
            done["messages"] = [said]
        return done

    return finish


NODES = ("admit", "plan", "approve_plan", "implement", "run_tools", "extract", "save")
_STEPS = (admit, plan, approve_plan, implement, run_tools, extract, save)


def build_rpi(deps: Deps, *, raise_failures: bool = False) -> StateGraph:
    """The uncompiled ``rpi`` graph over ``deps`` (compile it with your own checkpointer).

    ``raise_failures``: a failed run ends with an error (``app/graphs/failure.py``),
    as the served graph does; in process it ends with ``status: failed``.
    """
    builder = StateGraph(
        RPIState, context_schema=RunContext, input_schema=RPIInput, output_schema=RPIOutput
    )
    for name, step in zip(NODES, _STEPS, strict=True):
        builder.add_node(name, scoped(deps, step))
    builder.add_node("research", build_research(deps).compile(name="research"))
    builder.add_node("finish", finish_node(deps, "rpi"))
    builder.add_edge(START, "admit")
    builder.add_conditional_edges("research", after_research, ["plan", "finish"])
    end_graph(builder, raise_failures=raise_failures)
    return builder
