"""REST routes for teams: ``/my/spaces/{id}/members``, ``.../audit`` and ``PATCH /my/spaces/{id}``.

Any member lists members; admins change them, change budgets and the
model, and read the audit log: the rule is ``roles.RULE``, asked by the
operations (``app/operations/``). A non-member gets 404, as for a space
that does not exist; a member whose role is too low gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.operations import members, spaces
from app.server.deps import Spaces, User
from app.server.schema import READ_ERRORS, WRITE_ERRORS, Body, SpaceId


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
    space_id: SpaceId, body: SpaceChange, user: User, manager: Spaces
) -> dict[str, Any]:
    """Change the space's budgets or preferred model (admins); each change is audited."""
    return spaces.update_space(
        manager, space_id, user, token_budget=body.token_budget,
        api_call_budget=body.api_call_budget, model=body.model,
    ).to_json()  # fmt: skip


@team_router.get("/spaces/{space_id}/members")
def list_members(space_id: SpaceId, user: User, manager: Spaces) -> list[dict[str, Any]]:
    """The space's members and their roles (any member)."""
    return [m.to_json() for m in members.list_members(manager, space_id, user)]


@team_router.post("/spaces/{space_id}/members", status_code=201, responses=WRITE_ERRORS)
def add_member(space_id: SpaceId, body: NewMember, user: User, manager: Spaces) -> dict[str, Any]:
    """Add a member, or change a member's role (admins)."""
    return members.add_member(manager, space_id, user, body.user_id, body.role).to_json()


@team_router.delete("/spaces/{space_id}/members/{member}")
def remove_member(space_id: SpaceId, member: str, user: User, manager: Spaces) -> dict[str, Any]:
    """Remove a member (admins); their access ends at once, waiting runs included."""
    members.remove_member(manager, space_id, user, member)
    return {"space_id": space_id, "removed": member}


@team_router.get("/spaces/{space_id}/audit")
def read_audit(
    space_id: SpaceId,
    user: User,
    manager: Spaces,
    since: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=spaces.AUDIT_READ_MAX)] = 1_000,
) -> list[dict[str, Any]]:
    """The space's audit log in time order (admins), from ``since``, by ``actor``."""
    entries = spaces.audit_log(manager, space_id, user, since=since, by=actor, limit=limit)
    return [e.to_json() for e in entries]
