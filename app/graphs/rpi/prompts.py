"""Prompts of ``rpi``, in the tagged sections the offline model also reads.

Each builder takes the tokens its prompt may use (``Scope.room``) and trims
the research context to fit: the findings' paragraphs in order, then the
source list in rank order, each kept while it fits (``fit_research``).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from app.llm.fit import fit_parts
from app.llm.window import CHARS_PER_TOKEN, Counter, estimate

UNLIMITED_ROOM = 10**9

PLAN_SYSTEM = (
    "You plan work inside one project space. Given a query and research findings, "
    "produce a short plan: 2 to 8 steps, each a concrete deliverable written in Markdown, "
    "with ids like s1, s2 and dependencies between them. Use only what the research supports."
)

IMPLEMENT_SYSTEM = (
    "You carry out one step of an approved plan and write its deliverable in Markdown. "
    "Ground it in the research given; cite research sources as [n] where they apply. "
    "Use a tool only if the step cannot be done without it."
)

FACTS_SYSTEM = (
    "Extract what is worth remembering from this work: up to 10 short standalone facts, "
    "the main entities (people, systems, concepts) and relations between them."
)


def fit_research(research: str, room: int, count: Counter = estimate) -> str:
    """The research note's text within ``room`` tokens (escaped as the prompt will carry it).

    Its findings' paragraphs come first, in order, then the sources in rank
    order (the list is numbered best first); what does not fit is left out
    and says so.
    """
    if count(escape(research)) <= room - 40:
        return escape(research)
    body, heading, listed = research.rpartition("## Sources")
    if not heading:
        body, listed = research, ""
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    sources = [line for line in listed.splitlines() if line.strip()]
    parts = [escape(p) for p in paragraphs] + (
        ["## Sources"] + [escape(s) for s in sources] if sources else []
    )
    kept, left_out = fit_parts("", parts, max(0, room - 40), count, sep="\n\n")
    text = "\n\n".join(kept)
    if left_out:
        text += f"\n\n[{left_out} more research parts left out to fit the model's context]"
    return text


def plan_prompt(query: str, research: str, feedback: str | None, room: int = UNLIMITED_ROOM) -> str:
    """Ask for a plan; ``feedback`` is a person's request to revise the previous one."""
    extra = f"<feedback>{escape(feedback)}</feedback>\n" if feedback else ""
    fixed = f"<task>plan</task>\n<query>{escape(query)}</query>\n{extra}Produce the plan."
    context = fit_research(research, room - estimate(PLAN_SYSTEM + fixed) - 20)
    return (
        "<task>plan</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{context}</research>\n{extra}"
        "Produce the plan."
    )


def step_prompt(
    query: str, research: str, step: dict, earlier: dict[str, str], room: int = UNLIMITED_ROOM
) -> str:
    """Ask for one step's deliverable, with the deliverables of the steps it depends on.

    In a small window the deliverables it depends on take at most half the
    room (the latest dependency first), the research the rest.
    """
    fixed = (
        f"<task>implement</task>\n<query>{escape(query)}</query>\n"
        f"<step>{escape(step['id'])}: {escape(step['description'])}</step>\n"
        "Write this step's deliverable."
    )
    left = room - estimate(IMPLEMENT_SYSTEM + fixed) - 40
    needed = [sid for sid in step.get("depends_on", []) if sid in earlier]
    blocks = [
        f'<deliverable step="{escape(sid)}">{escape(earlier[sid])}</deliverable>\n'
        for sid in reversed(needed)
    ]
    kept, _left_out = fit_parts("", blocks, left // 2, estimate, sep="")
    before = "".join(reversed([b if b.endswith("\n") else b + "</deliverable>\n" for b in kept]))
    context = fit_research(research, left - estimate(before))
    return (
        "<task>implement</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{context}</research>\n{before}"
        f"<step>{escape(step['id'])}: {escape(step['description'])}</step>\n"
        "Write this step's deliverable."
    )


def facts_prompt(query: str, research: str, implementation: str, room: int = UNLIMITED_ROOM) -> str:
    """Ask for the key facts, entities and relations of the finished work.

    The implementation takes up to two thirds of the room, the research the rest.
    """
    fixed = f"<task>facts</task>\n<query>{escape(query)}</query>\nExtract the key facts."
    left = room - estimate(FACTS_SYSTEM + fixed) - 40
    done = escape(implementation[:8000])
    if estimate(done) > left * 2 // 3:
        done = done[: int(max(0, left * 2 // 3) * CHARS_PER_TOKEN)].rstrip() + " [...]"
    context = fit_research(research, left - estimate(done))
    return (
        "<task>facts</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{context}</research>\n"
        f"<implementation>{done}</implementation>\n"
        "Extract the key facts."
    )
