"""Runs: the list with statuses, start ``rpi`` or ``research``, a run's page, the approval modal.

Starting a run checks ``Action.RUN`` with the operations' ``check``, then creates the
thread and the run through this same server's Agent Server API, as the
signed-in user, with a one-minute bearer token minted here (never sent to
the browser): the server's own auth handler stamps the owner, admits the
run and the graph checks the space, exactly as for the SDK. Listing, showing
and answering call the ``/my/spaces/{id}/runs`` route functions themselves
(``space_runs.py``), so a member's answer is refused by the one role rule
(403) and an operator's is audited as theirs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.errors import InvalidInput, SpaceNotFound
from app.operations.access import Action, allowed, check
from app.server.console.sessions import Session
from app.server.console.web import Form, manager, page, signed_in, write_form
from app.server.interrupts import thread_interrupts
from app.server.loopback import loopback_client
from app.server.space_runs import (
    ELSEWHERE,
    LIVE,
    RUNS_MAX,
    RunAnswer,
    answer_run,
    as_owner,
    cancel_run,
    list_space_runs,
    resume_run,
    stopped_midway,
)
from app.server.tokens import issue_token
from app.spaces.stores.run_records import get_thread, space_runs

router = APIRouter(prefix="/ui/spaces/{space_id}/runs")
GRAPHS = ("rpi", "research")
QUERY_MAX = 4_000
TOKEN_TTL_S = 60
ANSWERS = ("approve", "reject", "revise", "edit")
PLAN_MAX = 20_000
REGISTER_WAIT_S = 10


async def _signed(request: Request) -> Session:
    return await run_in_threadpool(signed_in, request)


async def _access(request: Request, space_id: str, user: str, action: Action) -> Any:
    spaces = await run_in_threadpool(manager, request)
    return spaces, await run_in_threadpool(check, spaces, space_id, user, action)


Signed = Annotated[Session, Depends(_signed)]
Write = Annotated[tuple[Session, Form], Depends(write_form)]


@router.get("", response_class=HTMLResponse)
async def runs_page(space_id: str, request: Request, session: Signed) -> HTMLResponse:
    """Every run of the space (any member), newest first, and a form to start one."""
    spaces, access = await _access(request, space_id, session.user, Action.READ)
    runs = await list_space_runs(space_id, request, session.user, spaces, limit=100)
    return await run_in_threadpool(
        page, request, "runs.html", session, space=access.config, runs=runs, graphs=GRAPHS,
        can_run=allowed(access.role, Action.RUN) and access.config.is_active,
    )  # fmt: skip


@router.post("")
async def start_run(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """Start ``rpi`` or ``research`` on the space as the signed-in user."""
    session, form = signed
    await _access(request, space_id, session.user, Action.RUN)
    graph, query = form.get("graph", "rpi"), form.get("query").strip()
    if graph not in GRAPHS:
        raise InvalidInput(f"graph must be one of {', '.join(GRAPHS)}")
    if not query or len(query) > QUERY_MAX:
        raise InvalidInput(f"the question must be 1 to {QUERY_MAX} characters")
    token = issue_token(session.user, ttl_s=TOKEN_TTL_S)
    client = loopback_client(request, token)
    thread = await client.threads.create(metadata={"space_id": space_id})
    thread_id = thread["thread_id"]
    run = await client.runs.create(thread_id, graph, input={"space_id": space_id, "query": query})
    # The graph records the run's thread in its first step; wait for that (or
    # for the run to end, refused) so the run's page can show it.
    pool = await run_in_threadpool(lambda: manager(request).backends.pool)
    deadline = time.monotonic() + REGISTER_WAIT_S
    while await run_in_threadpool(get_thread, pool, thread_id) is None:
        if time.monotonic() > deadline:
            break
        state = await client.runs.get(thread_id, run["run_id"])
        if state.get("status") not in ("pending", "running"):
            break
        await asyncio.sleep(0.1)
    return RedirectResponse(f"/ui/spaces/{space_id}/runs/{thread_id}", status_code=303)


async def _run_view(request: Request, space_id: str, thread_id: str, user: str) -> dict:
    """The run's status, its latest values and what it waits for (any member).

    A run this server does not hold (driven from the CLI or a notebook, its
    checkpoints in the space's own Postgres schema) cannot be continued
    here: its view says ``elsewhere`` and the page shows ``spaces resume``.
    """
    spaces, access = await _access(request, space_id, user, Action.READ)
    record = await run_in_threadpool(get_thread, spaces.backends.pool, thread_id)
    if record is None or record.space_id != space_id:
        raise SpaceNotFound(f"no run {thread_id!r} in space {space_id!r}")
    view = {"spaces": spaces, "access": access, "record": record, "values": {},
            "approval": None, "elsewhere": False}  # fmt: skip
    try:
        async with as_owner(request, spaces, space_id, thread_id, user) as (client, record):
            # Both at once; the state gives the values (Aegra's thread has none) and
            # the interrupts, so thread_interrupts needs no third call.
            thread, state = await asyncio.gather(
                client.threads.get(thread_id), client.threads.get_state(thread_id)
            )
    except SpaceNotFound:
        return {**view, "elsewhere": True, "status": await _recorded_status(spaces, access, record)}
    tasks = state.get("tasks") or []
    interrupts = {t["id"]: t.get("interrupts") or [] for t in tasks}
    pending = await thread_interrupts(client, {**thread, "interrupts": interrupts})
    values = state.get("values") or {}
    if stopped_midway(thread.get("status"), state):
        status = "interrupted"
    else:
        status = LIVE.get(thread.get("status") or "", "unknown")
    if status in ("idle", "failed") and isinstance(values, dict) and values.get("status"):
        status = str(values["status"])
    approval = next(
        (i.get("value") for i in pending if (i.get("value") or {}).get("type") == "plan_approval"),
        None,
    )
    values = values if isinstance(values, dict) else {}
    return {**view, "status": status, "values": values, "approval": approval}


async def _recorded_status(spaces: Any, access: Any, record: Any) -> str:
    """A CLI run's status as the space's run records say (``not_on_this_server`` if open)."""
    runs = await run_in_threadpool(
        space_runs, spaces.backends.pool, access.config.postgres_schema, record.space_id, RUNS_MAX
    )
    found = next((r for r in runs if r.thread_id == record.thread_id), None)
    return (found.status if found else None) or ELSEWHERE


def _may_continue(access: Any, record: Any, user: str) -> bool:
    """The role rule of stopping and resuming: your own run, or (operators, admins) anyone's."""
    return allowed(access.role, Action.RUN if record.user_id == user else Action.APPROVE)


@router.get("/{thread_id}", response_class=HTMLResponse)
async def run_page(
    space_id: str, thread_id: str, request: Request, session: Signed
) -> HTMLResponse:
    """One run: status, plan, artifacts, the "Plan approval" modal while it waits,
    "Stop" while it runs and "Resume" once it stopped mid-way."""
    view = await _run_view(request, space_id, thread_id, session.user)
    access = view["access"]
    return await run_in_threadpool(
        page, request, "run.html", session, space=access.config, thread_id=thread_id,
        record=view["record"], run_status=view["status"], values=view["values"],
        approval=view["approval"], can_approve=allowed(access.role, Action.APPROVE),
        role=access.role.value, elsewhere=view["elsewhere"],
        can_continue=_may_continue(access, view["record"], session.user),
    )  # fmt: skip


@router.post("/{thread_id}/resume")
async def resume(space_id: str, thread_id: str, request: Request, signed: Write):
    """Continue a run that stopped mid-way, through the REST route's ``resume_run``."""
    session, _ = signed
    spaces = await run_in_threadpool(manager, request)
    await resume_run(space_id, thread_id, request, session.user, spaces)
    return RedirectResponse(f"/ui/spaces/{space_id}/runs/{thread_id}", status_code=303)


@router.post("/{thread_id}/stop")
async def stop(space_id: str, thread_id: str, request: Request, signed: Write):
    """Stop a running run where it is (``cancel_run``); it can be resumed from there."""
    session, _ = signed
    spaces = await run_in_threadpool(manager, request)
    await cancel_run(space_id, thread_id, request, session.user, spaces)
    return RedirectResponse(f"/ui/spaces/{space_id}/runs/{thread_id}", status_code=303)


@router.get("/{thread_id}/status")
async def run_status(space_id: str, thread_id: str, request: Request, session: Signed):
    """The run's status as JSON, polled by the run page while it is busy."""
    view = await _run_view(request, space_id, thread_id, session.user)
    return JSONResponse({"status": view["status"]}, headers={"Cache-Control": "no-store"})


@router.get("/{thread_id}/events")
async def run_events(
    space_id: str, thread_id: str, request: Request, session: Signed
) -> StreamingResponse:
    """Server-sent events: the latest run's progress (``custom`` events), then ``end``.

    The run page shows them while the run is busy and reloads at ``end``.
    """
    spaces, _ = await _access(request, space_id, session.user, Action.READ)
    async with as_owner(request, spaces, space_id, thread_id, session.user) as (client, _):
        runs = await client.runs.list(thread_id, limit=1)
    run_id = runs[0]["run_id"] if runs else None

    async def stream() -> AsyncIterator[str]:
        if run_id is not None:
            async for part in client.runs.join_stream(thread_id, run_id, stream_mode="custom"):
                if part.event.startswith("custom") and isinstance(part.data, dict):
                    yield f"data: {json.dumps(_progress_line(part.data))}\n\n"
        yield "event: end\ndata: {}\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def _progress_line(envelope: dict[str, Any]) -> str:
    """One event as a short line of text (shown as text, never markup)."""
    payload = envelope.get("payload")
    detail = json.dumps(payload, default=str)[:160] if payload else ""
    return f"{envelope.get('event_type', 'event')} {detail}".strip()


@router.post("/{thread_id}/answer")
async def answer(space_id: str, thread_id: str, request: Request, signed: Write):
    """Approve, reject, revise or edit the plan, through the REST route's ``answer_run``."""
    session, form = signed
    action = form.get("action")
    if action not in ANSWERS:
        raise InvalidInput(f"answer must be one of {', '.join(ANSWERS)}")
    feedback = form.get("feedback").strip() or None
    if action == "revise" and not feedback:
        raise InvalidInput("Revise needs feedback: say what to change")
    extra: dict[str, Any] = {}
    if action == "edit":  # the plan as JSON; the graph validates it and asks again if invalid
        raw = form.get("plan")
        try:
            extra["plan"] = json.loads(raw) if len(raw) <= PLAN_MAX else None
        except ValueError:
            raise InvalidInput("the edited plan is not valid JSON") from None
        if not isinstance(extra["plan"], dict):
            raise InvalidInput(
                f"the edited plan must be a JSON object of at most {PLAN_MAX} characters"
            )
    spaces = await run_in_threadpool(manager, request)
    body = RunAnswer(action=action, feedback=feedback, **extra)
    await answer_run(space_id, thread_id, body, request, session.user, spaces)
    return RedirectResponse(f"/ui/spaces/{space_id}/runs/{thread_id}", status_code=303)
