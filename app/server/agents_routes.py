"""REST routes for a space's agents and chat sessions, under ``/my/spaces/{id}/...``.

Agents are read and written directly in the space's schema. Chat turns run
on the LangGraph server itself, as runs of the ``chat`` graph on the
session's thread, started over HTTP with the caller's own bearer token: the
server's auth handler then stamps and filters them as the caller's, exactly
as if the caller had used the LangGraph API (which works too). A space or
session of someone else answers 404, like one that does not exist.

Agent reads and writes are operations (``app/operations/agents.py``: the
role check, the audit entry, the act); the caller is ``deps.py``'s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import AliasChoices, Field, model_validator
from starlette.concurrency import run_in_threadpool

from app.errors import InvalidInput, SpaceNotFound
from app.graphs.admission import QUERY_MAX
from app.operations import agents
from app.operations.access import for_runs
from app.server.assistants import made_with
from app.server.deps import Spaces, User, caller_client
from app.server.interrupts import thread_interrupts
from app.server.loopback import RUN_STREAM
from app.server.schema import READ_ERRORS, WRITE_ERRORS, Body, Decision, SpaceId, one_answer


class AgentConfig(Body):
    """An agent's config; on update, fields left out keep their value."""

    name: str | None = None
    system_prompt: str | None = Field(default=None, max_length=8_000)
    model: str | None = Field(default=None, max_length=200)
    tools: list[str] | None = Field(default=None, max_length=20)
    concurrency_limit: int | None = None


class Message(Body):
    """A chat message: ``@name ...`` calls that agent, anything else is planned."""

    # ``message`` is the chat graph's name for it; ``text`` was this route's first name.
    text: str = Field(
        min_length=1, max_length=QUERY_MAX, validation_alias=AliasChoices("message", "text")
    )


class Answer(Body):
    """An answer to one pending approval: ``action``, or the standard ``decisions`` (one)."""

    action: str | None = Field(default=None, pattern="^(approve|reject)$")
    feedback: str | None = Field(default=None, max_length=2_000)
    decisions: list[Decision] | None = Field(default=None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        one_answer(self.action, self.decisions)
        return self


async def _run_of(client: Any, session_id: str, run_id: str) -> None:
    """Refuse a run id that is not one of this session's runs, as "no run" (404).

    Checked before the stream starts: a stream already answered 200 cannot
    say 404 any more (it used to be cut, with a traceback in the log).
    """
    try:
        uuid.UUID(run_id)
        await client.runs.get(session_id, run_id)
    except ValueError:
        raise SpaceNotFound(f"no run {run_id[:64]!r} in this session") from None
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code not in (404, 422):
            raise
        raise SpaceNotFound(f"no run {run_id[:64]!r} in this session") from None


def _turn(values: Any, state: dict[str, Any]) -> dict[str, Any]:
    values = values if isinstance(values, dict) else {}
    interrupts = [
        {"interrupt_id": i["id"], "request": i["value"]}
        for task in state.get("tasks") or []
        for i in task.get("interrupts") or []
    ]
    keys = ("status", "turn", "mode", "reply", "error")
    doc = {k: values.get(k) for k in keys}
    if interrupts:
        doc.update(status="awaiting_approval", interrupts=interrupts)
    return doc


agents_router = APIRouter(prefix="/my", responses=READ_ERRORS)


@agents_router.get("/spaces/{space_id}/agents")
def list_agents(space_id: SpaceId, user: User, manager: Spaces) -> list[dict[str, Any]]:
    """The space's agents (current versions)."""
    return [a.to_json() for a in agents.list_agents(manager, space_id, user)]


@agents_router.post("/spaces/{space_id}/agents", status_code=201, responses=WRITE_ERRORS)
async def create_agent(
    space_id: SpaceId, body: AgentConfig, request: Request, user: User, manager: Spaces
) -> dict[str, Any]:
    """Create an agent (version 1), audited, with its ``chat`` assistant (assistants.py)."""
    agent = await run_in_threadpool(
        lambda: agents.create_agent(
            manager, space_id, user, body.name or "", system_prompt=body.system_prompt or "",
            model=body.model, tools=body.tools, concurrency_limit=body.concurrency_limit or 1,
        )
    )  # fmt: skip
    await made_with(caller_client(request), space_id, agent.name)
    return agent.to_json()


@agents_router.get("/spaces/{space_id}/agents/{name}")
def show_agent(
    space_id: SpaceId, name: str, user: User, manager: Spaces, version: int | None = None
) -> dict[str, Any]:
    """An agent's current config, or one of its versions (deleted agents stay readable)."""
    return agents.show_agent(manager, space_id, user, name, version).to_json()


@agents_router.put("/spaces/{space_id}/agents/{name}")
def update_agent(
    space_id: SpaceId, name: str, body: AgentConfig, user: User, manager: Spaces
) -> dict[str, Any]:
    """A new version of the agent with the fields given; audited."""
    if body.name not in (None, name):
        raise InvalidInput("an agent cannot be renamed")
    changes = body.model_dump(exclude={"name"}, exclude_none=True)
    return agents.update_agent(manager, space_id, user, name, **changes).to_json()


@agents_router.delete("/spaces/{space_id}/agents/{name}")
def delete_agent(space_id: SpaceId, name: str, user: User, manager: Spaces) -> dict[str, Any]:
    """Soft-delete the agent (audited): its versions and sessions stay readable."""
    return agents.delete_agent(manager, space_id, user, name).to_json()


@agents_router.post("/spaces/{space_id}/sessions", status_code=201, responses=WRITE_ERRORS)
async def create_session(
    space_id: SpaceId, request: Request, user: User, manager: Spaces
) -> dict[str, Any]:
    """A new session: a thread of the ``chat`` graph, owned by the caller."""
    await run_in_threadpool(for_runs, manager, space_id, user)  # refused before a thread is made
    thread = await caller_client(request).threads.create(metadata={"space_id": space_id})
    return await run_in_threadpool(
        agents.open_session, manager, space_id, user, thread["thread_id"]
    )


@agents_router.get("/spaces/{space_id}/sessions")
def list_sessions(space_id: SpaceId, user: User, manager: Spaces) -> list[dict[str, Any]]:
    """The caller's sessions in this space, newest first."""
    return agents.list_sessions(manager, space_id, user)


@agents_router.post(
    "/spaces/{space_id}/sessions/{session_id}/messages", status_code=202, responses=WRITE_ERRORS
)
async def send_message(
    space_id: SpaceId, session_id: str, body: Message, request: Request, user: User,
    manager: Spaces, wait: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Start a turn; with ``?wait=true``, answer once it ends or stops for an approval."""
    await run_in_threadpool(agents.own_session, manager, space_id, user, session_id)
    client = caller_client(request)
    if (await client.threads.get(session_id)).get("status") == "interrupted":
        raise InvalidInput(
            f"session {session_id} waits for an approval: answer it before sending another"
        )
    run = await client.runs.create(
        session_id, "chat", input={"space_id": space_id, "message": body.text},
        stream_mode=RUN_STREAM, stream_resumable=True, multitask_strategy="reject",
    )  # fmt: skip
    doc: dict[str, Any] = {"run_id": run["run_id"], "session_id": session_id}
    if wait:
        await client.runs.join(session_id, run["run_id"])
        # The thread's state, not what join returns: Aegra's join answers with
        # the run record rather than the graph's values.
        state = await client.threads.get_state(session_id)
        doc.update(_turn(state.get("values"), state))
    return doc


@agents_router.get("/spaces/{space_id}/sessions/{session_id}/messages")
def history(space_id: SpaceId, session_id: str, user: User, manager: Spaces) -> dict[str, Any]:
    """The session's messages, tasks and archived turns."""
    return agents.session_detail(manager, space_id, user, session_id)


@agents_router.get("/spaces/{space_id}/sessions/{session_id}/events")
async def events(
    space_id: SpaceId, session_id: str, request: Request, user: User, manager: Spaces,
    run_id: str | None = None,
) -> StreamingResponse:  # fmt: skip
    """SSE: one turn's events (``run_id``, default the latest) in the project's envelope."""
    await run_in_threadpool(agents.own_session, manager, space_id, user, session_id)
    client = caller_client(request)
    if run_id is None:
        runs = await client.runs.list(session_id, limit=1)
        if not runs:
            raise InvalidInput("this session has no turns yet")
        run_id = runs[0]["run_id"]
    else:
        await _run_of(client, session_id, run_id)

    async def stream() -> AsyncIterator[str]:
        async for part in client.runs.join_stream(session_id, run_id, stream_mode="custom"):
            if part.event.startswith("custom") and isinstance(part.data, dict):
                envelope = part.data
                yield f"event: {envelope['event_type']}\ndata: {json.dumps(envelope)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


@agents_router.get("/spaces/{space_id}/approvals")
async def space_approvals(
    space_id: SpaceId, request: Request, user: User, manager: Spaces
) -> list[dict[str, Any]]:
    """The approvals the caller's sessions in this space wait for, with interrupt ids."""
    sessions = await run_in_threadpool(agents.list_sessions, manager, space_id, user)
    mine = {s["session_id"] for s in sessions}
    client = caller_client(request)
    threads = await client.threads.search(status="interrupted", limit=100)
    return [
        {"session_id": t["thread_id"], "interrupt_id": i.get("id"), "request": i.get("value")}
        for t in threads
        if t["thread_id"] in mine
        for i in await thread_interrupts(client, t)
    ]


@agents_router.post("/approvals/{interrupt_id}", responses=WRITE_ERRORS)
async def answer_approval(
    interrupt_id: str, body: Answer, request: Request, user: User
) -> dict[str, Any]:
    """Answer one pending approval by its interrupt id (other pending ones stay pending)."""
    client = caller_client(request)
    threads = await client.threads.search(status="interrupted", limit=100)
    for thread in threads:
        pending = await thread_interrupts(client, thread)
        if any(i.get("id") == interrupt_id for i in pending):
            graph = (thread.get("metadata") or {}).get("graph_id") or "chat"
            answer = body.model_dump(exclude_none=True)
            run = await client.runs.create(
                thread["thread_id"], graph, command={"resume": {interrupt_id: answer}},
                stream_mode=RUN_STREAM, stream_resumable=True,
            )  # fmt: skip
            return {"thread_id": thread["thread_id"], "run_id": run["run_id"]}
    raise SpaceNotFound(f"no pending approval {interrupt_id[:64]!r}")
