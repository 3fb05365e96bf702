"""The tools an agent may be given, from the project's registry, and how each runs.

Each tool reads or writes through the space's own adapters (vault, memory,
graph), so an agent can reach nothing outside its space. ``http_get``
reaches the network, so it needs a person's approval (``NEEDS_APPROVAL``),
asked through a ``tool_approval`` interrupt. Tools never raise: a failure
becomes the tool's answer (``failed: ...``), so the agent can carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.tools import tool

from app.errors import InvalidInput, SpacesError, StoreUnavailable
from app.graphs.scope import Scope
from app.graphs.tools.data import DataError, describe, load_table
from app.graphs.tools.http import http_get
from app.graphs.tools.http import run_tool as run_http_tool
from app.text import overlap, words

RESULT_MAX = 4_000
NOTES_MAX = 2_000
NEEDS_APPROVAL = frozenset({"http_get"})


@tool
def vault_search(query: str) -> str:
    """Find the notes of the space's vault that best match the query."""
    raise NotImplementedError("run through run_tool")


@tool
def vault_read(path: str) -> str:
    """Read one note of the space's vault by its path, e.g. Projects/plan.md."""
    raise NotImplementedError("run through run_tool")


@tool
def write_note(path: str, text: str) -> str:
    """Write (or replace) a Markdown note in the space's vault under Agents/."""
    raise NotImplementedError("run through run_tool")


@tool
def recall(query: str) -> str:
    """Search the space's shared memory."""
    raise NotImplementedError("run through run_tool")


@tool
def graph_query(text: str) -> str:
    """Find entities of the space's knowledge graph and their relations."""
    raise NotImplementedError("run through run_tool")


@tool
def data_stats(path: str) -> str:
    """Rows, columns and column types of a CSV, JSON or Parquet file in the vault."""
    raise NotImplementedError("run through run_tool")


TOOLS: dict[str, Any] = {
    t.name: t
    for t in (vault_search, vault_read, write_note, recall, graph_query, data_stats, http_get)
}


def _text(args: dict[str, Any], key: str, limit: int = 2_000) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidInput(f"needs {key!r}: text of 1 to {limit} characters")
    return value


def _vault_search(scope: Scope, args: dict[str, Any]) -> str:
    q = words(_text(args, "query"))
    scored = []
    for path in scope.space.vault.list_notes()[:NOTES_MAX]:
        text = scope.space.vault.read_note(path).text
        score = overlap(q, path + " " + text)
        if score:
            scored.append((-score, path, text[:300]))
    return "\n".join(f"{p}: {t}" for _s, p, t in sorted(scored)[:5]) or "no matching notes"


def _write_note(scope: Scope, args: dict[str, Any]) -> str:
    path = _text(args, "path", 200).strip("/")
    return "wrote " + scope.space.vault.write_note(f"Agents/{path}", _text(args, "text", 50_000))


def _recall(scope: Scope, args: dict[str, Any]) -> str:
    with scope.space.memory() as memory:
        hits = [h for h in memory.search(_text(args, "query"), 10) if "agent_id" not in h.metadata]
    return "\n".join(f"- {h.text}" for h in hits[:5]) or "nothing recalled"


def _graph_query(scope: Scope, args: dict[str, Any]) -> str:
    found = scope.space.graph.find_entities(_text(args, "text", 200), limit=5)
    return "\n".join(str(e) for e in found) or "no entities"


def _data_stats(scope: Scope, args: dict[str, Any]) -> str:
    target = scope.space.vault.resolve(_text(args, "path", 240), (".csv", ".json", ".parquet"))
    try:
        return str(describe(load_table(target).frame))
    except (DataError, OSError) as exc:
        raise InvalidInput(str(exc)) from None


RUNNERS: dict[str, Callable[[Scope, dict[str, Any]], str]] = {
    "vault_search": _vault_search,
    "vault_read": lambda scope, args: scope.space.vault.read_note(_text(args, "path", 240)).text,
    "write_note": _write_note,
    "recall": _recall,
    "graph_query": _graph_query,
    "data_stats": _data_stats,
    "http_get": lambda scope, args: run_http_tool("http_get", args, scope.settings),
}


def run_tool(scope: Scope, allowed: list[str], name: str, args: object) -> str:
    """Run one tool call of an agent given ``allowed`` tools; failures come back as text."""
    if name not in allowed or name not in RUNNERS:
        return f"failed: tool {name!r} is not one of this agent's tools"
    try:
        output = RUNNERS[name](scope, args if isinstance(args, dict) else {})
    except StoreUnavailable:
        raise  # the run stops and resumes later, rather than answer without the store
    except SpacesError as exc:
        return f"failed: {exc}"
    return output[:RESULT_MAX]
