"""The console app, and the middleware that serves it at ``/ui`` inside the project's app.

Why a middleware rather than routes on the project's app: both servers wrap
the ``http.app``'s routes in their API auth (``enable_custom_route_auth``),
which wants a bearer token. The console's pages authenticate by the
console's cookie instead, so ``/ui`` requests are handed to the console app
before that routing, and the console answers them itself: sign-in required
on every page but the login page and the static files.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.errors import SpaceNotFound, SpacesError
from app.server.console import (
    pages_auth,
    pages_chat,
    pages_objects,
    pages_runs,
    pages_spaces,
    pages_team,
    pages_vault,
)
from app.server.console.web import HERE, Refused, SignInRequired, page

PREFIX = "/ui"


def build_console(deps: Any) -> FastAPI:
    """The console as an app on ``deps`` (the served app's connections)."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.deps = deps
    for module in (
        pages_auth, pages_spaces, pages_objects, pages_vault, pages_runs, pages_team, pages_chat,
    ):  # fmt: skip
        console.include_router(module.router)
    console.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static")

    @console.get(PREFIX)
    def bare() -> RedirectResponse:
        """``/ui`` → ``/ui/``."""
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @console.exception_handler(SignInRequired)
    def sign_in(request: Request, exc: SignInRequired) -> HTMLResponse:
        """No session: the sign-in page says how to get a link (401)."""
        return page(request, "login.html", None, status=401, token="")

    @console.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> HTMLResponse:
        """A forged or stale write: nothing was done (403)."""
        return page(request, "error.html", None, status=403, message=str(exc))

    @console.exception_handler(SpacesError)
    def spaces_error(request: Request, exc: SpacesError) -> Response:
        """The project's one-line errors, with the status ``/my/`` gives them (``http_status``)."""
        message = exc.public_detail()
        if isinstance(exc, SpaceNotFound):
            message = "not found"  # a stranger's space looks like none at all
        return page(request, "error.html", None, status=exc.http_status, message=message)

    @console.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        """Refusals passed on from the Agent Server (409 busy, ...)."""
        return page(request, "error.html", None, status=exc.status_code, message=str(exc.detail))

    return console


class ConsoleMount:
    """ASGI middleware: ``/ui`` and ``/ui/...`` go to the console, the rest to the app."""

    def __init__(self, app: Any, console: FastAPI):
        self.app = app
        self.console = console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Dispatch by path."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            query = scope.get("query_string", b"").lower()
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                await PlainTextResponse("the path or query may not contain a NUL byte", 400)(
                    scope, receive, send
                )
                return
            await self.console(scope, receive, send)
            return
        await self.app(scope, receive, send)
