"""Chat sessions of a space: sessions, their messages, the tasks of each turn, archives.

Everything is in the space's own schema (through ``SpacePostgres``), so a
session of one space cannot be named from another. A session belongs to the
user who opened it; another user of the same space (there is none today, but
a session id could be guessed) gets "no session", like a missing one.
Writes are upserts keyed by ``(session, turn, ...)``, so a node re-run after
a crash changes nothing. Compaction moves raw turns into
``conversation_archives`` in the same transaction that writes their summary,
so a turn is never in neither place.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from app.errors import SpaceNotFound
from app.ids import validate_thread_id
from app.spaces.infra.postgres import SpacePostgres
from app.spaces.stores.run_records import get_thread

TITLE_MAX = 80
LIST_MAX = 1_000


def check_session(pool: ConnectionPool, space_id: str, user_id: str, session_id: str) -> None:
    """Refuse a session id that is a thread of another space, user or graph ("no session").

    A session id not yet used anywhere passes: its first turn claims it.
    """
    validate_thread_id(session_id)
    record = get_thread(pool, session_id)
    if record is not None and (record.space_id, record.user_id, record.graph) != (
        space_id, user_id, "chat",
    ):  # fmt: skip
        raise SpaceNotFound(f"no session {session_id!r}")


class ChatStore:
    """Sessions, messages, tasks and archives of one space."""

    def __init__(self, pg: SpacePostgres):
        self.pg = pg

    def _all(self, query: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.pg.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def open_session(self, session_id: str, user_id: str, title: str = "") -> dict[str, Any]:
        """Create the session if new; refuse one that is another user's."""
        validate_thread_id(session_id)
        with self.pg.connection() as conn:
            conn.execute(
                "INSERT INTO sessions (session_id, user_id, title) VALUES (%s, %s, %s) "
                "ON CONFLICT (session_id) DO NOTHING",
                [session_id, user_id, " ".join(title.split())[:TITLE_MAX]],
            )
        return self.session(session_id, user_id)

    def session(self, session_id: str, user_id: str) -> dict[str, Any]:
        """The session's record if ``user_id`` owns it, else ``SpaceNotFound``."""
        validate_thread_id(session_id)
        rows = self._all(
            "SELECT session_id, user_id, title, created_at, updated_at FROM sessions "
            "WHERE session_id = %s AND user_id = %s",
            [session_id, user_id],
        )
        if not rows:
            raise SpaceNotFound(f"no session {session_id!r}")
        return rows[0]

    def sessions(self, user_id: str) -> list[dict[str, Any]]:
        """The user's sessions in this space, newest first, with their message counts."""
        return self._all(
            "SELECT s.session_id, s.title, s.created_at, s.updated_at, "
            "(SELECT count(*) FROM messages m WHERE m.session_id = s.session_id) AS messages "
            "FROM sessions s WHERE s.user_id = %s ORDER BY s.updated_at DESC LIMIT %s",
            [user_id, LIST_MAX],
        )

    def add_message(
        self,
        session_id: str,
        turn: int,
        role: str,
        content: str,
        *,
        agent_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Store one message of a turn (again: replaced in place)."""
        with self.pg.connection() as conn:
            conn.execute(
                "INSERT INTO messages (session_id, turn, role, agent_id, content, meta) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, turn, role) "
                "DO UPDATE SET agent_id = EXCLUDED.agent_id, content = EXCLUDED.content, "
                "meta = EXCLUDED.meta",
                [session_id, turn, role, agent_id, content, Jsonb(meta or {})],
            )
            conn.execute(
                "UPDATE sessions SET updated_at = now() WHERE session_id = %s", [session_id]
            )

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session's history as it stands (a summary first, once compacted)."""
        return self._all(
            "SELECT id, turn, role, agent_id, content, meta, created_at FROM messages "
            "WHERE session_id = %s ORDER BY turn, id",
            [session_id],
        )

    def next_turn(self, session_id: str) -> int:
        """The number of the session's next turn (archived turns count)."""
        rows = self._all(
            "SELECT greatest((SELECT max(turn) FROM messages WHERE session_id = %s), "
            "(SELECT max(last_turn) FROM conversation_archives WHERE session_id = %s)) AS t",
            [session_id, session_id],
        )
        return (rows[0]["t"] or 0) + 1

    def save_task(self, session_id: str, turn: int, task: dict[str, Any]) -> None:
        """Record a task of a turn as it stands (planned, running, finished)."""
        with self.pg.connection() as conn:
            conn.execute(
                "INSERT INTO tasks (session_id, turn, task_id, agent, agent_id, description, "
                "depends_on, status, result, error, estimated_tokens, estimated_cost_usd, "
                "estimated_seconds, started_at, finished_at) VALUES (%s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s, %s, "
                "CASE WHEN %s IN ('running', 'completed', 'failed') THEN now() END, "
                "CASE WHEN %s IN ('completed', 'failed') THEN now() END) "
                "ON CONFLICT (session_id, turn, task_id) DO UPDATE SET status = EXCLUDED.status, "
                "agent_id = EXCLUDED.agent_id, result = EXCLUDED.result, error = EXCLUDED.error, "
                "started_at = coalesce(tasks.started_at, EXCLUDED.started_at), "
                "finished_at = EXCLUDED.finished_at",
                [
                    session_id, turn, task["id"], task["agent"], task.get("agent_id"),
                    task["description"], Jsonb(task.get("depends_on") or []), task["status"],
                    task.get("result"), task.get("error"), task.get("estimated_tokens", 0),
                    task.get("estimated_cost_usd", 0), task.get("estimated_seconds", 0),
                    task["status"], task["status"],
                ],
            )  # fmt: skip

    def tasks(self, session_id: str) -> list[dict[str, Any]]:
        """Every task of the session, by turn and id."""
        rows = self._all(
            "SELECT turn, task_id, agent, agent_id, description, depends_on, status, result, "
            "error, estimated_tokens, estimated_cost_usd::float AS estimated_cost_usd, "
            "estimated_seconds::float AS estimated_seconds, started_at, finished_at "
            "FROM tasks WHERE session_id = %s ORDER BY turn, task_id",
            [session_id],
        )
        return rows

    def archive(
        self, session_id: str, kind: str, turns: list[dict[str, Any]], summary: str | None
    ) -> None:
        """Move ``turns`` (message rows) into an archive; write ``summary`` in their place."""
        ids = [m["id"] for m in turns]
        first, last = min(m["turn"] for m in turns), max(m["turn"] for m in turns)
        raw = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in m.items()}
            for m in turns
        ]
        with self.pg.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO conversation_archives (session_id, kind, first_turn, last_turn, "
                "turns, summary) VALUES (%s, %s, %s, %s, %s, %s)",
                [session_id, kind, first, last, Jsonb(raw), summary],
            )
            conn.execute(
                "DELETE FROM messages WHERE session_id = %s AND id = ANY(%s)", [session_id, ids]
            )
            if summary is not None:
                conn.execute(
                    "INSERT INTO messages (session_id, turn, role, content, meta) "
                    "VALUES (%s, %s, 'summary', %s, %s)",
                    [session_id, last, summary, Jsonb({"first_turn": first, "last_turn": last})],
                )

    def archives(self, session_id: str) -> list[dict[str, Any]]:
        """The session's archived raw turns, oldest first."""
        return self._all(
            "SELECT id, kind, first_turn, last_turn, turns, summary, created_at "
            "FROM conversation_archives WHERE session_id = %s ORDER BY id",
            [session_id],
        )

    def session_detail(self, session_id: str, user_id: str) -> dict[str, Any]:
        """The session with its messages, tasks and archives (``SpaceNotFound`` if not owned)."""
        record = self.session(session_id, user_id)
        return {
            **record,
            "messages": self.messages(session_id),
            "tasks": self.tasks(session_id),
            "archives": self.archives(session_id),
        }
