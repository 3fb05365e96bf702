"""Assistants per space (and per agent), so a stock UI that knows only an assistant works there.

agent-chat-ui, Agent Inbox and ``useStream`` take a server URL and an
assistant id (or graph id) and send nothing else a graph could read a space
from. So each space gets one assistant per served graph, whose context
carries ``space_id``, and each agent one ``chat`` assistant whose context
also carries ``agent`` (its messages go to that agent without ``@name``).
They are made when a space or agent is created through ``/my/``, and on
demand by ``GET /my/spaces/{id}/assistants`` (spaces made with the CLI).

Who sees them is decided afresh on every request, from the registry: the
auth handler (``auth.py``) filters assistant reads and searches to the
graphs' own assistants plus those of the caller's spaces, so on ``langgraph
dev`` a member added later sees the owner's at once and a removed one no
longer does. Aegra keeps assistants owner-only whatever the handler says
(it filters them by their ``user_id`` column), so there each member gets
assistants of their own, made the first time they ask. Only a member whose
role allows runs may create one, for that space only.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from app.graphs.deps import Deps
from app.ids import validate_space_id
from app.operations.access import Action, allowed, role_of, spaces_of

log = logging.getLogger(__name__)
GRAPHS = ("chat", "rpi", "research")
SYSTEM = {"created_by": "system"}  # the graphs' default assistants, shared by all


def _deps() -> Deps:
    """The server process's connections, shared with its graphs and routes (``Deps.served``)."""
    return Deps.served()


def specs(space_id: str, agent: str | None = None) -> list[dict[str, Any]]:
    """The assistants a space (or one of its agents) should have."""
    if agent is not None:
        context = {"space_id": space_id, "agent": agent}
        return [{"graph_id": "chat", "name": f"{space_id} @{agent}", "context": context}]
    return [
        {"graph_id": g, "name": f"{space_id} {g}", "context": {"space_id": space_id}}
        for g in GRAPHS
    ]


async def ensure_assistants(
    client: Any, space_id: str, agent: str | None = None
) -> list[dict[str, Any]]:
    """The space's (or agent's) assistants, creating those that are missing."""
    metadata = {"space_id": space_id, "agent": agent or ""}
    found = await client.assistants.search(metadata=metadata, limit=100)
    have = {a["graph_id"]: a for a in found}
    for spec in specs(space_id, agent):
        if spec["graph_id"] not in have:
            have[spec["graph_id"]] = await client.assistants.create(
                spec["graph_id"], context=spec["context"], metadata=dict(metadata),
                name=spec["name"],
            )  # fmt: skip
    return [have[s["graph_id"]] for s in specs(space_id, agent)]


async def made_with(client: Any, space_id: str, agent: str | None = None) -> None:
    """Make a new space's (or agent's) assistants, if an Agent Server answers here.

    The ``/my/`` app also runs alone (tests, an embedding app): with no
    Agent Server behind it there are no assistants to make, and ``GET
    /my/spaces/{id}/assistants`` makes them once there is one.
    """
    try:
        await ensure_assistants(client, space_id, agent)
    except httpx.TransportError as exc:
        log.info("no assistants for %s: no Agent Server answered (%s)", space_id, exc)


def public(assistant: dict[str, Any]) -> dict[str, Any]:
    """What ``/my/`` shows of an assistant."""
    keys = ("assistant_id", "graph_id", "name", "context")
    return {k: assistant.get(k) for k in keys}


async def visible_to(user: str) -> dict[str, Any]:
    """The auth filter of assistant reads: the graphs' own, and those of ``user``'s spaces."""
    member_of = await run_in_threadpool(spaces_of, _deps().manager(), user)
    groups = [SYSTEM, *({"space_id": config.space_id} for config, _ in member_of)]
    return groups[0] if len(groups) == 1 else {"$or": groups}


async def may_create(user: str, value: dict[str, Any]) -> str | None:
    """Why ``user`` may not create this assistant, or ``None`` if they may.

    It must be one of a space's (``specs``): its metadata names the space,
    its context the same space, its graph one of ours, and the caller's role
    must allow runs there (an assistant is only a way to start them).
    """
    metadata = value.get("metadata") or {}
    context = value.get("context") or (value.get("config") or {}).get("configurable") or {}
    space_id = metadata.get("space_id")
    if not isinstance(space_id, str) or context.get("space_id") != space_id:
        return "assistants are made for spaces: metadata.space_id and context.space_id"
    if value.get("graph_id") not in GRAPHS:
        return f"assistants are made for the graphs {', '.join(GRAPHS)}"
    validate_space_id(space_id)
    role = await run_in_threadpool(role_of, _deps().backends.pool, space_id, user)
    if not allowed(role, Action.RUN):
        return f"no space {space_id!r}" if role is None else "your role may not run in this space"
    return None
