"""The LangGraph server's auth handler (``auth.path`` in ``langgraph.json``).

Every request needs a valid bearer token; the user it names owns what it
creates (``metadata.owner``), and every read, update, delete, search and run
of threads, runs and crons is filtered to that owner, so another user's
thread answers 404. Assistants (one per graph) are shared and read-only.
The store is keyed by user. The graphs then check the space itself: a run
on a space the user does not own ends as "no space" (see admission.py).
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth import is_studio_user

from app.server.tokens import TokenError, user_from_authorization

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    """Who is calling, from ``Authorization: Bearer <jwt>``; 401 otherwise."""
    try:
        user = user_from_authorization(authorization)
    except TokenError as exc:
        raise Auth.exceptions.HTTPException(status_code=401, detail=str(exc)) from None
    return {"identity": user, "is_authenticated": True}


def _refuse_studio_user(ctx: Auth.types.AuthContext) -> None:
    # `langgraph dev` lets a request with `x-auth-scheme: langsmith` in as a
    # Studio user without a token; langgraph.json disables that, and this
    # refuses it again should the setting ever be lost.
    if is_studio_user(ctx.user):
        raise Auth.exceptions.HTTPException(status_code=401, detail="a bearer token is required")


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Stamp new resources with their owner and filter everything else by it."""
    _refuse_studio_user(ctx)
    owner = {"owner": ctx.user.identity}
    if isinstance(value, dict):
        metadata = value.get("metadata")
        if isinstance(metadata, dict):
            metadata.update(owner)
        elif "metadata" in value or ctx.action == "create":
            value["metadata"] = dict(owner)
    return owner


@auth.on.assistants.read
async def assistants_are_shared(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Everyone may use the graphs' assistants."""
    return True


@auth.on.assistants.search
async def assistants_are_listed(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Everyone may list them."""
    return True


@auth.on.assistants
async def assistants_are_read_only(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Nobody may create, change or delete assistants through the API."""
    raise Auth.exceptions.HTTPException(status_code=403, detail="assistants are read-only")


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    """The store is per user: the first part of every namespace is the caller."""
    _refuse_studio_user(ctx)
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(status_code=403, detail="not your namespace")
