"""REST routes under ``/my/`` (``http.app`` in ``langgraph.json``), Swagger at ``/my/docs``.

The LangGraph server serves custom routes without running its auth handler
(verified-facts.md), so every route here checks the bearer token itself,
with the same function as the handler, and is rate limited per user (100
requests a minute; 429 with ``Retry-After``). A space of another user
answers 404, exactly like a space that does not exist.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, Field
from starlette.concurrency import run_in_threadpool

from app.errors import (
    InvalidInput,
    PermissionDenied,
    SpaceArchived,
    SpaceExists,
    SpaceNotFound,
    SpacesError,
)
from app.graphs.deps import Deps
from app.server.agents_routes import team_router
from app.server.assistant_routes import assistants_router, caller_client
from app.server.assistants import made_with
from app.server.console.mount import ConsoleMount, build_console
from app.server.interrupts import thread_interrupts
from app.server.loopback import loopback_url
from app.server.schema import (
    READ_ERRORS,
    SPACE_ID_SCHEMA,
    WRITE_ERRORS,
    Body,
    NulGuard,
    SpaceId,
    validation_line,
)
from app.server.space_runs import runs_router
from app.server.team_routes import team_router as members_router
from app.server.tokens import TokenError, user_from_authorization
from app.spaces.access.members import audited, record_creation
from app.spaces.access.roles import Action, require, spaces_of
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.documents import DocumentStore

RATE_LIMIT = 100
RATE_WINDOW_S = 60.0
TEXT_MAX = 5_000_000


class RateLimited(Exception):
    """Over the limit; answered 429 with ``Retry-After`` by :func:`rate_limited`.

    An exception of our own rather than FastAPI's ``HTTPException``, whose
    headers Aegra's handler drops.
    """

    def __init__(self, retry_after_s: int):
        super().__init__("rate limit: 100 requests a minute")
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A sliding one-minute window of request times per user (in this process)."""

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S):
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, user: str) -> None:
        """Count a request; raise 429 with ``Retry-After`` past the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[user]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                raise RateLimited(max(1, int(hits[0] + self.window_s - now) + 1))
            hits.append(now)


limiter = RateLimiter()


def current_user(request: Request) -> str:
    """The caller, from the bearer token (401 otherwise), counted by the rate limiter."""
    try:
        user = user_from_authorization(request.headers.get("authorization"))
    except TokenError as exc:
        raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None
    limiter.check(user)
    return user


User = Annotated[str, Depends(current_user)]


def manager(request: Request, user: User) -> SpaceManager:
    """A space manager on the app's shared connections, once the caller is authenticated."""
    deps: Deps = request.app.state.deps
    return deps.manager()


Manager = Annotated[SpaceManager, Depends(manager)]


def owned(
    spaces: SpaceManager, user: str, space_id: str, action: Action = Action.READ
) -> SpaceConfig:
    """The space if ``user``'s role allows ``action`` (``roles.RULE``); 404 for non-members."""
    return require(spaces, space_id, user, action).config


class NewSpace(Body):
    """A space to create; the owner is the caller."""

    space_id: str = Field(json_schema_extra=SPACE_ID_SCHEMA)
    name: str
    description: str = ""
    # The SpaceConfig names; the earlier REST names are accepted too (docs/cli.md "Vocabulary").
    monthly_token_budget: int = Field(
        1_000_000, validation_alias=AliasChoices("monthly_token_budget", "token_budget")
    )
    monthly_api_calls: int = Field(
        10_000, validation_alias=AliasChoices("monthly_api_calls", "api_call_budget")
    )
    preferred_model: str | None = Field(
        None, validation_alias=AliasChoices("preferred_model", "model")
    )


class NewObject(Body):
    """A text document to add as a new object (or a new version)."""

    filename: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class Active(Body):
    """Turn an object on or off."""

    active: bool


class Status(Body):
    """Mark a version active or inactive."""

    status: str


router = APIRouter(prefix="/my", responses=READ_ERRORS)


@router.post("/spaces", status_code=201, responses=WRITE_ERRORS)
async def create_space(
    body: NewSpace, request: Request, user: User, spaces: Manager
) -> dict[str, Any]:
    """Create a space owned by the caller, with its assistants (``assistants.py``)."""
    created = await run_in_threadpool(_create_space, body, user, spaces)
    await made_with(caller_client(request), created.space_id)
    return created.to_json()


def _create_space(body: NewSpace, user: str, spaces: SpaceManager) -> SpaceConfig:
    config = SpaceConfig(
        space_id=body.space_id,
        name=body.name,
        owner_id=user,
        description=body.description,
        monthly_token_budget=body.monthly_token_budget,
        monthly_api_calls=body.monthly_api_calls,
        preferred_model=body.preferred_model,
    )
    created = spaces.create_space(config)
    record_creation(spaces, created)
    return created


@router.get("/spaces")
def list_spaces(user: User, spaces: Manager) -> list[dict[str, Any]]:
    """The caller's spaces: owned and shared, each with the caller's role."""
    return [{**c.to_json(), "role": r.value} for c, r in spaces_of(spaces, user)]


@router.get("/spaces/{space_id}")
def show_space(space_id: SpaceId, user: User, spaces: Manager) -> dict[str, Any]:
    """One of the caller's spaces."""
    return owned(spaces, user, space_id).to_json()


@router.post("/spaces/{space_id}/archive", responses=WRITE_ERRORS)
def archive_space(space_id: SpaceId, user: User, spaces: Manager) -> dict[str, Any]:
    """Archive: read-only from now on."""
    with audited(spaces, space_id, user, Action.ARCHIVE, "space.archive", target=space_id):
        return spaces.archive_space(space_id).to_json()


@router.post("/spaces/{space_id}/activate", responses=WRITE_ERRORS)
def activate_space(space_id: SpaceId, user: User, spaces: Manager) -> dict[str, Any]:
    """Bring an archived space back."""
    with audited(spaces, space_id, user, Action.ARCHIVE, "space.activate", target=space_id):
        return spaces.activate_space(space_id).to_json()


@router.get("/spaces/{space_id}/usage")
def usage(space_id: SpaceId, user: User, spaces: Manager) -> dict[str, Any]:
    """This month's usage against the budget."""
    config = owned(spaces, user, space_id)
    return spaces.get_usage(space_id).document(config)


def _with_file(body: NewObject) -> Any:
    """Write the uploaded text to a temporary file named as the caller said."""
    name = Path(body.filename).name
    if name != body.filename or name in (".", "..") or len(name.encode()) > 255:
        raise InvalidInput("filename must be a bare file name of at most 255 bytes")
    folder = tempfile.TemporaryDirectory()
    try:
        path = Path(folder.name) / name
        path.write_text(body.text, encoding="utf-8")
    except BaseException:
        folder.cleanup()
        raise
    return folder, path


@router.get("/spaces/{space_id}/objects")
def list_objects(space_id: SpaceId, user: User, spaces: Manager) -> list[dict[str, Any]]:
    """The space's objects."""
    owned(spaces, user, space_id)
    return [o.to_json() for o in DocumentStore(spaces).list_objects(space_id)]


@router.post("/spaces/{space_id}/objects", status_code=201, responses=WRITE_ERRORS)
def add_object(space_id: SpaceId, body: NewObject, user: User, spaces: Manager) -> dict[str, Any]:
    """A new object from a text document (its first version)."""
    with audited(spaces, space_id, user, Action.MANAGE_OBJECTS, "object.add", target=body.filename):
        folder, path = _with_file(body)
        with folder:
            obj, version = DocumentStore(spaces).create_object(space_id, path)
        return {"object": obj.to_json(), "version": version.to_json()}


@router.get("/spaces/{space_id}/objects/{object_ref}/versions")
def list_versions(
    space_id: SpaceId, object_ref: str, user: User, spaces: Manager
) -> list[dict[str, Any]]:
    """Every version of one object."""
    owned(spaces, user, space_id)
    return [v.to_json() for v in DocumentStore(spaces).list_versions(space_id, object_ref)]


@router.post(
    "/spaces/{space_id}/objects/{object_ref}/versions", status_code=201, responses=WRITE_ERRORS
)
def add_version(
    space_id: SpaceId, object_ref: str, body: NewObject, user: User, spaces: Manager
) -> dict[str, Any]:
    """A new version of an object (same file name)."""
    with audited(spaces, space_id, user, Action.MANAGE_OBJECTS, "version.add", target=object_ref):
        folder, path = _with_file(body)
        with folder:
            return DocumentStore(spaces).add_version(space_id, object_ref, path).to_json()


@router.post("/spaces/{space_id}/objects/{object_ref}/active", responses=WRITE_ERRORS)
def set_object_active(
    space_id: SpaceId, object_ref: str, body: Active, user: User, spaces: Manager
) -> dict[str, Any]:
    """Turn an object on or off."""
    event = "object.activate" if body.active else "object.deactivate"
    with audited(spaces, space_id, user, Action.MANAGE_OBJECTS, event, target=object_ref):
        return DocumentStore(spaces).set_object_active(space_id, object_ref, body.active).to_json()


@router.post("/spaces/{space_id}/versions/{version_id}", responses=WRITE_ERRORS)
def set_version_status(
    space_id: SpaceId, version_id: str, body: Status, user: User, spaces: Manager
) -> dict[str, Any]:
    """Mark a version active or inactive."""
    with audited(
        spaces, space_id, user, Action.MANAGE_OBJECTS, "version.set_status", target=version_id
    ):
        return DocumentStore(spaces).set_version_status(space_id, version_id, body.status).to_json()


@router.get("/approvals")
async def pending_approvals(request: Request, user: User) -> list[dict[str, Any]]:
    """The caller's runs waiting for an answer, with what they ask.

    Asked of the LangGraph server itself. Its in-process client does not go
    through the auth handler (a test caught one user seeing another's
    approvals), so the owner filter is applied here explicitly.
    """
    from langgraph_sdk import get_client

    if "aegra_api" in sys.modules:
        # Aegra has no in-process client: ask this same server over loopback,
        # as the caller, so its auth handler applies the owner filter too.
        client = get_client(
            url=loopback_url(request),
            headers={"Authorization": request.headers.get("authorization", "")},
        )
    else:
        client = get_client()
    threads = await client.threads.search(metadata={"owner": user}, status="interrupted", limit=100)
    pending = []
    for thread in threads:
        for item in await thread_interrupts(client, thread):
            pending.append(
                {
                    "thread_id": thread["thread_id"],
                    "interrupt_id": item.get("id"),  # answer one of several with its id
                    "request": item.get("value"),
                }
            )
    return pending


team = team_router(
    User, Manager, owned, SpaceId=SpaceId, read_errors=READ_ERRORS, write_errors=WRITE_ERRORS
)
app = FastAPI(
    title="Spaces",
    docs_url="/my/docs",
    openapi_url="/my/openapi.json",
    redoc_url=None,
    lifespan=team.lifespan_context,  # the approval sweeper runs for the server's life
)
# The routes themselves, not ``include_router``: langgraph-api's custom route
# auth (http.enable_custom_route_auth) wraps each route's app and fails on
# FastAPI's included-router entries.
app.router.routes.extend(router.routes)
app.router.routes.extend(team.routes)
app.router.routes.extend(members_router.routes)
app.router.routes.extend(runs_router.routes)
app.router.routes.extend(assistants_router.routes)


app.add_middleware(NulGuard)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A body or parameter FastAPI refused: 422 with one line (never the input echoed)."""
    return JSONResponse({"detail": validation_line(exc.errors())}, status_code=422)


@app.exception_handler(RateLimited)
async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    """429 with the seconds to wait."""
    return JSONResponse(
        {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after_s)}
    )


app.state.deps = Deps.served()  # the served graphs' own connections (app/graphs/served.py)
# The web console at /ui/ (issue 23): its own cookie sign-in, handed /ui requests
# before the servers' bearer auth wraps this app's routes (console/mount.py).
app.add_middleware(ConsoleMount, console=build_console(app.state.deps))


@app.exception_handler(SpacesError)
async def spaces_error(request: Request, exc: SpacesError) -> JSONResponse:
    """One-line errors as JSON: 404 unknown, 409 exists, 423 archived, 400 bad input."""
    status = 400
    if isinstance(exc, SpaceNotFound):
        status = 404
    elif isinstance(exc, PermissionDenied):
        status = 403
    elif isinstance(exc, SpaceExists):
        # Space ids are global, so a taken id cannot be hidden; say only that.
        return JSONResponse({"detail": "that space id is not available"}, status_code=409)
    elif isinstance(exc, SpaceArchived):
        status = 423
    elif exc.exit_code == 1:
        status = 503
    return JSONResponse({"detail": str(exc)}, status_code=status)
