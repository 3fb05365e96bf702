"""The ``research`` graph: prepare, fan out to sub-agents with ``Send``, synthesize, publish.

Each sub-agent is its own node, reached by ``Send``, so each branch has its
own checkpoint and retries, and one failing yields an error finding while the
others go on. The same compiled graph runs on its own (``langgraph.json``:
``research``) and as the research phase of ``rpi``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from app.errors import (
    BudgetExceeded,
    InvalidInput,
    ModelUnavailable,
    SpacesError,
    StoreUnavailable,
)
from app.graphs.admission import Admitted, admit, check_query, open_for_run, run_context, run_model
from app.graphs.calls import ask_model, thread_id_of
from app.graphs.context import RunContext
from app.graphs.events import emit
from app.graphs.research.agents import AGENT_NODES
from app.graphs.research.prompts import SYSTEM, synthesis_prompt
from app.graphs.research.spec import parse_spec, spec_json
from app.graphs.research.state import (
    AgentTask,
    Finding,
    ResearchInput,
    ResearchOutput,
    ResearchState,
)
from app.ids import slugify
from app.llm.resolve import model_names
from app.spaces.budget import thread_totals
from app.spaces.run_records import register_thread

AGENTS = tuple(AGENT_NODES)
_NOTE_DIR = re.compile(r"(Projects|Research)/\d{4}-\d{2}-\d{2}-[a-z0-9-]{1,60}")


def new_note_dir(admitted: Admitted, folder: str, query: str, thread_id: str | None) -> str:
    """Claim ``<folder>/<date>-<slug>`` for this run by creating it.

    If another run has it (even one started a moment ago), the thread's
    prefix is added, then a random one: creating the folder is the claim, so
    two runs never share one.
    """
    base = f"{folder}/{datetime.now(UTC).date().isoformat()}-{slugify(query)}"
    suffixes = ["", slugify((thread_id or "")[:8]), uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]]
    for suffix in suffixes:
        candidate = f"{base}-{suffix}" if suffix and suffix != "untitled" else base
        try:
            (admitted.space.vault.root / candidate).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise InvalidInput(f"cannot claim a note folder under {base}")


def check_note_dir(note_dir: object, related: object) -> None:
    """Refuse a note folder or links (given by ``rpi``) outside the expected shape."""
    if note_dir is None:
        return
    if not isinstance(note_dir, str) or not _NOTE_DIR.fullmatch(note_dir):
        raise InvalidInput("note_dir must look like Projects/<date>-<slug>")
    links = related or []
    if not isinstance(links, list) or not all(
        isinstance(n, str) and n.startswith(note_dir + "/") and len(n) < 200 for n in links
    ):
        raise InvalidInput("related_notes must be notes inside note_dir")


def prepare(
    state: ResearchState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[
    Literal["files_agent", "links_agent", "data_agent", "memory_agent", "graph_agent", "__end__"]
]:
    """Admit the run, fix its model and note folder, and send the query to each sub-agent.

    The tokens the space has left are split evenly between the sub-agents and
    the synthesis; each sub-agent keeps to its share.
    """
    try:
        query = check_query(state.get("query"))
        spec = parse_spec(state.get("context_spec"))
        admitted = admit(run_context(runtime), state.get("space_id"))
        model = state.get("model") or run_model(run_context(runtime), admitted)
        model_names(model)
        check_note_dir(state.get("note_dir"), state.get("related_notes"))
        share = admitted.budget.remaining() // (len(spec.agents()) + 1)
    except BudgetExceeded as exc:
        return Command(goto=END, update={"status": "budget_exceeded", "error": str(exc)})
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:
        return Command(goto=END, update={"status": "failed", "error": str(exc)})
    space_id = admitted.space.config.space_id
    if thread_id := thread_id_of(config):
        try:
            register_thread(
                admitted.manager.backends.pool, thread_id, space_id, run_context(runtime).user_id,
                "research",
            )  # fmt: skip
        except SpacesError as exc:
            return Command(goto=END, update={"status": "failed", "error": str(exc)})
    note_dir = state.get("note_dir") or new_note_dir(admitted, "Research", query, thread_id)
    sources = spec_json(spec)
    # FileExplorer reads both the vault and the documents; the others one source each.
    sources["files"] = {k: sources[k] for k in ("vault", "documents") if k in sources}
    sources_of = {"links": "urls", "data": "data", "memory": "memory"}
    sends = [
        Send(
            f"{agent}_agent",
            AgentTask(
                space_id=space_id,
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
    emit(runtime, config, "phase.started", space_id, phase="research", agents=spec.agents())
    return Command(
        goto=sends,
        update={"model": model, "note_dir": note_dir, "status": "researching", "error": None},
    )


def number_sources(findings: list[Finding]) -> list[dict[str, Any]]:
    """One numbered source per distinct citation, best findings first."""
    sources: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    order = {a: i for i, a in enumerate(AGENTS)}
    for f in sorted(findings, key=lambda f: (-f["score"], order.get(f["agent"], 9))):
        cit = f.get("citation")
        if f.get("error") or cit is None or (cit["kind"], cit["ref"]) in seen:
            continue
        seen.add((cit["kind"], cit["ref"]))
        sources.append({"n": len(sources) + 1, **cit, "text": f["text"], "agent": f["agent"]})
    return sources


def source_line(source: dict[str, Any]) -> str:
    """A source-list entry; vault sources are wikilinks so Obsidian's graph shows them."""
    if source["kind"] == "vault":
        return f"[{source['n']}] [[{source['label']}]]"
    return f"[{source['n']}] {source['label']}"


def synthesize(
    state: ResearchState, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["publish", "__end__"]]:
    """Write the research note's body from the numbered sources, citing them as [n]."""
    findings = state.get("findings") or []
    sources = number_sources(findings)
    messages = [
        SystemMessage(SYSTEM),
        HumanMessage(synthesis_prompt(state["query"], sources)),
    ]
    try:
        answer = ask_model(runtime, config, state["space_id"], state["model"], messages)
    except BudgetExceeded as exc:
        return Command(goto=END, update={"status": "budget_exceeded", "error": str(exc)})
    except (StoreUnavailable, ModelUnavailable):
        raise  # the run stays resumable from its last checkpoint
    except SpacesError as exc:  # e.g. the space was archived mid-run
        return Command(goto=END, update={"status": "failed", "error": str(exc)})
    body = str(answer.content).strip()
    failed = [f for f in findings if f.get("error")]
    parts = [body]
    if failed:
        parts.append(
            "## What failed\n\n" + "\n".join(f"- {f['agent']}: {f['error']}" for f in failed)
        )
    parts.append(
        "## Sources\n\n" + ("\n".join(source_line(s) for s in sources) or "No sources found.")
    )
    return Command(goto="publish", update={"research": "\n\n".join(parts), "sources": sources})


def publish(state: ResearchState, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """Write the research note to the vault (replacing it if the node runs again)."""
    admitted = open_for_run(run_context(runtime), state["space_id"])
    thread_id = thread_id_of(config)
    pool = admitted.manager.backends.pool
    tokens = thread_totals(pool, thread_id)[0] if thread_id else 0
    path = admitted.space.vault.write_note(
        f"{state['note_dir']}/research.md",
        f"# Research: {state['query'][:120]}\n\n{state['research']}",
        frontmatter={
            "space": state["space_id"],
            "thread_id": thread_id,
            "phase": "research",
            "model": state["model"],
            "tokens": tokens,
            "query": state["query"],
            "tags": ["spaces/research"],
        },
        links=state.get("related_notes") or (),
    )
    emit(runtime, config, "phase.completed", state["space_id"], phase="research", path=path)
    return {"research_path": path, "status": "completed"}


builder = StateGraph(
    ResearchState,
    context_schema=RunContext,
    input_schema=ResearchInput,
    output_schema=ResearchOutput,
)
builder.add_node("prepare", prepare)
for _agent, _node in AGENT_NODES.items():
    builder.add_node(f"{_agent}_agent", _node)
builder.add_node("synthesize", synthesize)
builder.add_node("publish", publish)
builder.add_edge(START, "prepare")
for _agent in AGENTS:
    # Branches sent in one step finish in that step; synthesize then runs once.
    builder.add_edge(f"{_agent}_agent", "synthesize")
builder.add_edge("publish", END)

graph = builder.compile(name="research")
