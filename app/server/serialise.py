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
  been inserted yet (two requests at the same moment): 409;
- a resume (``command.resume``) on a thread that no longer waits for an
  answer (its approval was answered and that run has ended): 409.

On Aegra the checks are one SQL statement, so they see one snapshot: as two
statements, a run committed between them was seen neither as busy nor as
having used its claim, and a second of five simultaneous resumes was let in.

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


NOT_WAITING = "the thread is not waiting for an answer: its approval was already answered"
BUSY = "the thread is busy: wait for its run to finish"


async def check_thread_dev(thread_id: str, user: str, *, resume: bool = False) -> None:
    """On ``langgraph dev``: admit a run on the caller's idle thread, or :class:`ThreadRefused`.

    ``resume``: the run answers an interrupt, so the thread must be waiting for one.
    """
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
            raise ThreadRefused(409, BUSY)
        now = datetime.now(UTC)
        claimed = _dev.claimed_at.get(thread_id)
        if claimed is not None and now - claimed < timedelta(seconds=CLAIM_TTL_S):
            latest = await client.runs.list(thread_id, limit=1)
            created = [datetime.fromisoformat(str(r["created_at"])) for r in latest]
            if not any(c >= claimed for c in created):
                raise ThreadRefused(409, BUSY)
        if resume and thread.get("status") != "interrupted":
            raise ThreadRefused(409, NOT_WAITING)
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


async def claim_run(database_url: str, thread_id: str, user: str, *, resume: bool = False) -> None:
    """Admit one new run on ``thread_id`` for ``user`` or raise :class:`ThreadRefused`.

    ``resume``: the run answers an interrupt, so the thread must be waiting for one.
    """
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
            # One statement, one snapshot (see the module's docstring).
            row = await (
                await conn.execute(
                    sql.SQL(
                        "SELECT t.user_id, t.status,"
                        " EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id"
                        " AND r.status IN ('pending', 'running')),"
                        " EXISTS (SELECT 1 FROM {} c WHERE c.thread_id = t.thread_id"
                        " AND c.claimed_at > clock_timestamp() - make_interval(secs => %s)"
                        " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = c.thread_id"
                        " AND r.created_at >= c.claimed_at))"
                        " FROM thread t WHERE t.thread_id = %s"
                    ).format(CLAIMS_TABLE),
                    (CLAIM_TTL_S, thread_id),
                )
            ).fetchone()
            if row is None or row[0] != user:
                raise ThreadRefused(404, f"Thread '{thread_id}' not found")
            _, status, busy, claimed = row
            if busy or claimed:
                raise ThreadRefused(409, BUSY)
            if resume and status != "interrupted":
                raise ThreadRefused(409, NOT_WAITING)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (thread_id, claimed_at) VALUES (%s, clock_timestamp())"
                    " ON CONFLICT (thread_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at"
                ).format(CLAIMS_TABLE),
                (thread_id,),
            )
