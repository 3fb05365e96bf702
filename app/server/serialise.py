"""One run at a time per thread, and no thread of another user revealed, on both servers.

``langgraph dev`` queues a second run on a busy thread (its default
``multitask_strategy`` is ``enqueue``), so a second resume of one approval
runs after the first against a thread that no longer waits. Aegra ignores
``multitask_strategy`` and runs every request at once, which forks the
thread. Aegra also creates a thread when a run names a missing one, but
answers 404 for another user's: that reveals which ids exist.

The auth handler's ``threads.create_run`` hook runs before either server
inserts the run. On ``langgraph dev`` :func:`check_thread_dev` reads the
thread through the server's in-process client: 404 unless the caller owns
it, 409 while it is busy or claimed by a request whose run is not inserted
yet (one process: a lock and a table in memory). On Aegra :func:`claim_run` answers from
Aegra's own tables, in the same Postgres, under a per-thread advisory lock:

- a thread that is missing or someone else's: 404, the same answer for both;
- a thread with a pending or running run: 409;
- a thread claimed in the last :data:`CLAIM_TTL_S` seconds whose run has not
  been inserted yet (two requests at the same moment): 409.

The claim is a row in ``spaces_thread_claims``; it counts only until a run
of the thread is created after it, so finished runs never block the next.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

CLAIM_TTL_S = 30
CLAIMS_TABLE = sql.Identifier("spaces_thread_claims")


class _DevClaims:
    """Threads admitted in this process whose run is not inserted yet (``langgraph dev``).

    The dev server is one process, so one lock and one table in memory
    serialise its hooks; Aegra's instances use Postgres instead.
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.claimed_at: dict[str, datetime] = {}


_dev = _DevClaims()


async def check_thread_dev(thread_id: str, user: str) -> None:
    """On ``langgraph dev``: admit a run on the caller's idle thread, or :class:`ThreadRefused`."""
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError

    client = get_client()
    async with _dev.lock:
        try:
            thread = await client.threads.get(thread_id)
        except NotFoundError:
            thread = None
        if thread is None or (thread.get("metadata") or {}).get("owner") != user:
            raise ThreadRefused(404, f"Thread '{thread_id}' not found")
        if thread.get("status") == "busy":
            raise ThreadRefused(409, "the thread is busy: wait for its run to finish")
        now = datetime.now(UTC)
        claimed = _dev.claimed_at.get(thread_id)
        if claimed is not None and now - claimed < timedelta(seconds=CLAIM_TTL_S):
            latest = await client.runs.list(thread_id, limit=1)
            created = [datetime.fromisoformat(str(r["created_at"])) for r in latest]
            if not any(c >= claimed for c in created):
                raise ThreadRefused(409, "the thread is busy: wait for its run to finish")
        _dev.claimed_at[thread_id] = now
        for old in [t for t, at in _dev.claimed_at.items() if now - at > timedelta(hours=1)]:
            del _dev.claimed_at[old]


class ThreadRefused(Exception):
    """A run the thread cannot take now: ``status`` is 404 or 409."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def libpq_url(url: str) -> str:
    """``DATABASE_URL`` as psycopg takes it (Aegra also accepts ``postgresql+asyncpg://``)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url


async def claim_run(database_url: str, thread_id: str, user: str) -> None:
    """Admit one new run on ``thread_id`` for ``user`` or raise :class:`ThreadRefused`."""
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('spaces_thread_claims'))")
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (thread_id text PRIMARY KEY,"
                    " claimed_at timestamptz NOT NULL)"
                ).format(CLAIMS_TABLE)
            )
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (thread_id,)
            )
            owner = await (
                await conn.execute("SELECT user_id FROM thread WHERE thread_id = %s", (thread_id,))
            ).fetchone()
            if owner is None or owner[0] != user:
                raise ThreadRefused(404, f"Thread '{thread_id}' not found")
            busy = await (
                await conn.execute(
                    "SELECT 1 FROM runs WHERE thread_id = %s AND status IN ('pending', 'running')"
                    " LIMIT 1",
                    (thread_id,),
                )
            ).fetchone()
            claimed = await (
                await conn.execute(
                    sql.SQL(
                        "SELECT 1 FROM {} c WHERE c.thread_id = %s"
                        " AND c.claimed_at > clock_timestamp() - make_interval(secs => %s)"
                        " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = c.thread_id"
                        " AND r.created_at >= c.claimed_at)"
                    ).format(CLAIMS_TABLE),
                    (thread_id, CLAIM_TTL_S),
                )
            ).fetchone()
            if busy or claimed:
                raise ThreadRefused(409, "the thread is busy: wait for its run to finish")
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (thread_id, claimed_at) VALUES (%s, clock_timestamp())"
                    " ON CONFLICT (thread_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at"
                ).format(CLAIMS_TABLE),
                (thread_id,),
            )
