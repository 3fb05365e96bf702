"""Records of runs: which space and user own a thread, and each run's results.

The registry's ``threads`` table answers "whose run is this?" before a
resume touches anything. Each space's own ``runs`` and ``artifacts`` tables
(in its schema, through ``SpacePostgres``) keep what a run produced. Every
write is an upsert, so a save that runs again after a crash changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from app.errors import InvalidInput
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.infra.postgres import SpacePostgres

R = sql.Identifier(REGISTRY_SCHEMA)


@dataclass(frozen=True)
class ThreadRecord:
    """The owner of a run thread."""

    thread_id: str
    space_id: str
    user_id: str
    graph: str


def register_thread(
    pool: ConnectionPool, thread_id: str, space_id: str, user_id: str, graph: str
) -> None:
    """Record who owns ``thread_id``; refuse a thread id already used by another run."""
    with pool.connection() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.threads (thread_id, space_id, user_id, graph) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (thread_id) DO NOTHING"
            ).format(R),
            [thread_id, space_id, user_id, graph],
        )
    found = get_thread(pool, thread_id)
    if found is None or (found.space_id, found.user_id) != (space_id, user_id):
        raise InvalidInput(f"thread id {thread_id!r} belongs to another run")


def get_thread(pool: ConnectionPool, thread_id: str) -> ThreadRecord | None:
    """The thread's owner record, or ``None``."""
    with pool.connection() as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT thread_id, space_id, user_id, graph FROM {}.threads WHERE thread_id = %s"
            ).format(R),
            [thread_id],
        ).fetchone()
    return ThreadRecord(*row) if row else None


def run_owner(pool: ConnectionPool, thread_id: str, default: str) -> str:
    """Who started the run on ``thread_id`` (``default`` for a thread not registered).

    The run's record names its owner even when an operator's answer drove
    the nodes that write it (the run then acts as the operator).
    """
    found = get_thread(pool, thread_id)
    return found.user_id if found else default


def upsert_run(
    db: SpacePostgres,
    *,
    thread_id: str,
    user_id: str,
    query: str,
    status: str,
    model: str | None,
    tokens_used: int,
    cost_usd: float,
    result: dict[str, Any],
    artifacts: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Create or update the space's record of this run, and its ``artifacts``, in one transaction.

    ``artifacts``: ``(kind, vault_path, content)``, one per kind (written
    again, it is replaced). The run's records commit without waiting for the
    WAL flush (``SpacePostgres.transaction``): they are on every run's path,
    and the runner flushes the WAL when the run stops.
    """
    with db.transaction(durable=False) as conn:
        conn.execute(
            "INSERT INTO runs (thread_id, user_id, query, status, model, tokens_used, cost_usd, "
            "result) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (thread_id) DO UPDATE "
            "SET status = EXCLUDED.status, model = EXCLUDED.model, "
            "tokens_used = EXCLUDED.tokens_used, cost_usd = EXCLUDED.cost_usd, "
            "result = EXCLUDED.result, updated_at = now()",
            [thread_id, user_id, query, status, model, tokens_used, cost_usd, json.dumps(result)],
        )
        for kind, vault_path, content in artifacts:
            digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
            conn.execute(
                "INSERT INTO artifacts (thread_id, kind, vault_path, content_sha256, metadata) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (thread_id, kind) DO UPDATE SET "
                "vault_path = EXCLUDED.vault_path, content_sha256 = EXCLUDED.content_sha256, "
                "metadata = EXCLUDED.metadata",
                [thread_id, kind, vault_path, digest, "{}"],
            )


@dataclass(frozen=True)
class SpaceRun:
    """One run thread of a space, whoever started it: what a member sees in the list."""

    thread_id: str
    user_id: str
    graph: str
    started_at: Any
    status: str | None  # the space's run record; ``None`` until the run has finished
    query: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "started_at": self.started_at.isoformat()}


# The space's own ``runs`` rows that no thread of the space in the registry
# names: runs that came with an imported bundle (``spaces import``). The bundle
# carries the records but not the LangGraph checkpoints, so these are finished
# runs, listed with their recorded status; only ``rpi`` writes ``runs`` rows.
_IMPORTED = (
    "SELECT r.thread_id, r.user_id, 'rpi', r.created_at, r.status, r.query FROM {s}.runs r "
    "WHERE NOT EXISTS (SELECT 1 FROM {r}.threads t "
    "WHERE t.thread_id = r.thread_id AND t.space_id = %s)"
)


def space_runs(pool: ConnectionPool, schema: str, space_id: str, limit: int) -> list[SpaceRun]:
    """The space's run threads of every member, newest first, with their recorded outcome.

    The caller has checked that the reader is a member (``roles.require``):
    every row here belongs to ``space_id`` (the registry's thread rows and the
    space's own ``runs`` table), so nothing of another space can appear. Runs
    imported with the space (:func:`imported_runs`) are listed among them.
    """
    with pool.connection() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT * FROM (SELECT t.thread_id, t.user_id, t.graph, t.created_at, r.status, "
                "r.query FROM {r}.threads t LEFT JOIN {s}.runs r ON r.thread_id = t.thread_id "
                "WHERE t.space_id = %s UNION ALL " + _IMPORTED + ") AS runs "
                "ORDER BY created_at DESC, thread_id LIMIT %s"
            ).format(r=R, s=sql.Identifier(schema)),
            [space_id, space_id, limit],
        ).fetchall()
    return [SpaceRun(*row) for row in rows]


def imported_runs(pool: ConnectionPool, schema: str, space_id: str) -> list[SpaceRun]:
    """The finished runs an imported bundle brought, newest first (see ``_IMPORTED``)."""
    with pool.connection() as conn:
        rows = conn.execute(
            sql.SQL(_IMPORTED + " ORDER BY r.created_at DESC, r.thread_id").format(
                r=R, s=sql.Identifier(schema)
            ),
            [space_id],
        ).fetchall()
    return [SpaceRun(*row) for row in rows]
