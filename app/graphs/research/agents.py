"""The research sub-agents: FileExplorer, LinkCrawler, DataAnalyst, MemoryRetriever, Graph.

Each is its own graph node, reached by ``Send`` with its source's bounds and
its share of the run's tokens. It gathers cited candidates from
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

from app.errors import BudgetExceeded, InvalidInput, ModelUnavailable
from app.graphs.admission import run_context
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.estimate import SELECT_MAX_OUTPUT
from app.graphs.research.prompts import SELECT_SYSTEM, selection_prompt
from app.graphs.research.spec import (
    DataSource,
    DocumentsSource,
    GraphSource,
    MemorySource,
    UrlSource,
    VaultSource,
)
from app.graphs.research.state import AGENTS, AgentTask, Finding, Relevant
from app.graphs.research.tools import (
    search_data,
    search_documents,
    search_graph,
    search_links,
    search_memory,
    search_vault,
)
from app.graphs.scope import Scope, open_scope
from app.llm.structured import InvalidOutput
from app.spaces.stores.documents import documents_for_prompt

log = logging.getLogger(__name__)


def _gather(task: AgentTask, scope: Scope, visit: Any) -> list[Finding]:
    space, agent, query = scope.space, task["agent"], task["query"]
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
        return search_links(query, source, scope.settings.allow_private_urls, visit)
    if agent == "data":
        return search_data(space.vault, query, DataSource.model_validate(task["source"]), visit)
    if agent == "memory":
        source = MemorySource.model_validate(task["source"])
        with space.memory() as memory:
            return search_memory(memory, space.graph, query, source.top_k)
    return search_graph(space.graph, query, GraphSource.model_validate(task["source"]))


def _select(
    task: AgentTask, scope: Scope, found: list[Finding], top_k: int
) -> tuple[list[Finding], bool]:
    """Ask the model which candidates matter; ``(findings, partial)``."""
    if not found:
        return [], False
    prompt = selection_prompt(task["query"], [f["text"] for f in found], top_k)

    def known(answer: Relevant) -> Relevant:
        wrong = [n for n in answer.ids if not 1 <= n <= len(found)]
        if wrong:
            raise InvalidInput(f"no candidate {wrong[0]}: the candidates are 1 to {len(found)}")
        return answer

    try:
        answer = scope.ask(
            [SystemMessage(SELECT_SYSTEM), HumanMessage(prompt)],
            schema=Relevant,
            validate=known,
            max_output=SELECT_MAX_OUTPUT,
            share=task["token_share"],  # checked with the open documents included
        )
    except (BudgetExceeded, ModelUnavailable):
        return found[:top_k], True
    except InvalidOutput:  # still unusable after the re-asks: keep the ranking we have
        return found[:top_k], False
    chosen = [found[n - 1] for n in dict.fromkeys(answer.ids)]
    return chosen[:top_k], False


def _files_top_k(task: AgentTask) -> int:
    """FileExplorer keeps the vault's and the documents' top-k together."""
    return sum(int((task["source"].get(k) or {}).get("top_k", 5)) for k in ("vault", "documents")
               if task["source"].get(k) is not None)  # fmt: skip


def _failed(agent: str, message: str) -> Finding:
    return Finding(agent=agent, text="", citation=None, score=0.0, error=message)


def run_agent(
    deps: Deps, task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig
) -> dict:
    """One sub-agent's whole turn: gather, select, report, streaming progress events.

    The contract of a sub-agent: whatever its source does (a dead URL, a
    corrupt file, a store that is down), it reports an error finding and
    the other sub-agents go on.
    """
    agent = task["agent"]
    try:
        scope = open_scope(
            deps, run_context(runtime), config, task["space_id"],
            model=task["model"], writer=runtime.stream_writer,
        )  # fmt: skip
    except Exception as exc:
        log.debug("sub-agent %s could not open its space", agent, exc_info=True)
        return {"findings": [_failed(agent, str(exc))]}

    def event(kind: str, **payload: Any) -> None:
        scope.emit(kind, agent=agent, **payload)

    event("agent.status.changed", status="started")
    try:
        gathered = _gather(task, scope, lambda ref: event("source.visited", ref=ref))
    except Exception as exc:
        # Any failure of the source becomes an error finding; the traceback is kept
        # for debugging.
        log.debug("sub-agent %s failed", agent, exc_info=True)
        event("agent.status.changed", status="failed", error=str(exc)[:300])
        return {"findings": [_failed(agent, str(exc))]}
    errors = [f for f in gathered if f.get("error")]
    candidates = [f for f in gathered if not f.get("error")]
    top_k = int(task["source"].get("top_k", 5)) if agent != "files" else _files_top_k(task)
    chosen, partial = _select(task, scope, candidates, top_k)
    if partial:
        event("agent.partial", reason="token share reached", kept=len(chosen))
        errors.append(
            _failed(agent, "stopped at its token share: findings are unscreened (partial)")
        )
    for finding in chosen:
        event("finding", citation=finding["citation"])
    event("agent.status.changed", status="finished", findings=len(chosen), errors=len(errors))
    return {"findings": chosen + errors}


AGENT_DOCS = {
    "files": "FileExplorer: the space's vault (text, tags, frontmatter) and its documents.",
    "links": "LinkCrawler: pages from the given seeds, bounded and closed to private addresses.",
    "data": "DataAnalyst: statistics of the space's CSV, JSON and Parquet files.",
    "memory": "MemoryRetriever: memories of the space, plus the graph around what they name.",
    "graph": "Graph: entities named in the query and their neighbourhood in the space's partition.",
}
AGENT_NODES: tuple[str, ...] = tuple(f"{agent}_agent" for agent in AGENTS)


def agent_node(deps: Deps, node_name: str) -> Any:
    """The graph node of one sub-agent (``<agent>_agent``), reached by ``Send``."""
    agent = node_name.removesuffix("_agent")

    def node(task: AgentTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict:
        return run_agent(deps, task, runtime, config)

    node.__name__ = node.__qualname__ = node_name
    node.__doc__ = AGENT_DOCS[agent]
    return node
