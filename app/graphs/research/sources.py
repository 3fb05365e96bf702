"""The research note's numbered sources: one per distinct citation, and how each is listed.

The synthesizer cites ``[n]``; this module decides what ``n`` means, so the
numbering, the source list and (later) citation checks agree.
"""

from __future__ import annotations

from typing import Any

from app.graphs.research.state import AGENTS, Finding


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


def source_line(source: dict[str, Any], link: str | None = None) -> str:
    """A source-list entry; vault sources are wikilinks so Obsidian's graph shows them.

    ``link`` is the note's wikilink in the shortest unique form
    (``SpaceVault.link_names``); without it the path is used.
    """
    if source["kind"] == "vault":
        return f"[{source['n']}] [[{link or source['label']}]]"
    return f"[{source['n']}] {source['label']}"
