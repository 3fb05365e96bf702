"""Repairing what the model answered as a plan where its meaning is clear.

Both the model's plan and a plan a person edits at the approval step go
through ``validate_plan`` (``app/graphs/plans.py``: unique ids, known
dependencies, no cycles, the order to run it in); the graph only routes on
its verdict. When the
model's plan stays invalid after its re-asks, ``repair_plan`` fixes what
has one obvious reading (step ids renumbered, dependencies on unknown ids
dropped, cycles broken by list order) and lists every change, so the person
approving sees them. A plan with nothing to repair (none at all, no
steps, no step with a description) is replaced by a minimal plan derived
from the query and the research (``minimal_plan``), so a run always has a
plan to approve. Key facts that fail their schema keep their valid parts
(``salvage_facts``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import InvalidInput
from app.graphs.plans import STEP_ID, dependency_order, parse_plan, validate_plan
from app.graphs.rpi.state import Entity, KeyFacts, Relation

__all__ = ["minimal_plan", "parse_plan", "repair_plan", "salvage_facts", "validate_plan"]

TITLE_MAX, DESCRIPTION_MAX, STEPS_MAX = 200, 500, 20
_POSITION = re.compile(r"^(?:step)?\s*#?\s*(\d{1,3})$", re.I)


def _cut(text: str, limit: int, what: str, repairs: list[str]) -> str:
    if len(text) > limit:
        repairs.append(f"cut {what} to {limit} characters")
        return text[:limit].rstrip()
    return text


def _steps(raw: dict[str, Any], repairs: list[str]) -> list[dict[str, Any]]:
    """The steps that have a description, as plain dicts of strings."""
    items = raw.get("steps")
    if not isinstance(items, list) or not items:
        raise InvalidInput("the plan has no steps")
    steps = []
    for n, item in enumerate(items, start=1):
        description = item.get("description") if isinstance(item, dict) else None
        if not isinstance(description, str) or not description.strip():
            repairs.append(f"dropped step {n}: it has no description")
            continue
        deps = item.get("depends_on") or []
        deps = [deps] if isinstance(deps, str | int) else deps
        if not isinstance(deps, list):
            repairs.append(f"dropped step {n}'s dependencies: not a list")
            deps = []
        step_id = item.get("id")
        steps.append(
            {
                "id": "" if step_id is None else str(step_id).strip(),
                "description": _cut(description.strip(), DESCRIPTION_MAX, f"step {n}", repairs),
                "depends_on": [str(d).strip() for d in deps if d is not None],
            }
        )
    if not steps:
        raise InvalidInput("none of the plan's steps has a description")
    if len(steps) > STEPS_MAX:
        repairs.append(f"kept the first {STEPS_MAX} of {len(steps)} steps")
        steps = steps[:STEPS_MAX]
    return steps


def _renumber(steps: list[dict[str, Any]], repairs: list[str]) -> None:
    """Give the steps ids s1..sN and resolve each dependency by old id, new id or position."""
    old = [s["id"] for s in steps]
    new = [f"s{k}" for k in range(1, len(steps) + 1)]
    by_old: dict[str, str] = {}
    for before, after in zip(old, new, strict=True):
        by_old.setdefault(before, after)
    if old != new:
        shown = ", ".join(repr(i) for i in old[:8]) + (", ..." if len(old) > 8 else "")
        repairs.append(f"renumbered the step ids ({shown}) as s1..s{len(steps)}")

    def resolve(dep: str) -> str | None:
        if dep in by_old:
            return by_old[dep]
        if dep in new:
            return dep
        m = _POSITION.match(dep)
        return f"s{m.group(1).lstrip('0')}" if m and 0 < int(m.group(1)) <= len(steps) else None

    for step, step_id in zip(steps, new, strict=True):
        kept = []
        for dep in step["depends_on"]:
            target = resolve(dep)
            if target is None:
                repairs.append(f"dropped {step_id}'s dependency on unknown step {dep[:40]!r}")
            else:
                kept.append(target)
        step["id"], step["depends_on"] = step_id, list(dict.fromkeys(kept))


def _break_cycles(steps: list[dict[str, Any]], repairs: list[str]) -> None:
    """Drop, within a cycle, every dependency on a step at or after the dependant in the list."""
    ids = [s["id"] for s in steps]
    _done, stuck = dependency_order(ids, {s["id"]: s["depends_on"] for s in steps})
    where = {sid: n for n, sid in enumerate(ids)}
    for step in steps:
        if step["id"] not in stuck:
            continue
        for dep in [d for d in step["depends_on"] if d in stuck and where[d] >= where[step["id"]]]:
            step["depends_on"].remove(dep)
            repairs.append(f"broke a dependency cycle: {step['id']} no longer waits for {dep}")


def repair_plan(raw: object, query: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(plan, order, repairs)`` from the model's last plan object, or ``InvalidInput``.

    The error names what the model got wrong that has no clear repair: no
    plan at all, no steps, no step with a description, too many steps.
    """
    if not isinstance(raw, dict):
        raise InvalidInput("the answer had no plan")
    repairs: list[str] = []
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        title = query.strip()
        repairs.append("the plan had no title: used the query")
    title = _cut(title.strip(), TITLE_MAX, "the title", repairs)
    steps = _steps(raw, repairs)
    ids = [s["id"] for s in steps]
    ids_ok = len(set(ids)) == len(ids) and all(re.fullmatch(STEP_ID, i) for i in ids)
    if not ids_ok or any(d not in ids for s in steps for d in s["depends_on"]):
        _renumber(steps, repairs)
    for step in steps:
        step["depends_on"] = list(dict.fromkeys(step["depends_on"]))[:STEPS_MAX]
    _break_cycles(steps, repairs)
    plan, order = validate_plan({"title": title, "steps": steps})
    return plan, order, repairs


_LISTED = re.compile(r"^\[(\d{1,4})\]\s+(?:\[\[)?([^\]\n]{1,80})", re.M)


def research_sources(research: str, limit: int = 3) -> list[str]:
    """The best-ranked sources a research note lists (``[n] label`` under "## Sources")."""
    listed = research.rpartition("## Sources")[2] if "## Sources" in research else ""
    found = [f"[{m.group(1)}] {m.group(2).strip().split('|')[0]}" for m in _LISTED.finditer(listed)]
    return found[:limit]


def minimal_plan(
    query: str, research: str, why: str
) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(plan, order, repairs)``: the smallest plan that answers ``query`` from the research.

    Used when the model gave no plan that can be repaired (``why``): one
    step gathers what the research found (naming its best sources), one
    writes the deliverable the query asks for, or says the space has no
    answer when the research found no source.
    """
    topic = " ".join(query.split())[:300]
    sources = research_sources(research)
    if sources:
        gather = f"Collect what the research found on: {topic} (from {', '.join(sources)})"
        write = (
            f"Write the deliverable the query asks for: {topic}. Use only the collected "
            "facts, cite each as [n], and say what the space does not answer"
        )
    else:
        gather = f"Check what the space holds on: {topic}"
        write = (
            f"Answer: {topic}. The research found no source in the space, so say so "
            "plainly and name what is missing"
        )
    raw = {
        "title": _cut(topic, TITLE_MAX, "the title", []) or "Plan",
        "steps": [
            {"id": "s1", "description": gather[:DESCRIPTION_MAX], "depends_on": []},
            {"id": "s2", "description": write[:DESCRIPTION_MAX], "depends_on": ["s1"]},
        ],
    }
    plan, order = validate_plan(raw)
    repairs = [f"the model gave no usable plan ({why}): used a minimal plan from the query"]
    return plan, order, repairs


def _valid_items(items: object, model: type[BaseModel], limit: int) -> tuple[list[Any], int]:
    """The items that pass ``model`` (at most ``limit``), and how many were dropped."""
    kept: list[Any] = []
    values = items if isinstance(items, list) else []
    for item in values:
        try:
            kept.append(model.model_validate(item).model_dump())
        except ValidationError:
            continue
    return kept[:limit], len(values) - len(kept[:limit])


def salvage_facts(raw: object) -> tuple[dict[str, Any], list[str]]:
    """The valid facts, entities and relations of the model's last ``KeyFacts`` object."""
    found = raw if isinstance(raw, dict) else {}
    facts = [f.strip() for f in found.get("facts") or [] if isinstance(f, str) and f.strip()]
    entities, bad_entities = _valid_items(found.get("entities"), Entity, 20)
    relations, bad_relations = _valid_items(found.get("relations"), Relation, 30)
    repairs = [
        f"dropped {n} invalid {what}"
        for n, what in ((bad_entities, "entities"), (bad_relations, "relations"))
        if n
    ]
    if len(facts) > 10:
        repairs.append(f"kept the first 10 of {len(facts)} facts")
    kept = KeyFacts(facts=facts[:10], entities=entities, relations=relations)
    return kept.model_dump(), repairs
