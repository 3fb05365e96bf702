"""Admission: who is running, on which space, and is that allowed right now?

Every node opens its space through ``authorize`` (in its scope), so a run
never touches a store of a space that is unknown, archived or not shared with
the user in a role that allows runs (``roles.RULE``),
even when the space changes between two nodes of one run. A space that
exists but is not shared with the user is reported exactly like one that does
not exist, so a run learns nothing about other people's spaces.
"""

from __future__ import annotations

import dataclasses

from langgraph.runtime import Runtime

from app.errors import InvalidInput, SpaceArchived
from app.graphs.context import RunContext
from app.llm.resolve import SCRIPTED, check_reachable, model_names, scripted_factory
from app.settings import Settings
from app.spaces.access.roles import Action, require
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.handle import SpaceHandle

QUERY_MAX = 4_000


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
    # A token the server minted for an operator answering another member's
    # approval names that operator as the actor (app/server/tokens.py): the
    # thread is the owner's, the answer and its checks are the operator's.
    actor = getattr(info.user, "actor", None)
    user = actor if isinstance(actor, str) and actor else identity
    base = context or RunContext(user_id=user)
    return dataclasses.replace(base, user_id=user)


def check_query(query: object) -> str:
    """The query, stripped; refused if empty or oversized."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must be non-empty text")
    if len(query) > QUERY_MAX:
        raise InvalidInput(f"query is too long: {len(query)} characters, at most {QUERY_MAX}")
    return query.strip()


def authorize(
    manager: SpaceManager, context: RunContext, space_id: object, request_id: str | None = None
) -> SpaceHandle:
    """Open the space for writing on behalf of ``context.user_id``, or refuse.

    The user must be a member whose role allows runs (``roles.RULE``); a
    non-member is told the space does not exist. One registry read: the
    config read with the role is the one the handle carries. A refusal is
    audited once per run (``request_id``: the thread) and user.
    """
    key = f"{request_id}:refused:{context.user_id}"[:200] if request_id else None
    access = require(manager, space_id, context.user_id, Action.RUN, request_id=request_id, key=key)
    if not access.config.is_active:
        raise SpaceArchived(f"space {space_id!r} is archived: it refuses runs and writes")
    return manager.handle(access.config)


def run_model(context: RunContext, space: SpaceHandle, settings: Settings) -> str:
    """The run's model: the context's, else the space's preferred, else ``SPACES_MODEL``.

    An unknown name, or an ``openai:`` model with neither a key nor an
    endpoint to call, is refused now, before any connection.
    """
    spec = context.model or space.config.preferred_model or settings.model
    for name in model_names(spec):  # refuse an unknown name now, not at the first call
        if name.startswith(SCRIPTED):
            scripted_factory(name, settings)
    return check_reachable(spec, settings)
