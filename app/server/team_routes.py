"""REST routes for teams: ``/my/spaces/{id}/members`` and ``/my/spaces/{id}/audit``.

Included by ``routes.py``; the caller is authenticated (and rate limited)
by the same dependency as every other ``/my/`` route, and the role check is
the one rule of ``roles.py``: any member lists members, admins change them
and read the audit log. A non-member gets 404, as for a space that does not
exist; a member whose role is too low gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.server.schema import READ_ERRORS, WRITE_ERRORS, Body, SpaceId
from app.spaces.access import members
from app.spaces.access.roles import Action, require
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit


def _caller(request: Request) -> str:
    from app.server.routes import current_user  # routes.py includes this module

    return current_user(request)


Caller = Annotated[str, Depends(_caller)]


def _manager(request: Request, user: Caller) -> SpaceManager:
    return request.app.state.deps.manager()


Spaces = Annotated[SpaceManager, Depends(_manager)]


class NewMember(Body):
    """A user to add to the space (or whose role to change)."""

    user_id: str
    role: str = "member"


class SpaceChange(Body):
    """New monthly budgets and/or preferred model (admins)."""

    token_budget: int | None = None
    api_call_budget: int | None = None
    model: str | None = None


team_router = APIRouter(prefix="/my", responses=READ_ERRORS)


@team_router.patch("/spaces/{space_id}")
def change_space(
    space_id: SpaceId, body: SpaceChange, user: Caller, spaces: Spaces
) -> dict[str, Any]:
    """Change the space's budgets or preferred model (admins); each change is audited."""
    from app.spaces.access.space_settings import update_space

    return update_space(
        spaces, space_id, user, token_budget=body.token_budget,
        api_call_budget=body.api_call_budget, model=body.model,
    ).to_json()  # fmt: skip


@team_router.get("/spaces/{space_id}/members")
def list_members(space_id: SpaceId, user: Caller, spaces: Spaces) -> list[dict[str, Any]]:
    """The space's members and their roles (any member)."""
    return [m.to_json() for m in members.list_members(spaces, space_id, user)]


@team_router.post("/spaces/{space_id}/members", status_code=201, responses=WRITE_ERRORS)
def add_member(space_id: SpaceId, body: NewMember, user: Caller, spaces: Spaces) -> dict[str, Any]:
    """Add a member, or change a member's role (admins)."""
    return members.add_member(spaces, space_id, user, body.user_id, body.role).to_json()


@team_router.delete("/spaces/{space_id}/members/{member}")
def remove_member(space_id: SpaceId, member: str, user: Caller, spaces: Spaces) -> dict[str, Any]:
    """Remove a member (admins); their access ends at once, waiting runs included."""
    members.remove_member(spaces, space_id, user, member)
    return {"space_id": space_id, "removed": member}


@team_router.get("/spaces/{space_id}/audit")
def read_audit(
    space_id: SpaceId,
    user: Caller,
    spaces: Spaces,
    since: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.READ_MAX)] = 1_000,
) -> list[dict[str, Any]]:
    """The space's audit log in time order (admins), from ``since``, by ``actor``."""
    when = audit.parse_since(since)
    access = require(spaces, space_id, user, Action.READ_AUDIT)
    entries = audit.read(
        spaces.backends.pool, access.config.postgres_schema, since=when, actor=actor, limit=limit
    )
    return [e.to_json() for e in entries]
