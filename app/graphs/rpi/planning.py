"""Checking a plan: unique ids, known dependencies, no cycles, and the order to run it in.

Both the model's plan and a plan a person edits at the approval step go
through ``validate_plan``; the graph only routes on its verdict.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.errors import InvalidInput
from app.graphs.rpi.state import Plan


def validate_plan(raw: object) -> tuple[dict[str, Any], list[str]]:
    """The plan as a plain dict and its steps in dependency order, or ``InvalidInput``.

    Refuses duplicate ids, dependencies on unknown steps and cycles.
    """
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        raise InvalidInput(f"invalid plan: {where}: {first['msg']}") from None
    ids = [s.id for s in plan.steps]
    if len(set(ids)) != len(ids):
        raise InvalidInput("invalid plan: step ids must be unique")
    deps = {s.id: list(dict.fromkeys(s.depends_on)) for s in plan.steps}
    for step, needs in deps.items():
        for need in needs:
            if need not in deps:
                raise InvalidInput(f"invalid plan: step {step!r} depends on unknown step {need!r}")
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(ids):
        ready = [i for i in ids if i not in done and all(d in done for d in deps[i])]
        if not ready:
            stuck = sorted(i for i in ids if i not in done)
            raise InvalidInput(f"invalid plan: dependency cycle among steps {stuck}")
        order.extend(ready)
        done.update(ready)
    return plan.model_dump(), order
