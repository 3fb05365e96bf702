"""Admission: may this user run on this space now, and with which model?

Every graph checks this in its first node, so a run never touches a store of
a space that is unknown, archived, not the user's, or short of budget. A
space that exists but belongs to someone else is reported exactly like one
that does not exist, so a run learns nothing about other people's spaces.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from langgraph.runtime import Runtime

from app.errors import BudgetExceeded, InvalidInput, SpaceArchived, SpaceNotFound
from app.graphs.context import RunContext
from app.graphs.resources import manager_for, settings_of
from app.ids import validate_space_id, validate_user_id
from app.llm.resolve import model_names
from app.spaces.budget import SpaceBudget
from app.spaces.space_manager import SpaceHandle, SpaceManager

QUERY_MAX = 4_000


@dataclass
class Admitted:
    """What a node needs once the run is admitted."""

    manager: SpaceManager
    space: SpaceHandle
    budget: SpaceBudget


def run_context(runtime: Runtime[RunContext]) -> RunContext:
    """The run's context, with the user taken from authentication when served.

    In-process callers (the CLI, notebooks, tests) are trusted to say who the
    user is. Under the LangGraph server the user is whoever authenticated:
    a ``user_id`` sent in the run's context is replaced by that identity, and
    a run without an authenticated user is refused, so a caller can never
    act as someone else.
    """
    context, info = runtime.context, runtime.server_info
    if info is None:
        if context is None:
            raise InvalidInput("a run needs a context with user_id")
        return context
    identity = getattr(info.user, "identity", None) if info.user is not None else None
    if (
        not isinstance(identity, str)
        or not identity
        or not getattr(info.user, "is_authenticated", True)
    ):
        raise InvalidInput("runs on the server need an authenticated user")
    base = context or RunContext(user_id=identity)
    # ``settings`` can only be a real Settings object handed over in-process
    # (RunContext refuses anything else), so it is kept.
    return dataclasses.replace(base, user_id=identity)


def check_query(query: object) -> str:
    """The query, stripped; refused if empty or oversized."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must be non-empty text")
    if len(query) > QUERY_MAX:
        raise InvalidInput(f"query is too long: {len(query)} characters, at most {QUERY_MAX}")
    return query.strip()


def open_for_run(context: RunContext, space_id: object) -> Admitted:
    """Open the space for writing on behalf of ``context.user_id``, or refuse."""
    if not isinstance(space_id, str):
        raise InvalidInput("space_id must be text")
    validate_space_id(space_id)
    validate_user_id(context.user_id)
    manager = manager_for(context)
    config = manager.get_space(space_id)
    if config.owner_id != context.user_id:
        raise SpaceNotFound(f"no space {space_id!r}")
    if not config.is_active:
        raise SpaceArchived(f"space {space_id!r} is archived: it refuses runs and writes")
    space = manager.open_space(space_id, write=True)
    return Admitted(manager, space, SpaceBudget(manager.backends.pool, space.config))


def admit(context: RunContext, space_id: object) -> Admitted:
    """``open_for_run`` plus the budget reserve check of a new run."""
    admitted = open_for_run(context, space_id)
    left = admitted.budget.remaining()
    if left < context.token_reserve:
        raise BudgetExceeded(
            f"space {space_id!r} has {left} tokens left this month, "
            f"below the run reserve of {context.token_reserve}"
        )
    return admitted


def run_model(context: RunContext, admitted: Admitted) -> str:
    """The run's model: the context's, else the space's preferred, else ``SPACES_MODEL``."""
    spec = context.model or admitted.space.config.preferred_model or settings_of(context).model
    model_names(spec)  # refuse an unknown name now, not at the first call
    return spec
