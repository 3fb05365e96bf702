"""``GET /my/spaces/{id}/assistants``: the assistant ids to give a stock UI for a space.

A space or agent created through ``/my/`` gets its assistants at once
(``assistants.py``); a space made with the CLI, or an agent made since,
gets them here, the first time a member asks (on Aegra, where assistants
are owner-only, each member's own). Everyone else gets 404, as for every
``/my/`` route of a space they are not in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.operations.access import Action, allowed, check
from app.operations.agents import list_agents
from app.server.assistants import ensure_assistants, public
from app.server.deps import Spaces, User, caller_client
from app.server.schema import READ_ERRORS, SpaceId

assistants_router = APIRouter(prefix="/my", responses=READ_ERRORS)


@assistants_router.get("/spaces/{space_id}/assistants")
async def space_assistants(
    space_id: SpaceId, request: Request, user: User, spaces: Spaces
) -> list[dict[str, Any]]:
    """The space's assistants (one per graph) and its agents' (``chat``, one per agent)."""
    access = await run_in_threadpool(check, spaces, space_id, user, Action.READ)
    client = caller_client(request)
    if not allowed(access.role, Action.RUN):
        found = await client.assistants.search(metadata={"space_id": space_id}, limit=100)
        return [public(a) for a in found]
    found = await run_in_threadpool(list_agents, spaces, space_id, user)
    agents = [a.name for a in found]
    made = await ensure_assistants(client, space_id)
    for name in agents:
        made += await ensure_assistants(client, space_id, name)
    return [public(a) for a in made]
