"""Team: the space's members and roles (admins change them) and the audit log with filters.

Members are listed, added, re-roled and removed with ``app.spaces.access.members``'
functions, which check the role (any member lists; admins change) and audit
as they do for ``spaces members`` and ``/my/.../members``. The audit log
needs ``Action.READ_AUDIT`` through ``roles.require``, as ``GET .../audit``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.operations import members
from app.operations.access import Action, allowed, check
from app.operations.spaces import audit_log
from app.server.console.pages_spaces import Signed, Write
from app.server.console.web import manager, page

router = APIRouter(prefix="/ui/spaces/{space_id}")
AUDIT_SHOWN = 200


@router.get("/team", response_class=HTMLResponse)
def team(
    space_id: str,
    request: Request,
    session: Signed,
    actor: Annotated[str, Query(max_length=128)] = "",
    since: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """Members and roles; for admins, the audit log (newest first), by actor and from a date."""
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    entries = None
    if allowed(access.role, Action.READ_AUDIT):
        found = audit_log(
            spaces, space_id, session.user, since=since or None, by=actor or None,
            limit=AUDIT_SHOWN, newest=True,
        )  # fmt: skip
        entries = list(reversed(found))
    return page(
        request, "team.html", session, space=access.config,
        members=members.list_members(spaces, space_id, session.user), entries=entries,
        can_manage=allowed(access.role, Action.MANAGE_MEMBERS), actor=actor, since=since,
    )  # fmt: skip


@router.post("/members")
def add_member(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """Add a member or change a member's role (admins)."""
    session, form = signed
    members.add_member(
        manager(request), space_id, session.user, form.get("user_id").strip(),
        form.get("role", "member"),
    )  # fmt: skip
    return RedirectResponse(f"/ui/spaces/{space_id}/team", status_code=303)


@router.post("/members/remove")
def remove_member(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """Remove a member (admins): their access ends at once."""
    session, form = signed
    members.remove_member(manager(request), space_id, session.user, form.get("user_id"))
    return RedirectResponse(f"/ui/spaces/{space_id}/team", status_code=303)
