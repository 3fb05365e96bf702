"""The audit log: an append-only record, in each space's schema, of who did what.

Every write to a space (the space itself, its members, objects and versions,
runs, approvals, budget refusals) and every refused access attempt adds one
row: actor, action, target, time, request or run id, outcome. A trigger in
the schema refuses UPDATE, DELETE and TRUNCATE, so not even the application
can rewrite history. Rows written from graph nodes carry an idempotency key
derived from the thread, so a run resumed after a crash records nothing
twice. Writes go through the registry pool with the schema named by
``sql.Identifier``, so an archived space (read-only sessions) still records
the refusals it answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from app.errors import InvalidInput, StoreUnavailable
from app.ids import validate_user_id

OUTCOMES = ("ok", "refused", "failed")
TEXT_MAX = 500
READ_MAX = 10_000


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    request_id: str | None
    outcome: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON (time in ISO 8601)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def record(
    pool: ConnectionPool,
    schema: str,
    *,
    actor: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
    key: str | None = None,
) -> bool:
    """Append one entry; with ``key``, an entry already written under it is kept (False)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    row = [
        str(actor)[:TEXT_MAX], action, str(target)[:TEXT_MAX], request_id, outcome,
        json.dumps(detail or {}, default=str), key,
    ]  # fmt: skip
    try:
        with pool.connection() as conn:
            done = conn.execute(
                sql.SQL(
                    "INSERT INTO {}.audit_log "
                    "(actor, action, target, request_id, outcome, detail, idempotency_key) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING"
                ).format(sql.Identifier(schema)),
                row,
            ).rowcount
    except psycopg.Error as exc:
        raise StoreUnavailable("postgres", str(exc)) from exc
    return bool(done)


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time (``2026-11-23`` or ``2026-11-23T10:00:00+00:00``), or one error line."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        shown = value[:40]
        raise InvalidInput(f"--since must be an ISO 8601 date or time, not {shown!r}") from None


def read(
    pool: ConnectionPool,
    schema: str,
    *,
    since: datetime | None = None,
    actor: str | None = None,
    limit: int = 1_000,
    newest: bool = False,
) -> list[AuditEntry]:
    """Entries in time order, optionally from ``since`` and by one ``actor``.

    ``limit`` keeps the first entries from ``since`` (how REST pages
    forward), or with ``newest`` the last ones, as a person asking for "the
    last 20" means (``spaces audit --limit 20``); either way in time order.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= READ_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {READ_MAX}")
    query = sql.SQL(
        "SELECT id, at, actor, action, target, request_id, outcome, detail FROM {}.audit_log "
        "WHERE (%s::timestamptz IS NULL OR at >= %s::timestamptz) "
        "AND (%s::text IS NULL OR actor = %s) ORDER BY id {} LIMIT %s"
    ).format(sql.Identifier(schema), sql.SQL("DESC" if newest else "ASC"))
    if actor is not None:
        validate_user_id(actor)
    with pool.connection() as conn:
        rows = conn.execute(query, [since, since, actor, actor, limit]).fetchall()
    entries = [AuditEntry(*row) for row in rows]
    return entries[::-1] if newest else entries
