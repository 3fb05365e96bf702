"""The ``research`` graph: prepare, fan out to sub-agents with ``Send``, synthesize, publish.

Each sub-agent is its own node, reached by ``Send``, so each branch has its
own checkpoint and retries, and one failing yields an error finding while the
others go on. ``build_research(deps)`` builds it; the same graph runs on its
own (``langgraph.json``: ``research``) and as the research phase of ``rpi``,
which then owns the run's budget hold.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from app.errors import BudgetExceeded, SpacesError
from app.graphs.admission import check_query, run_context, run_model
from app.graphs.citations import check_citations
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.estimate import AGENT_SHARE, research_estimate
from app.graphs.failure import end_graph
from app.graphs.messages import answer, question, question_of
from app.graphs.notes import check_note_dir, claim_note_dir, keep_links_resolving
from app.graphs.research.agents import AGENT_NODES, agent_node
from app.graphs.research.prompts import SYSTEM, fit_sources, synthesis_prompt
from app.graphs.research.sources import number_sources, source_line
from app.graphs.research.spec import parse_spec, spec_json
from app.graphs.research.state import (
    AgentTask,
    ResearchInput,
    ResearchOutput,
    ResearchState,
)
from app.graphs.scope import Scope, audit_run_end, open_scope, scoped, space_of
from app.llm.resolve import model_names
from app.spaces.stores.budget import thread_totals
from app.spaces.stores.run_records import get_thread, register_thread

# Where ``prepare`` may go, derived from the node list so Studio draws every edge.
AfterPrepare = Literal[(*AGENT_NODES, "finish")]  # type: ignore[valid-type]


def prepare(state: ResearchState, scope: Scope) -> Command[AfterPrepare]:
    """Admit the run, fix its model and note folder, and send the query to each sub-agent.

    A standalone run holds its whole estimate (each sub-agent's share plus
    the synthesis); inside ``rpi`` the run's hold is already there and is kept.
    """
    query = check_query(question_of(state))
    spec = parse_spec(state.get("context_spec"))
    model = state.get("model") or run_model(scope.context, scope.space, scope.settings)
    model_names(model)
    check_note_dir(state.get("note_dir"), state.get("related_notes"))
    tokens = scope.context.token_reserve
    if tokens is None:
        tokens = research_estimate(len(spec.agents()))
    if thread_id := scope.thread_id:
        scope.budget.hold_run(thread_id, tokens, "research")  # refused runs leave no record
        register_thread(
            scope.deps.backends.pool, thread_id, scope.space_id, scope.user_id, "research"
        )
    elif scope.budget.remaining() < tokens:
        raise BudgetExceeded(f"space {scope.space_id!r} cannot afford a run of up to {tokens}")
    scope.audit("run.start", "run.start", graph="research")  # inside rpi: already recorded
    note_dir = state.get("note_dir") or claim_note_dir(
        scope.space.vault, "Research", query, thread_id
    )
    share = min(AGENT_SHARE, tokens // (len(spec.agents()) + 1))  # the synthesis has one too
    sources = spec_json(spec)
    # FileExplorer reads both the vault and the documents; the others one source each.
    sources["files"] = {k: sources[k] for k in ("vault", "documents") if k in sources}
    sources_of = {"links": "urls", "data": "data", "memory": "memory"}
    sends = [
        Send(
            f"{agent}_agent",
            AgentTask(
                space_id=scope.space_id,
                query=query,
                agent=agent,
                source=sources[sources_of.get(agent, agent)],
                model=model,
                token_share=share,
                skip_prefix=note_dir,
            ),
        )
        for agent in spec.agents()
    ]
    scope.emit("phase.started", phase="research", agents=spec.agents())
    return Command(
        goto=sends,
        update={
            "space_id": scope.space_id, "query": query,
            "model": model, "note_dir": note_dir, "status": "researching", "error": None,
            "messages": [question(query, "query")],  # the same id as rpi's: added once
        },
    )  # fmt: skip


def synthesize(state: ResearchState, scope: Scope) -> Command[Literal["publish", "finish"]]:
    """Write the research note's body from the numbered sources, citing them as [n].

    Citations of sources that are not listed are marked ``[n?]`` and quotes
    not found in their source ``[quote?]`` (``app.graphs.citations``).
    """
    findings = state.get("findings") or []
    ranked = number_sources(findings)
    sources = fit_sources(state["query"], ranked, scope.room()[0])
    if len(sources) < len(ranked):
        scope.emit("context.fitted", changes=[f"left out {len(ranked) - len(sources)} sources"])
    messages = [
        SystemMessage(SYSTEM),
        HumanMessage(synthesis_prompt(state["query"], sources)),
    ]
    checked = check_citations(str(scope.ask(messages).content).strip(), sources, state["query"])
    body = checked.text
    failed = [f for f in findings if f.get("error")]
    parts = [body]
    if failed:
        parts.append(
            "## What failed\n\n" + "\n".join(f"- {f['agent']}: {f['error']}" for f in failed)
        )
    notes = [s["ref"] for s in sources if s["kind"] == "vault"]
    own = f"{state['note_dir']}/research.md"  # written next: its name counts
    links = dict(zip(notes, scope.space.vault.link_names(notes, also=[own]), strict=True))
    listed = "\n".join(source_line(s, links.get(s["ref"])) for s in sources)
    parts.append("## Sources\n\n" + (listed or "No sources found."))
    return Command(
        goto="publish",
        update={
            "research": "\n\n".join(parts),
            "sources": sources,
            "unverified_citations": checked.unverified_citations,
            "unverified_quotes": checked.unverified_quotes,
        },
    )


def publish(state: ResearchState, scope: Scope) -> Command[Literal["finish"]]:
    """Write the research note to the vault (replacing it if the node runs again).

    Its "Related" line names only the given notes that exist (``rpi`` adds
    its plan and implementation once they are written).
    """
    thread_id = scope.thread_id
    tokens = thread_totals(scope.deps.backends.pool, thread_id)[0] if thread_id else 0
    vault = scope.space.vault
    own = f"{state['note_dir']}/research.md"
    keep_links_resolving(vault, own)
    written = [
        f"{n}.md" for n in state.get("related_notes") or () if vault.resolve(f"{n}.md").is_file()
    ]
    path = vault.write_note(
        own,
        f"# Research: {state['query'][:120]}\n\n{state['research']}",
        frontmatter={
            "space": state["space_id"],
            "thread_id": thread_id,
            "phase": "research",
            "model": state["model"],
            "tokens": tokens,
            "query": state["query"],
            "unverified_citations": state.get("unverified_citations", 0),
            "unverified_quotes": state.get("unverified_quotes", 0),
            "tags": ["spaces/research"],
        },
        links=vault.link_names(written, also=[own]),
    )
    scope.emit("phase.completed", phase="research", path=path)
    said = answer(state["research"], "research")
    update = {"research_path": path, "status": "completed", "messages": [said]}
    return Command(goto="finish", update=update)


def finish_node(deps: Deps) -> object:
    """The last node: free the hold a standalone research run took (``rpi`` keeps its own)."""

    def finish(state: ResearchState, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
        try:
            context = run_context(runtime)
            scope = open_scope(deps, context, config, space_of(state, context))
        except SpacesError:
            return {}  # refused at admission: nothing of the space may be touched
        if scope.thread_id:
            scope.budget.release_run(scope.thread_id, "research")
            record = get_thread(scope.deps.backends.pool, scope.thread_id)
            if record is None or record.graph == "research":  # inside rpi, rpi records it
                audit_run_end(scope, state.get("status") or "failed")
        return {}

    return finish


def build_research(deps: Deps, *, raise_failures: bool = False) -> StateGraph:
    """The uncompiled ``research`` graph over ``deps`` (compile it with your own checkpointer).

    ``raise_failures``: a failed run ends with an error (``app/graphs/failure.py``),
    as the served graph does; inside ``rpi`` and in process it ends ``failed``.
    """
    builder = StateGraph(
        ResearchState,
        context_schema=RunContext,
        input_schema=ResearchInput,
        output_schema=ResearchOutput,
    )
    builder.add_node("prepare", scoped(deps, prepare))
    for node in AGENT_NODES:
        # Branches sent in one step finish in that step; synthesize then runs once.
        builder.add_node(node, agent_node(deps, node))
        builder.add_edge(node, "synthesize")
    builder.add_node("synthesize", scoped(deps, synthesize))
    builder.add_node("publish", scoped(deps, publish))
    builder.add_node("finish", finish_node(deps))
    builder.add_edge(START, "prepare")
    end_graph(builder, raise_failures=raise_failures)
    return builder
