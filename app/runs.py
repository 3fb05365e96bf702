"""Finding runs again: a space's runs with their status, and the last one to resume.

A run is known by three records: the registry's ``threads`` row (space,
user, graph, start time), written by the graph's first node; its last
LangGraph checkpoint (query, pending approval, next node); and, while a
process drives it, the advisory lock ``spaces-run:<thread>`` that
``Runner`` holds. Together they give the status a person needs:

- ``running``: a process holds the thread's lock now;
- ``awaiting_approval``: stopped at an approval (plan or tool call);
- ``interrupted``: stopped mid-way with no one driving it (the process was
  killed, or a store or the model failed); ``spaces resume`` continues it;
- ``completed``, ``failed``, ``rejected``, ``budget_exceeded``: finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import sql

from app.errors import InvalidInput
from app.ids import validate_space_id, validate_user_id
from app.spaces.access.roles import Action, allowed, require, role_of
from app.spaces.infra.backends import Backends
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.run_records import imported_runs

if TYPE_CHECKING:  # the runner pulls in LangGraph and the graphs
    from app.runner import Runner

# The lock key Runner._thread_lock takes (tests hold the runner's lock and check
# that a listing sees it, so the two cannot drift apart unnoticed).
RUN_LOCK_PREFIX = "spaces-run:"
FINISHED = ("completed", "failed", "rejected", "budget_exceeded")
RESUMABLE = ("awaiting_approval", "interrupted")
STATUSES = ("running", *RESUMABLE, *FINISHED)
LIST_MAX = 1_000
# The graphs a Runner drives; chat sessions are threads too, listed by `spaces sessions`.
RUN_GRAPHS = ["rpi", "research"]


@dataclass(frozen=True)
class RunInfo:
    """One run of a space, as ``spaces runs`` shows it."""

    thread_id: str
    space_id: str
    user_id: str
    graph: str
    status: str
    started_at: datetime
    query: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "started_at": self.started_at.isoformat()}


def run_status(snapshot: Any, locked: bool) -> str:
    """The status of a run from its last checkpoint and whether a process drives it."""
    if locked:
        return "running"
    if snapshot.interrupts:
        return "awaiting_approval"
    if snapshot.next or snapshot.tasks:  # tasks alone: a step that was never checkpointed
        return "interrupted"
    status = (snapshot.values or {}).get("status")
    return status if status in FINISHED else "failed"


def _locked(backends: Backends, thread_ids: list[str]) -> set[str]:
    """The threads whose run lock some session holds now (read from ``pg_locks``).

    ``pg_advisory_lock(bigint)`` shows up with the key's high half in
    ``classid`` and its low half in ``objid``; reading the view takes no lock,
    so listing never gets in the way of a run starting.
    """
    if not thread_ids:
        return set()
    query = (
        "SELECT t FROM unnest(%s::text[]) AS t WHERE EXISTS (SELECT 1 FROM pg_locks l "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid = ((hashtext(%s || t)::bigint >> 32) & 4294967295)::oid "
        "AND l.objid = (hashtext(%s || t)::bigint & 4294967295)::oid)"
    )
    with backends.pool.connection() as conn:
        rows = conn.execute(query, [thread_ids, RUN_LOCK_PREFIX, RUN_LOCK_PREFIX]).fetchall()
    return {row[0] for row in rows}


def list_runs(
    runner: Runner,
    space_id: str,
    *,
    user_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    mine: bool = False,
) -> list[RunInfo]:
    """The space's runs as ``user_id`` (default: the space's owner) may see them, newest first.

    Any member reads every member's runs (``roles.RULE``); ``mine`` keeps
    only the user's own. A non-member is refused exactly as for a space that
    does not exist (``SpaceNotFound``), and the refusal is audited.
    Checkpoints are read through the runner's own compiled graphs, so a
    listing sees a run exactly as ``runner.resume`` would.
    """
    backends = runner.backends
    validate_space_id(space_id)
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status[:40]!r}: use one of {', '.join(STATUSES)}")
    if not 1 <= limit <= LIST_MAX:
        raise InvalidInput(f"limit must be 1 to {LIST_MAX}")
    manager = SpaceManager(runner.settings, backends)
    user = validate_user_id(
        user_id if user_id is not None else manager.get_space(space_id).owner_id
    )
    access = require(manager, space_id, user, Action.READ)
    with backends.pool.connection() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT thread_id, user_id, graph, created_at FROM {}.threads "
                "WHERE space_id = %s AND (NOT %s OR user_id = %s) AND graph = ANY(%s) "
                "ORDER BY created_at DESC, thread_id LIMIT %s"
            ).format(sql.Identifier(REGISTRY_SCHEMA)),
            [space_id, mine, user, RUN_GRAPHS, LIST_MAX],
        ).fetchall()
    locked = _locked(backends, [row[0] for row in rows])
    graphs: dict[str, Any] = {}
    runs: list[RunInfo] = []
    for thread_id, owner, graph_name, started_at in rows:
        if graph_name not in graphs:  # the runner's graphs, compiled as resume has them
            graphs[graph_name] = runner._compiled(graph_name)
        snapshot = graphs[graph_name].get_state({"configurable": {"thread_id": thread_id}})
        found = run_status(snapshot, thread_id in locked)
        if status is not None and found != status:
            continue
        query = str((snapshot.values or {}).get("query") or "")
        runs.append(RunInfo(thread_id, space_id, owner, graph_name, found, started_at, query))
        if len(runs) == limit:
            break
    # Runs that came with an imported bundle: finished, as their records say
    # (their checkpoints stayed behind, so none of them can be resumed).
    for old in imported_runs(backends.pool, access.config.postgres_schema, space_id):
        found = old.status if old.status in FINISHED else "failed"
        if (status is None or found == status) and (not mine or old.user_id == user):
            query, started = old.query or "", old.started_at
            runs.append(
                RunInfo(old.thread_id, space_id, old.user_id, old.graph, found, started, query)
            )
    runs.sort(key=lambda run: (run.started_at, run.thread_id), reverse=True)
    return runs[:limit]


def last_resumable(runner: Runner, space_id: str, *, user_id: str | None = None) -> RunInfo:
    """The most recent run of the space that ``user_id`` (default: the owner) may resume.

    That is their own run that waits or was interrupted, or, when their role
    may answer approvals (``roles.RULE``: operators and admins), anyone's
    run that waits for an approval, as ``spaces resume THREAD`` would let
    them answer it. Someone else's interrupted run is left to its user.
    """
    manager = SpaceManager(runner.settings, runner.backends)
    user = validate_user_id(
        user_id if user_id is not None else manager.get_space(space_id).owner_id
    )
    may_answer = allowed(role_of(runner.backends.pool, space_id, user), Action.APPROVE)
    runs = list_runs(runner, space_id, user_id=user, limit=LIST_MAX, mine=not may_answer)
    for run in runs:
        if (run.user_id == user and run.status in RESUMABLE) or run.status == "awaiting_approval":
            return run
    raise InvalidInput(f"no run waiting for approval or interrupted in space {space_id!r}")
