"""The spaces page: the user's spaces (active first, archived greyed), create, archive, usage.

Each write is the ``/my/`` route's own operation (``app/operations/spaces.py``),
so the role rule and the audit log are the CLI's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import InvalidInput
from app.ids import validate_space_id
from app.operations import spaces as ops
from app.server.console.sessions import Session
from app.server.console.web import Form, manager, page, signed_in, write_form
from app.spaces.model.space_model import SpaceConfig

router = APIRouter(prefix="/ui")
Signed = Annotated[Session, Depends(signed_in)]
Write = Annotated[tuple[Session, Form], Depends(write_form)]


def gauge(used: int, limit: int) -> dict[str, Any]:
    """A usage gauge: used, limit, percent (capped at 100) and whether it is over."""
    percent = 100 if limit <= 0 else min(100, round(100 * used / limit))
    return {"used": used, "limit": limit, "percent": percent, "over": limit > 0 and used >= limit}


def usage_of(spaces: Any, config: SpaceConfig) -> dict[str, Any]:
    """This month's token and call gauges of a space."""
    doc = spaces.get_usage(config.space_id).document(config)
    return {
        "tokens": gauge(doc["tokens_used"], doc["monthly_token_budget"]),
        "calls": gauge(doc["api_calls_used"], doc["monthly_api_calls"]),
        "month": doc["month"],
    }


@router.get("/", response_class=HTMLResponse)
def spaces_page(request: Request, session: Signed) -> HTMLResponse:
    """Every space the user is a member of, with their role and this month's usage."""
    spaces = manager(request)
    rows = [
        {"config": c, "role": r.value, "usage": usage_of(spaces, c)}
        for c, r in ops.member_spaces(spaces, session.user)
    ]
    return page(request, "spaces.html", session, rows=rows)


def _int(form: Form, name: str, default: int) -> int:
    raw = form.get(name).strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 15:
        raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number")
    return int(raw)


@router.post("/spaces")
def create_space(request: Request, signed: Write) -> RedirectResponse:
    """Create a space owned by the signed-in user (as ``POST /my/spaces``)."""
    session, form = signed
    spaces = manager(request)
    config = SpaceConfig(
        space_id=validate_space_id(form.get("space_id").strip()),
        name=form.get("name").strip() or form.get("space_id").strip(),
        owner_id=session.user,
        description=form.get("description"),
        monthly_token_budget=_int(form, "monthly_token_budget", 1_000_000),
        monthly_api_calls=_int(form, "monthly_api_calls", 10_000),
    )
    created = ops.create_space(spaces, config)
    return RedirectResponse(f"/ui/spaces/{created.space_id}", status_code=303)


@router.post("/spaces/{space_id}/archive")
def archive_space(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """Archive: read-only from now on (admins)."""
    spaces = manager(request)
    ops.archive_space(spaces, space_id, signed[0].user)
    return RedirectResponse("/ui/", status_code=303)


@router.post("/spaces/{space_id}/activate")
def activate_space(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """Bring an archived space back (admins)."""
    spaces = manager(request)
    ops.activate_space(spaces, space_id, signed[0].user)
    return RedirectResponse("/ui/", status_code=303)
