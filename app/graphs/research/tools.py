"""What the research sub-agents do: search one store of the space, cite every finding.

Each function takes a space-scoped adapter, so it can only ever see the
space it was given. Findings are ranked by word overlap with the query.
"""

from __future__ import annotations

import re

from app.errors import InvalidInput
from app.graphs.research.state import Finding
from app.spaces.graph import SpaceGraph
from app.spaces.memory import SpaceMemory
from app.spaces.vault import SpaceVault
from app.text import overlap, words

PASSAGE_MAX = 700
VAULT_NOTES_MAX = 2_000


def _passages(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def search_vault(
    vault: SpaceVault, query: str, limit: int, exclude_prefix: str | None = None
) -> list[Finding]:
    """The best passage of each note that shares words with the query (tags and title count)."""
    q = words(query)
    found: list[Finding] = []
    errors: list[Finding] = []
    for path in vault.list_notes()[:VAULT_NOTES_MAX]:
        if exclude_prefix and path.startswith(exclude_prefix):
            continue
        try:
            note = vault.read_note(path)
        except InvalidInput as exc:  # one unreadable note must not hide the others
            errors.append(
                {"agent": "files", "text": "", "citation": None, "score": 0.0, "error": str(exc)}
            )
            continue
        bonus = overlap(q, " ".join([path, *note.tags]))
        best, best_score = "", 0
        for passage in _passages(note.text):
            if passage.startswith("Related:"):
                continue
            score = overlap(q, passage)
            if score > best_score:
                best, best_score = passage, score
        if best_score + bonus:
            found.append(
                {
                    "agent": "files",
                    "text": best[:PASSAGE_MAX] if best else note.text[:PASSAGE_MAX],
                    "citation": {"kind": "vault", "ref": path, "label": path[:-3]},
                    "score": float(best_score + bonus),
                }
            )
    found.sort(key=lambda f: (-f["score"], f["citation"]["ref"]))  # type: ignore[index]
    return found[:limit] + errors[:5]


def search_memory(memory: SpaceMemory, query: str, limit: int) -> list[Finding]:
    """The space's memories nearest to the query."""
    return [
        {
            "agent": "memory",
            "text": hit.text[:PASSAGE_MAX],
            "citation": {"kind": "memory", "ref": hit.id, "label": f"memory {hit.id[:8]}"},
            "score": float(hit.score or 0.0),
        }
        for hit in memory.search(query, limit=limit)
    ]


def search_graph(graph: SpaceGraph, query: str, limit: int) -> list[Finding]:
    """Entities named in the query, with the relations that touch them."""
    q = words(query)
    found: list[Finding] = []
    for entity in graph.search(sorted(q, key=len, reverse=True), limit=limit * 2):
        name = entity["name"]
        facts = "; ".join(f"{a} {t} {b}" for a, t, b in entity["relations"][:20])
        text = f"{name} ({entity.get('kind') or 'entity'})" + (f": {facts}." if facts else ".")
        found.append(
            {
                "agent": "graph",
                "text": text[:PASSAGE_MAX],
                "citation": {"kind": "graph", "ref": name, "label": f"graph node {name}"},
                "score": float(overlap(q, text)),
            }
        )
    found.sort(key=lambda f: (-f["score"], f["citation"]["ref"]))  # type: ignore[index]
    return found[:limit]
