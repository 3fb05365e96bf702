"""``/my/spaces``: spaces and their objects (documents with versions), and pending approvals.

Each route takes its input from the request, calls one operation
(``app/operations/``: the role check, the audit entry, the act) and
returns the result as JSON. A space of another user answers 404, exactly
like a space that does not exist. The caller and the rate limit are
``deps.py``'s; the app that serves these routes is ``app.py``'s.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter, Request
from pydantic import AliasChoices, Field
from starlette.concurrency import run_in_threadpool

from app.operations import objects, spaces
from app.server.assistants import made_with
from app.server.deps import Spaces, User, caller_client
from app.server.interrupts import thread_interrupts
from app.server.loopback import loopback_url
from app.server.schema import READ_ERRORS, SPACE_ID_SCHEMA, WRITE_ERRORS, Body, SpaceId
from app.spaces.model.space_model import SpaceConfig

TEXT_MAX = 5_000_000


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
    body: NewSpace, request: Request, user: User, manager: Spaces
) -> dict[str, Any]:
    """Create a space owned by the caller, with its assistants (``assistants.py``)."""
    config = SpaceConfig(
        space_id=body.space_id, name=body.name, owner_id=user, description=body.description,
        monthly_token_budget=body.monthly_token_budget, monthly_api_calls=body.monthly_api_calls,
        preferred_model=body.preferred_model,
    )  # fmt: skip
    created = await run_in_threadpool(spaces.create_space, manager, config)
    await made_with(caller_client(request), created.space_id)
    return created.to_json()


@router.get("/spaces")
def list_spaces(user: User, manager: Spaces) -> list[dict[str, Any]]:
    """The caller's spaces: owned and shared, each with the caller's role."""
    return [{**c.to_json(), "role": r.value} for c, r in spaces.member_spaces(manager, user)]


@router.get("/spaces/{space_id}")
def show_space(space_id: SpaceId, user: User, manager: Spaces) -> dict[str, Any]:
    """One of the caller's spaces."""
    return spaces.show_space(manager, space_id, user).to_json()


@router.post("/spaces/{space_id}/archive", responses=WRITE_ERRORS)
def archive_space(space_id: SpaceId, user: User, manager: Spaces) -> dict[str, Any]:
    """Archive: read-only from now on (admins)."""
    return spaces.archive_space(manager, space_id, user).to_json()


@router.post("/spaces/{space_id}/activate", responses=WRITE_ERRORS)
def activate_space(space_id: SpaceId, user: User, manager: Spaces) -> dict[str, Any]:
    """Bring an archived space back (admins)."""
    return spaces.activate_space(manager, space_id, user).to_json()


@router.get("/spaces/{space_id}/usage")
def usage(space_id: SpaceId, user: User, manager: Spaces) -> dict[str, Any]:
    """This month's usage against the budget."""
    return spaces.space_usage(manager, space_id, user)


@router.get("/spaces/{space_id}/objects")
def list_objects(space_id: SpaceId, user: User, manager: Spaces) -> list[dict[str, Any]]:
    """The space's objects."""
    return [o.to_json() for o in objects.list_objects(manager, space_id, user)]


@router.post("/spaces/{space_id}/objects", status_code=201, responses=WRITE_ERRORS)
def add_object(space_id: SpaceId, body: NewObject, user: User, manager: Spaces) -> dict[str, Any]:
    """A new object from a text document (its first version)."""
    data = body.text.encode("utf-8")
    obj, version = objects.upload_object(manager, space_id, user, body.filename, data)
    return {"object": obj.to_json(), "version": version.to_json()}


@router.get("/spaces/{space_id}/objects/{object_ref}/versions")
def list_versions(
    space_id: SpaceId, object_ref: str, user: User, manager: Spaces
) -> list[dict[str, Any]]:
    """Every version of one object."""
    return [v.to_json() for v in objects.list_versions(manager, space_id, user, object_ref)]


@router.post(
    "/spaces/{space_id}/objects/{object_ref}/versions", status_code=201, responses=WRITE_ERRORS
)
def add_version(
    space_id: SpaceId, object_ref: str, body: NewObject, user: User, manager: Spaces
) -> dict[str, Any]:
    """A new version of an object (same file name)."""
    data = body.text.encode("utf-8")
    return objects.upload_version(
        manager, space_id, user, object_ref, body.filename, data
    ).to_json()


@router.post("/spaces/{space_id}/objects/{object_ref}/active", responses=WRITE_ERRORS)
def set_object_active(
    space_id: SpaceId, object_ref: str, body: Active, user: User, manager: Spaces
) -> dict[str, Any]:
    """Turn an object on or off."""
    return objects.set_object_active(manager, space_id, user, object_ref, body.active).to_json()


@router.post("/spaces/{space_id}/versions/{version_id}", responses=WRITE_ERRORS)
def set_version_status(
    space_id: SpaceId, version_id: str, body: Status, user: User, manager: Spaces
) -> dict[str, Any]:
    """Mark a version active or inactive."""
    return objects.set_version_status(manager, space_id, user, version_id, body.status).to_json()


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
