"""``GET /my/spaces/{id}/runs``: every run of a shared space, for each of its members.

The Agent Server's own thread API stays owner-only on both servers: Aegra
filters every thread query by the thread's ``user_id`` in SQL (its
``api/threads.py`` and ``api/runs.py``), whatever the auth handler returns,
so a rule that let members read each other's threads there would hold on
``langgraph dev`` only. Members see a space's runs here instead, on both
servers alike: who started each, with which graph, and its status.

An operator or admin answers the approval another member's served run
waits for with ``POST /my/spaces/{id}/runs/{thread_id}/answer``. The route
checks the caller's role, then resumes the thread through this same server
with a one-minute token for the thread's owner that names the caller as
the actor (RFC 8693's ``act``; see tokens.py): the server admits it as the
owner's thread, and the run checks, and audits, the answer as the caller's.

The status is the space's run record once a run has finished; before
that, the server's own view of the thread (``running``,
``awaiting_approval``, ``idle`` for a chat between turns, or
``not_on_this_server`` for a run driven from the CLI or a notebook). It
is read without the caller's token, the membership check being made: from
Aegra's ``thread`` table in the same Postgres, or from ``langgraph dev``'s
in-process client.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Self

import httpx
from fastapi import APIRouter, HTTPException, Path, Query, Request
from langgraph_sdk import get_client
from psycopg import errors as pg_errors
from pydantic import ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from app.errors import SpaceNotFound
from app.operations.access import Action, check
from app.server.deps import Spaces, User
from app.server.interrupts import thread_interrupts
from app.server.loopback import RUN_STREAM, loopback_client
from app.server.schema import READ_ERRORS, WRITE_ERRORS, Body, Decision, SpaceId, one_answer
from app.server.tokens import issue_token
from app.spaces.infra.backends import Backends
from app.spaces.stores.run_records import ThreadRecord, get_thread, space_runs

RUNS_MAX = 200
# The server's thread status, in the words of ``spaces runs`` (app/runs.py);
# ``idle``: a chat session between turns.
# ``stopped``: interrupted with no question pending (cancelled mid-way; ``langgraph dev``).
LIVE = {
    "busy": "running", "interrupted": "awaiting_approval", "error": "failed", "idle": "idle",
    "stopped": "interrupted",
}  # fmt: skip
# A thread this server does not hold: a run driven from the CLI or a notebook.
ELSEWHERE = "not_on_this_server"

runs_router = APIRouter(prefix="/my", responses=READ_ERRORS)


def _aegra_statuses(backends: Backends, thread_ids: list[str]) -> dict[str, str]:
    """Aegra's status of each thread, from its ``thread`` table (same Postgres)."""
    try:
        with backends.pool.connection() as conn:
            rows = conn.execute(
                "SELECT thread_id, status FROM thread WHERE thread_id = ANY(%s)", [thread_ids]
            ).fetchall()
    except pg_errors.UndefinedTable:  # Aegra has not migrated this database
        return {}
    return dict(rows)


async def _dev_statuses(thread_ids: list[str]) -> dict[str, str]:
    """``langgraph dev``'s status of each thread, from its in-process client."""
    from langgraph_sdk.errors import NotFoundError

    client, found = get_client(), {}
    for thread_id in thread_ids:
        try:
            thread = await client.threads.get(thread_id)
        except NotFoundError:  # a CLI run's thread: the server never had it
            continue
        found[thread_id] = thread["status"]
        if thread["status"] == "interrupted" and not thread.get("interrupts"):
            found[thread_id] = "stopped"
    return found


@runs_router.get("/spaces/{space_id}/runs")
async def list_space_runs(
    space_id: SpaceId,
    request: Request,
    user: User,
    spaces: Spaces,
    limit: Annotated[int, Query(ge=1, le=RUNS_MAX)] = 50,
) -> list[dict[str, Any]]:
    """Every run of the space, whoever started it (any member), newest first."""
    access = await run_in_threadpool(check, spaces, space_id, user, Action.READ)
    runs = await run_in_threadpool(
        space_runs, spaces.backends.pool, access.config.postgres_schema, space_id, limit
    )
    open_ids = [r.thread_id for r in runs if r.status is None]
    if not open_ids:
        live: dict[str, str] = {}
    elif "aegra_api" in sys.modules:
        live = await run_in_threadpool(_aegra_statuses, spaces.backends, open_ids)
    else:
        live = await _dev_statuses(open_ids)
    return [
        {**r.to_json(), "status": r.status or LIVE.get(live.get(r.thread_id, ""), ELSEWHERE)}
        for r in runs
    ]


class RunAnswer(Body):
    """An answer to the approval a run waits for: ``action`` as its graph asks it, or the
    standard ``decisions`` (one; ``app/graphs/hitl.py``)."""

    model_config = ConfigDict(extra="allow")
    action: str | None = Field(default=None, max_length=32)
    feedback: str | None = Field(default=None, max_length=2_000)
    decisions: list[Decision] | None = Field(default=None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        one_answer(self.action, self.decisions)
        return self


DELEGATION_TTL_S = 60
ThreadId = Annotated[str, Path(max_length=64)]


@asynccontextmanager
async def as_owner(
    request: Request, spaces: Any, space_id: str, thread_id: str, user: str
) -> AsyncIterator[tuple[Any, ThreadRecord]]:
    """A client of this server for the run's owner, naming ``user`` as the actor.

    The caller's role has been checked. A thread that is not a run of this
    space answers 404 like a missing one, and so does one this server does
    not hold (a CLI run); the server's other refusals (409 busy) pass on.
    """
    record = await run_in_threadpool(get_thread, spaces.backends.pool, thread_id)
    if record is None or record.space_id != space_id:
        raise SpaceNotFound(f"no run {thread_id!r} in space {space_id!r}")
    token = issue_token(record.user_id, ttl_s=DELEGATION_TTL_S, actor=user)
    client = loopback_client(request, token)
    try:
        yield client, record
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 404:
            raise SpaceNotFound(f"no run {thread_id!r} on this server") from None
        raise HTTPException(exc.response.status_code, _detail(exc.response)) from None


@runs_router.get("/spaces/{space_id}/runs/{thread_id}")
async def show_space_run(
    space_id: SpaceId, thread_id: ThreadId, request: Request, user: User, spaces: Spaces
) -> dict[str, Any]:
    """One served run of the space (any member): status and what it waits for, if anything."""
    await run_in_threadpool(check, spaces, space_id, user, Action.READ)
    async with as_owner(request, spaces, space_id, thread_id, user) as (client, record):
        thread = await client.threads.get(thread_id)
        pending = await thread_interrupts(client, thread)
    return {
        "thread_id": thread_id, "user_id": record.user_id, "graph": record.graph,
        "status": LIVE.get(thread.get("status") or "", ELSEWHERE),
        "waiting_for": [{"interrupt_id": i.get("id"), "request": i.get("value")} for i in pending],
    }  # fmt: skip


@runs_router.post("/spaces/{space_id}/runs/{thread_id}/answer", responses=WRITE_ERRORS)
async def answer_run(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: RunAnswer,
    request: Request,
    user: User,
    spaces: Spaces,
) -> dict[str, Any]:
    """Answer the approval a run of the space waits for (operators and admins), as the caller.

    404 for a thread that is not a run of this space, 409 when it waits for
    nothing. The run resumes in the background; follow it in ``/runs``.
    """
    await run_in_threadpool(check, spaces, space_id, user, Action.APPROVE)
    async with as_owner(request, spaces, space_id, thread_id, user) as (client, record):
        pending = await thread_interrupts(client, await client.threads.get(thread_id))
        if not pending:
            raise HTTPException(409, "the run is not waiting for an answer")
        answer = body.model_dump(exclude_none=True)
        run = await client.runs.create(
            thread_id, record.graph, command={"resume": {pending[0]["id"]: answer}},
            stream_mode=RUN_STREAM, stream_resumable=True,
        )  # fmt: skip
    return {"thread_id": thread_id, "run_id": run["run_id"], "answered_by": user}


CANCELLED = {"decisions": [{"type": "reject", "message": "cancelled"}]}


@runs_router.post("/spaces/{space_id}/runs/{thread_id}/cancel", responses=WRITE_ERRORS)
async def cancel_run(
    space_id: SpaceId, thread_id: ThreadId, request: Request, user: User, spaces: Spaces
) -> dict[str, Any]:
    """Cancel a served run the same way on both servers, waiting or running.

    The SDK's ``runs.cancel`` differs there for a run waiting at an approval:
    ``langgraph dev`` ended that run (``success``) and answers 404, Aegra
    answers 200 and the thread still waits. Here a waiting run has every
    pending approval declined ("cancelled"), so it ends ``rejected`` and
    frees its budget hold; a running one is cancelled by the server. The
    run's owner may cancel it, and operators and admins anyone's; 409 when
    it neither waits nor runs.
    """
    record = await run_in_threadpool(get_thread, spaces.backends.pool, thread_id)
    mine = record is not None and record.user_id == user
    await run_in_threadpool(check, spaces, space_id, user, Action.RUN if mine else Action.APPROVE)
    async with as_owner(request, spaces, space_id, thread_id, user) as (client, record):
        pending = await thread_interrupts(client, await client.threads.get(thread_id))
        if pending:
            run = await client.runs.create(
                thread_id, record.graph, command={"resume": {i["id"]: CANCELLED for i in pending}},
                stream_mode=RUN_STREAM, stream_resumable=True,
            )  # fmt: skip
            return {"thread_id": thread_id, "declined": len(pending), "run_id": run["run_id"]}
        active = [r for r in await client.runs.list(thread_id, limit=10)
                  if r["status"] in ("pending", "running")]  # fmt: skip
        if not active:
            raise HTTPException(409, "the run neither waits nor runs")
        for run in active:
            await client.runs.cancel(thread_id, run["run_id"])
    return {"thread_id": thread_id, "cancelled": [r["run_id"] for r in active]}


def stopped_midway(thread_status: str | None, state: dict[str, Any]) -> bool:
    """Whether a served run stopped before its end with no question pending: resumable.

    A cancelled run or one whose node crashed keeps its last checkpoint and
    the nodes still to run; the thread then says ``interrupted`` (cancelled,
    ``langgraph dev``), ``idle`` (cancelled, Aegra) or ``error``. Not resumable: a
    run waiting for an answer (it has an interrupt: answer it), and a failed
    run that ended through ``fail`` (``app/graphs/failure.py``: it would
    only fail again).
    """
    tasks = state.get("tasks") or []
    asks = any(t.get("interrupts") for t in tasks)
    ahead = [n for n in state.get("next") or [] if n != "fail"]
    return thread_status in ("interrupted", "idle", "error") and bool(ahead) and not asks


@runs_router.post("/spaces/{space_id}/runs/{thread_id}/resume", responses=WRITE_ERRORS)
async def resume_run(
    space_id: SpaceId, thread_id: ThreadId, request: Request, user: User, spaces: Spaces
) -> dict[str, Any]:
    """Continue a served run that stopped mid-way, from its latest checkpoint (no input).

    The run's owner may (``Action.RUN``), and operators and admins anyone's
    (``Action.APPROVE``), as for cancelling; the graph checks the space again
    at every node. 409 when the run did not stop mid-way (it runs, waits for
    an answer, or ended).
    """
    record = await run_in_threadpool(get_thread, spaces.backends.pool, thread_id)
    mine = record is not None and record.user_id == user
    await run_in_threadpool(check, spaces, space_id, user, Action.RUN if mine else Action.APPROVE)
    async with as_owner(request, spaces, space_id, thread_id, user) as (client, record):
        thread = await client.threads.get(thread_id)
        state = await client.threads.get_state(thread_id)
        if not stopped_midway(thread.get("status"), state):
            raise HTTPException(409, "the run did not stop mid-way: nothing to resume")
        # No input, from the thread's latest checkpoint (Aegra wants one of input,
        # command or checkpoint; on both it continues with the nodes still to run).
        run = await client.runs.create(
            thread_id, record.graph, input=None, checkpoint=state.get("checkpoint"),
            multitask_strategy="reject", stream_mode=RUN_STREAM, stream_resumable=True,
        )  # fmt: skip
    return {"thread_id": thread_id, "run_id": run["run_id"], "resumed_by": user}


def _detail(response: httpx.Response) -> str:
    """The one-line reason of the server's refusal."""
    try:
        return str(response.json().get("detail") or response.reason_phrase)[:300]
    except ValueError:
        return response.reason_phrase
