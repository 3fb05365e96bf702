"""Prompts of ``rpi``, in the tagged sections the offline model also reads."""

from __future__ import annotations

from xml.sax.saxutils import escape

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


def plan_prompt(query: str, research: str, feedback: str | None) -> str:
    """Ask for a plan; ``feedback`` is a person's request to revise the previous one."""
    extra = f"<feedback>{escape(feedback)}</feedback>\n" if feedback else ""
    return (
        "<task>plan</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{escape(research)}</research>\n{extra}"
        "Produce the plan."
    )


def step_prompt(query: str, research: str, step: dict, earlier: dict[str, str]) -> str:
    """Ask for one step's deliverable, with the deliverables of the steps it depends on."""
    before = "".join(
        f'<deliverable step="{escape(sid)}">{escape(earlier[sid])}</deliverable>\n'
        for sid in step.get("depends_on", [])
        if sid in earlier
    )
    return (
        "<task>implement</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{escape(research)}</research>\n{before}"
        f"<step>{escape(step['id'])}: {escape(step['description'])}</step>\n"
        "Write this step's deliverable."
    )


def facts_prompt(query: str, research: str, implementation: str) -> str:
    """Ask for the key facts, entities and relations of the finished work."""
    return (
        "<task>facts</task>\n"
        f"<query>{escape(query)}</query>\n"
        f"<research>{escape(research)}</research>\n"
        f"<implementation>{escape(implementation[:8000])}</implementation>\n"
        "Extract the key facts."
    )
