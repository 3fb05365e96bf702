"""A plan: titled steps with dependencies, checked, and put in the order to run them.

``rpi``'s plan and ``chat``'s task plan are both this shape (a task plan's
tasks are steps with an agent), so both are checked by ``validate_plan``:
unique ids, dependencies on known steps only, no cycle. A plan a person
edits at an approval goes through the same check.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from app.errors import InvalidInput

STEP_ID = r"^[A-Za-z0-9_-]{1,32}$"


class PlanStep(BaseModel):
    """One step of the plan; ``depends_on`` names steps that must come first."""

    id: str = Field(pattern=STEP_ID, description="short unique id, e.g. s1")
    description: str = Field(min_length=1, max_length=500)
    depends_on: list[str] = Field(default_factory=list, max_length=20)


class Plan(BaseModel):
    """A titled list of steps that together answer the query."""

    title: str = Field(min_length=1, max_length=200)
    steps: list[PlanStep] = Field(min_length=1, max_length=20)


def dependency_order(ids: list[str], deps: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """The steps in dependency order (list order among equals), and those left in a cycle."""
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(ids):
        ready = [i for i in ids if i not in done and all(d in done for d in deps[i])]
        if not ready:
            return order, [i for i in ids if i not in done]
        order.extend(ready)
        done.update(ready)
    return order, []


def parse_plan[M: BaseModel](model: type[M], raw: object) -> M:
    """``raw`` as ``model``, or ``InvalidInput`` naming the first field that is wrong."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        raise InvalidInput(f"invalid plan: {where}: {first['msg']}") from None


def validate_plan(raw: object) -> tuple[dict[str, Any], list[str]]:
    """The plan as a plain dict and its steps in dependency order, or ``InvalidInput``.

    Refuses duplicate ids, dependencies on unknown steps and cycles.
    """
    plan = parse_plan(Plan, raw)
    ids = [s.id for s in plan.steps]
    if len(set(ids)) != len(ids):
        raise InvalidInput("invalid plan: step ids must be unique")
    deps = {s.id: list(dict.fromkeys(s.depends_on)) for s in plan.steps}
    for step, needs in deps.items():
        for need in needs:
            if need not in deps:
                raise InvalidInput(f"invalid plan: step {step!r} depends on unknown step {need!r}")
    order, stuck = dependency_order(ids, deps)
    if stuck:
        raise InvalidInput(f"invalid plan: dependency cycle among steps {sorted(stuck)}")
    return plan.model_dump(), order
