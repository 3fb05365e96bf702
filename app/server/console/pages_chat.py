"""Chat: the user's sessions in a space, messages, ``@agent`` completion and approvals.

Each step is what ``/my/spaces/{id}/sessions/...`` does (``agents_routes.py``):
a new session needs ``Action.RUN`` on an active space, is a thread of the
``chat`` graph created through this server's Agent Server API as the
signed-in user (a one-minute token minted here), and is recorded by the
operation ``agents.open_session``; a session is read only by its owner
(``agents.own_session``). A turn (a message sent, an approval
answered) is started and the page comes back at once: the turn streams into
it (``chat_stream.py``), messages and task statuses live. The task plan waits for one
"Plan approval" (with the countdown to its ``expires_at``), and every tool
approval is answered on its own, by its interrupt id.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.errors import InvalidInput
from app.graphs.admission import QUERY_MAX
from app.operations import agents
from app.operations.access import Action, check, for_runs
from app.server.console.chat_stream import turn_events
from app.server.console.pages_runs import TOKEN_TTL_S
from app.server.console.plan_graph import layout
from app.server.console.sessions import Session
from app.server.console.web import Form, manager, page, signed_in, write_form
from app.server.interrupts import thread_interrupts
from app.server.loopback import RUN_STREAM, loopback_client
from app.server.tokens import issue_token

router = APIRouter(prefix="/ui/spaces/{space_id}/chat")
START_WAIT_S = 10


async def _signed(request: Request) -> Session:
    return await run_in_threadpool(signed_in, request)


Signed = Annotated[Session, Depends(_signed)]
Write = Annotated[tuple[Session, Form], Depends(write_form)]


def _client(request: Request, user: str) -> Any:
    token = issue_token(user, ttl_s=TOKEN_TTL_S)
    return loopback_client(request, token)


def _open(request: Request, space_id: str, user: str, session_id: str | None = None) -> Any:
    """The manager and the user's access (and the check that ``session_id`` is theirs)."""
    spaces = manager(request)
    access = check(spaces, space_id, user, Action.READ)
    if session_id is not None:
        agents.own_session(spaces, space_id, user, session_id)
    return spaces, access


@router.get("", response_class=HTMLResponse)
def chats(space_id: str, request: Request, session: Signed) -> HTMLResponse:
    """The user's sessions in the space, newest first, and "New chat"."""
    spaces, access = _open(request, space_id, session.user)
    found = agents.list_sessions(spaces, space_id, session.user)
    return page(request, "chats.html", session, space=access.config, sessions=found)


@router.post("")
async def new_chat(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """A new session: a ``chat`` thread owned by the user (needs ``Action.RUN``)."""
    session, _ = signed

    spaces = manager(request)
    await run_in_threadpool(for_runs, spaces, space_id, session.user)  # before a thread is made
    thread = await _client(request, session.user).threads.create(metadata={"space_id": space_id})
    session_id = thread["thread_id"]
    await run_in_threadpool(agents.open_session, spaces, space_id, session.user, session_id)
    return RedirectResponse(f"/ui/spaces/{space_id}/chat/{session_id}", status_code=303)


@router.get("/{session_id}", response_class=HTMLResponse)
async def chat(space_id: str, session_id: str, request: Request, session: Signed) -> HTMLResponse:
    """The session: messages, the turn's tasks with their statuses, pending approvals."""
    spaces, access = await run_in_threadpool(_open, request, space_id, session.user, session_id)
    detail = await run_in_threadpool(
        agents.session_detail, spaces, space_id, session.user, session_id
    )
    found = await run_in_threadpool(agents.list_agents, spaces, space_id, session.user)
    client = _client(request, session.user)
    thread = await client.threads.get(session_id)
    live = thread.get("status") == "busy"
    # Only an interrupted thread waits (a busy one still lists the interrupt its
    # running turn answered); the others need no look at their state.
    waiting = thread.get("status") == "interrupted"
    pending = await thread_interrupts(client, thread) if waiting else []
    plan = next((i for i in pending if (i.get("value") or {}).get("type") == "plan_approval"), None)
    tools = [i for i in pending if (i.get("value") or {}).get("type") == "tool_approval"]
    last_turn = max((t["turn"] for t in detail["tasks"]), default=None)
    tasks = [t for t in detail["tasks"] if t["turn"] == last_turn]
    if live:  # the running turn's plan, before its tasks reach the store
        tasks = _live_tasks(await client.threads.get_state(session_id), tasks)
    graph = layout([{**t, "id": t["task_id"]} for t in tasks])
    return await run_in_threadpool(
        page, request, "chat.html", session, space=access.config, session_id=session_id,
        messages=detail["messages"], tasks=tasks, task_graph=graph, plan_graph_of=layout,
        agents=[a.name for a in found], plan=plan, tools=tools, live=live,
    )  # fmt: skip


def _live_tasks(state: dict[str, Any], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The running turn's tasks from its state (its approved plan, their statuses so far)."""
    values = state.get("values") or {}
    planned, turn = values.get("plan") or [], values.get("turn")
    if not isinstance(planned, list) or not planned or values.get("mode") == "direct":
        return stored
    if stored and stored[0]["turn"] == turn:
        return stored
    now = values.get("tasks") or {}
    return [
        {**t, "task_id": t["id"], "turn": turn,
         "status": (now.get(t["id"]) or {}).get("status") or t.get("status") or "pending"}
        for t in planned if isinstance(t, dict) and "id" in t
    ]  # fmt: skip


@router.post("/{session_id}/send")
async def send(space_id: str, session_id: str, request: Request, signed: Write):
    """Send a message (``@name ...`` calls that agent); the turn streams into the page."""
    session, form = signed
    text = form.get("message").strip()
    if not text or len(text) > QUERY_MAX:
        raise InvalidInput(f"a message is 1 to {QUERY_MAX} characters")
    await run_in_threadpool(_open, request, space_id, session.user, session_id)
    client = _client(request, session.user)
    if (await client.threads.get(session_id)).get("status") == "interrupted":
        raise InvalidInput("this session waits for an approval: answer it before sending another")
    run = await client.runs.create(
        session_id, "chat", input={"space_id": space_id, "message": text},
        multitask_strategy="reject", stream_mode=RUN_STREAM, stream_resumable=True,
    )  # fmt: skip
    await _started(client, session_id, run["run_id"])
    here = f"/ui/spaces/{space_id}/chat/{session_id}"
    if request.headers.get("accept") == "application/json":  # the page's script: it streams
        return JSONResponse({"events": f"{here}/events"}, headers={"Cache-Control": "no-store"})
    return RedirectResponse(here, status_code=303)


@router.post("/{session_id}/answer")
async def answer(space_id: str, session_id: str, request: Request, signed: Write):
    """Answer one pending approval (the plan, or one tool call) by its interrupt id."""
    session, form = signed
    action, interrupt_id = form.get("action"), form.get("interrupt_id")
    if action not in ("approve", "reject"):
        raise InvalidInput("answer approve or reject")
    await run_in_threadpool(_open, request, space_id, session.user, session_id)
    client = _client(request, session.user)
    pending = await thread_interrupts(client, await client.threads.get(session_id))
    if not any(i.get("id") == interrupt_id for i in pending):
        raise InvalidInput("that approval is not pending any more")
    answer_doc: dict[str, Any] = {"action": action}
    if form.get("feedback").strip():
        answer_doc["feedback"] = form.get("feedback").strip()[:2_000]
    run = await client.runs.create(
        session_id, "chat", command={"resume": {interrupt_id: answer_doc}},
        stream_mode=RUN_STREAM, stream_resumable=True,
    )  # fmt: skip
    await _started(client, session_id, run["run_id"])
    return RedirectResponse(f"/ui/spaces/{space_id}/chat/{session_id}", status_code=303)


async def _started(client: Any, session_id: str, run_id: str) -> None:
    """Wait (briefly) until the server runs the turn, so the page it opens sees it live.

    Until then the thread still looks as before (idle, or waiting for the
    approval just answered), and the page would show that instead.
    """
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if (await client.runs.get(session_id, run_id)).get("status") != "pending":
            return
        await asyncio.sleep(0.05)


@router.get("/{session_id}/events")
async def events(space_id: str, session_id: str, request: Request, session: Signed):
    """Server-sent events of the session's latest turn (its owner only), then ``end``."""
    await run_in_threadpool(_open, request, space_id, session.user, session_id)
    client = _client(request, session.user)
    runs = await client.runs.list(session_id, limit=1)
    run_id = runs[0]["run_id"] if runs else None
    return StreamingResponse(
        turn_events(client, session_id, run_id), media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip
