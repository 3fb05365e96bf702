"""Sign-in and sign-out: the one-time link becomes an HttpOnly, SameSite=Strict cookie.

The link (``spaces ui --user alice``) opens a page with a "Sign in" button
rather than signing in on the GET itself, so a link previewer that fetches
the URL does not spend it; the POST exchanges the token for a session and
redirects to ``/ui/``, so the token leaves the address bar at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.server.console.sessions import (
    COOKIE,
    SESSION_TTL_S,
    Session,
    end_session,
    redeem_login,
)
from app.server.console.web import check_origin, page, pool, read_form, write_form

router = APIRouter(prefix="/ui")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, token: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """The page the login link opens: a button that spends the token."""
    return page(request, "login.html", None, token=token)


@router.post("/login")
async def login(request: Request) -> Response:
    """Exchange a one-time token for a session cookie (401 if unknown, used or expired).

    Another site may not post a token of its own here (login CSRF: signing a
    victim into the attacker's account): a foreign ``Origin`` is refused.
    """
    check_origin(request)
    form = await read_form(request)
    token = form.get("token")
    cookie = await run_in_threadpool(lambda: redeem_login(pool(request), token))
    if cookie is None:
        return await run_in_threadpool(
            page, request, "login.html", None, status=401, token="",
            error="This login link is not valid any more: it works once, for two minutes. "
            "Run `spaces ui --user YOU` for a new one.",
        )  # fmt: skip
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        COOKIE, cookie, max_age=SESSION_TTL_S, path="/ui/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout(request: Request, signed: Annotated[tuple, Depends(write_form)]) -> Response:
    """End the session everywhere and clear the cookie."""
    session: Session = signed[0]
    end_session(pool(request), session)
    response = page(request, "login.html", None, token="", signed_out=True)
    response.delete_cookie(COOKIE, path="/ui/", httponly=True, samesite="strict")
    return response
