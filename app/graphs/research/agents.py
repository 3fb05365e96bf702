"""The research sub-agents: FileExplorer, LinkCrawler, DataAnalyst, MemoryRetriever, Graph.

Each is its own graph node, reached by ``Send`` with its source's bounds and
its share of the run's remaining tokens. It gathers cited candidates from
its one source, then asks the model which of them are relevant. If that
call would go past its share (or the space's budget), it skips the call and
reports its best candidates by word overlap, marked partial. A failure of
its source becomes an error finding; the other sub-agents go on.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from app.errors import BudgetExceeded, ModelUnavailable
from app.graphs.admission import Admitted, open_for_run, run_context
from app.graphs.calls import invoke_model
from app.graphs.context import RunContext
from app.graphs.events import emit
from app.graphs.research.prompts import SELECT_SYSTEM, selection_prompt
from app.graphs.research.spec import (
    DataSource,
    DocumentsSource,
    GraphSource,
    MemorySource,
    UrlSource,
    VaultSource,
)
from app.graphs.research.state import AgentTask, Finding, Relevant
from app.graphs.research.tools import (
    search_data,
    search_documents,
    search_graph,
    search_links,
    search_memory,
    search_vault,
)
from app.graphs.resources import settings_of
from app.spaces.documents import documents_for_prompt

SELECT_MAX_OUTPUT = 300
log = logging.getLogger(__name__)


def _gather(task: AgentTask, admitted: Admitted, settings: Any, visit: Any) -> list[Finding]:
    space, agent, query = admitted.space, task["agent"], task["query"]
    if agent == "files":
        found: list[Finding] = []
        if task["source"].get("vault") is not None:
            source = VaultSource.model_validate(task["source"]["vault"])
            found += search_vault(space.vault, query, source, task["skip_prefix"], visit)
        if task["source"].get("documents") is not None:
            docs = documents_for_prompt(space)
            top_k = DocumentsSource.model_validate(task["source"]["documents"]).top_k
            found += search_documents(docs, query, top_k, visit)
        return found
    if agent == "links":
        source = UrlSource.model_validate(task["source"])
        return search_links(query, source, settings.allow_private_urls, visit)
    if agent == "data":
        return search_data(space.vault, query, DataSource.model_validate(task["source"]), visit)
    if agent == "memory":
        source = MemorySource.model_validate(task["source"])
        with space.memory() as memory:
            return search_memory(memory, space.graph, query, source.top_k)
    return search_graph(space.graph, query, GraphSource.model_validate(task["source"]))


def _select(
    task: AgentTask,
    admitted: Admitted,
    found: list[Finding],
    runtime: Runtime[RunContext],
    config: RunnableConfig,
    top_k: int,
) -> tuple[list[Finding], bool]:
    """Ask the model which candidates matter; ``(findings, partial)``."""
    if not found:
        return [], False
    prompt = selection_prompt(task["query"], [f["text"] for f in found], top_k)
    try:
        answer = invoke_model(
            admitted,
            settings_of(run_context(runtime)),
            config,
            model=task["model"],
            messages=[SystemMessage(SELECT_SYSTEM), HumanMessage(prompt)],
            schema=Relevant,
            max_output=SELECT_MAX_OUTPUT,
            share=task["token_share"],  # checked with the open documents included
        )
    except (BudgetExceeded, ModelUnavailable):
        return found[:top_k], True
    if answer is None:  # the model did not use the schema: keep the ranking we have
        return found[:top_k], False
    chosen = [found[n - 1] for n in dict.fromkeys(answer.ids) if 1 <= n <= len(found)]
    return chosen[:top_k], False


def _files_top_k(task: AgentTask) -> int:
    """FileExplorer keeps the vault's and the documents' top-k together."""
    return sum(int((task["source"].get(k) or {}).get("top_k", 5)) for k in ("vault", "documents")
               if task["source"].get(k) is not None)  # fmt: skip


def run_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """One sub-agent's whole turn: gather, select, report, streaming progress events."""
    agent, space_id = task["agent"], task["space_id"]

    def event(kind: str, **payload: Any) -> None:
        emit(runtime, config, kind, space_id, agent=agent, **payload)

    event("agent.status.changed", status="started")
    try:
        admitted = open_for_run(run_context(runtime), space_id)
        settings = settings_of(run_context(runtime))
        gathered = _gather(task, admitted, settings, lambda ref: event("source.visited", ref=ref))
    except Exception as exc:
        # The contract of a sub-agent: whatever its source does (a dead URL, a
        # corrupt file, a store that is down), it reports an error finding and
        # the other sub-agents go on. The traceback is kept for debugging.
        log.debug("sub-agent %s failed", agent, exc_info=True)
        event("agent.status.changed", status="failed", error=str(exc)[:300])
        failed = Finding(agent=agent, text="", citation=None, score=0.0, error=str(exc))
        return {"findings": [failed]}
    errors = [f for f in gathered if f.get("error")]
    candidates = [f for f in gathered if not f.get("error")]
    top_k = int(task["source"].get("top_k", 5)) if agent != "files" else _files_top_k(task)
    chosen, partial = _select(task, admitted, candidates, runtime, config, top_k)
    if partial:
        event("agent.partial", reason="token share reached", kept=len(chosen))
        errors.append(
            Finding(
                agent=agent, text="", citation=None, score=0.0,
                error="stopped at its token share: findings are unscreened (partial)",
            )
        )  # fmt: skip
    for finding in chosen:
        event("finding", citation=finding["citation"])
    event("agent.status.changed", status="finished", findings=len(chosen), errors=len(errors))
    return {"findings": chosen + errors}


def files_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """FileExplorer: the space's vault through obsidiantools (text, tags, frontmatter)."""
    return run_agent(task, runtime, config)


def links_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """LinkCrawler: pages from the given seeds, bounded and closed to private addresses."""
    return run_agent(task, runtime, config)


def data_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """DataAnalyst: statistics of the space's CSV, JSON and Parquet files."""
    return run_agent(task, runtime, config)


def memory_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """MemoryRetriever: Mem0 search in the space, plus the graph around what it names."""
    return run_agent(task, runtime, config)


def graph_agent(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
    """Graph: entities named in the query and their neighbourhood, in the space's partition."""
    return run_agent(task, runtime, config)


AGENT_NODES = {
    "files": files_agent,
    "links": links_agent,
    "data": data_agent,
    "memory": memory_agent,
    "graph": graph_agent,
}
