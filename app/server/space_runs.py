"""``GET /my/spaces/{id}/runs``: every run of a shared space, for each of its members.

The Agent Server's own thread API stays owner-only on both servers: Aegra
filters every thread query by the thread's ``user_id`` in SQL (its
``api/threads.py`` and ``api/runs.py``), whatever the auth handler returns,
so a rule that let members read each other's threads there would hold on
``langgraph dev`` only. Members see a space's runs here instead, on both
servers alike: who started each, with which graph, and its status.

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
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from psycopg import errors as pg_errors
from starlette.concurrency import run_in_threadpool

from app.server.schema import READ_ERRORS, SpaceId
from app.server.team_routes import Caller, Spaces
from app.spaces.backends import Backends
from app.spaces.roles import Action, require
from app.spaces.run_records import space_runs

RUNS_MAX = 200
# The server's thread status, in the words of ``spaces runs`` (app/runs.py);
# ``idle``: a chat session between turns.
LIVE = {"busy": "running", "interrupted": "awaiting_approval", "error": "failed", "idle": "idle"}
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
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError

    client, found = get_client(), {}
    for thread_id in thread_ids:
        try:
            found[thread_id] = (await client.threads.get(thread_id))["status"]
        except NotFoundError:  # a CLI run's thread: the server never had it
            continue
    return found


@runs_router.get("/spaces/{space_id}/runs")
async def list_space_runs(
    space_id: SpaceId,
    request: Request,
    user: Caller,
    spaces: Spaces,
    limit: Annotated[int, Query(ge=1, le=RUNS_MAX)] = 50,
) -> list[dict[str, Any]]:
    """Every run of the space, whoever started it (any member), newest first."""
    access = await run_in_threadpool(require, spaces, space_id, user, Action.READ)
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
