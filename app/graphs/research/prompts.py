"""Prompts of the research graph.

They use tagged sections (``<task>``, ``<query>``, ``<source id ref>``) that
a real model reads as plain structure and the offline model parses.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from app.llm.window import CHARS_PER_TOKEN, Counter, estimate

SYSTEM = (
    "You are a careful research assistant working inside one project space. "
    "Answer only from the numbered sources given. Cite every claim with its "
    "source number in square brackets, like [2]. Quote exact wording where it "
    "matters. If the sources do not answer the question, say so. Write Markdown "
    "without a title and without a source list (one is appended for you)."
)


def _block(source: dict[str, Any]) -> str:
    ref = escape(source["ref"], {chr(34): "&quot;"})
    return f'<source id="{source["n"]}" ref="{ref}">{escape(source["text"])}</source>'


def fit_sources(
    query: str, sources: list[dict[str, Any]], room: int, count: Counter = estimate
) -> list[dict[str, Any]]:
    """The best-ranked sources whose passages fit the synthesis prompt in ``room`` tokens.

    Sources come best first; each is kept whole while it fits, the first that
    does not is cut when a fifth of it would stay, and the rest are left out
    (the note lists only the sources the model read).
    """
    left = room - count(SYSTEM + synthesis_prompt(query, [])) - 8
    kept: list[dict[str, Any]] = []
    for source in sources:
        need = count(_block(source)) + 1
        if need <= left:
            kept.append(source)
            left -= need
            continue
        text_room = left - count(_block({**source, "text": ""})) - 4
        if text_room * 5 >= count(escape(source["text"])):
            cut = source["text"][: int(max(0, text_room) * CHARS_PER_TOKEN)]
            kept.append({**source, "text": cut.rstrip()})
        break
    return kept


def synthesis_prompt(query: str, sources: list[dict]) -> str:
    """The synthesizer's request: the query and the numbered source passages."""
    blocks = "\n".join(_block(s) for s in sources)
    return (
        "<task>research</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<sources>\n{blocks}\n</sources>\n"
        "Write the findings for the query, citing sources as [n]."
    )


SELECT_SYSTEM = (
    "You screen search results for a research question. Return the numbers of the "
    "candidates that help answer it, most useful first, at most the number asked."
)


def selection_prompt(query: str, candidates: list[str], top_k: int) -> str:
    """Ask which numbered candidates are relevant (structured output ``Relevant``)."""
    blocks = "\n".join(
        f'<candidate id="{n}">{escape(text)}</candidate>' for n, text in enumerate(candidates, 1)
    )
    return (
        "<task>select</task>\n"
        f"<query>{escape(query)}</query>\n<top_k>{top_k}</top_k>\n"
        f"<candidates>\n{blocks}\n</candidates>\n"
        "Which candidates help answer the query?"
    )
