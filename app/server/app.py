"""The one factory of the project's HTTP app: ``/my/`` REST, its Swagger, and the console.

``create_app(deps)`` builds the app over the connections it is given: a
server passes ``Deps.served()`` (``served.py``, named by ``langgraph.json``
and ``aegra.json``), a test passes its own. Every router's routes, the error
answers and the middlewares are put together here and nowhere else.

Errors: a ``SpacesError`` answers with its own ``http_status`` and one
line (``app/errors.py``, beside the CLI's exit code); a refused body or
parameter, 422 with one line that never echoes the input; over the rate
limit, 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.errors import SpacesError
from app.graphs.deps import Deps
from app.server.agents_routes import agents_router
from app.server.approval_sweeper import sweep_forever
from app.server.assistant_routes import assistants_router
from app.server.console.mount import ConsoleMount, build_console
from app.server.deps import RateLimited, RateLimiter
from app.server.schema import NulGuard, validation_line
from app.server.space_routes import router as spaces_router
from app.server.space_runs import runs_router
from app.server.team_routes import team_router

ROUTERS = (spaces_router, team_router, agents_router, runs_router, assistants_router)


@asynccontextmanager
async def _sweeping(app: FastAPI) -> AsyncIterator[None]:
    """For the server's life, decline expired plan approvals (``approval_sweeper.py``)."""
    task = asyncio.create_task(sweep_forever())
    try:
        yield
    finally:
        task.cancel()


def create_app(deps: Deps) -> FastAPI:
    """The project's app over ``deps``: its routes, error answers, rate limit and console."""
    app = FastAPI(
        title="Spaces", docs_url="/my/docs", openapi_url="/my/openapi.json", redoc_url=None,
        lifespan=_sweeping,
    )  # fmt: skip
    app.state.deps = deps
    app.state.limiter = RateLimiter()
    # The routes themselves, not ``include_router``: langgraph-api's custom route
    # auth (http.enable_custom_route_auth) wraps each route's app and fails on
    # FastAPI's included-router entries.
    for router in ROUTERS:
        app.router.routes.extend(router.routes)
    app.add_middleware(NulGuard)
    # The web console at /ui/ (issue 23): its own cookie sign-in, handed /ui requests
    # before the servers' bearer auth wraps this app's routes (console/mount.py).
    app.add_middleware(ConsoleMount, console=build_console(deps))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(SpacesError, _spaces_error)
    return app


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """A body or parameter FastAPI refused: 422 with one line (never the input echoed)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_line(exc.errors())}, status_code=422)


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    """429 with the seconds to wait."""
    assert isinstance(exc, RateLimited)
    headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)


async def _spaces_error(request: Request, exc: Exception) -> JSONResponse:
    """The project's one-line errors, each with its class's status (404, 403, 409, 423, ...)."""
    assert isinstance(exc, SpacesError)
    return JSONResponse({"detail": exc.public_detail()}, status_code=exc.http_status)
