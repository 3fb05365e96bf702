"""Monthly token budgets that hold under concurrency, and runs that are admitted whole.

A run holds its whole estimate when it is admitted (``hold_run``): a run the
space cannot afford is refused before it spends a token, and a run that was
admitted can be afforded to its end, so concurrent runs do not all start and
then stop half-way. Before a model call, ``reserve`` moves the call's
estimate from the run's hold into a call hold (or, past the run's hold, takes
it from what the space has left); after it, ``settle`` replaces the call hold
by the real usage and gives the unused part back to the run, in one
transaction. Checks against the space's total happen under a row lock on its
usage row, so two runs cannot both take the last tokens: a space overspends
only by what a call used beyond its estimate. Holds expire, so a process
killed mid-call or mid-run does not lock the budget forever; ``release_run``
frees a run's hold when it ends. Drawing a call's hold and giving holds back
run in psycopg's pipeline mode (statements go out together, with a wait only
where a result is read), and the per-call bookkeeping commits without waiting
for the WAL flush (``_no_flush_wait``): it is on every model call's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from app.errors import BudgetExceeded
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig, current_month

R = sql.Identifier(REGISTRY_SCHEMA)
# Longer than the slowest call: a chain of 3 models x (1 try + 2 retries) x 120 s timeout.
HOLD_TTL_S = 3_600


@dataclass(frozen=True)
class Hold:
    """Tokens reserved for one call in flight; ``thread_id`` if drawn from a run's hold."""

    hold_id: str
    space_id: str
    month: str
    tokens: int
    thread_id: str | None = None


def _no_flush_wait(conn: psycopg.Connection) -> None:
    """Commit this transaction without waiting for its WAL flush (about 8 ms here).

    Safe for budget bookkeeping: WAL is written in order, so a later
    synchronous commit (the run's records, ``Backends.flush_wal`` when a run
    stops) flushes it too, and a crash of Postgres that loses it also loses
    the checkpoints after it, so the node that spent the tokens re-runs and
    records them again under the same keys. A crash of our process loses nothing.
    """
    conn.execute("SET LOCAL synchronous_commit = off")


def add_usage(
    conn: psycopg.Connection,
    space_id: str,
    month: str,
    tokens: int,
    api_calls: int,
    cost_usd: float,
    *,
    idempotency_key: str | None = None,
    thread_id: str | None = None,
) -> tuple[int, int, float] | None:
    """Add usage to the month's totals in the caller's transaction; return the new totals.

    Returns None (and adds nothing) when ``idempotency_key`` was seen before,
    so a node that re-runs after a crash does not count its calls twice.
    """
    cost = Decimal(str(cost_usd))
    if idempotency_key is not None:
        fresh = conn.execute(
            sql.SQL(
                "INSERT INTO {}.space_usage_events "
                "(idempotency_key, space_id, month, tokens, api_calls, cost_usd, thread_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(R),
            [idempotency_key, space_id, month, tokens, api_calls, cost, thread_id],
        ).rowcount
        if not fresh:
            return None
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {r}.space_usage AS u "
            "(space_id, month, tokens_used, api_calls_used, cost_usd) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (space_id, month) DO UPDATE SET "
            "tokens_used = u.tokens_used + EXCLUDED.tokens_used, "
            "api_calls_used = u.api_calls_used + EXCLUDED.api_calls_used, "
            "cost_usd = u.cost_usd + EXCLUDED.cost_usd "
            "RETURNING tokens_used, api_calls_used, cost_usd"
        ).format(r=R),
        [space_id, month, tokens, api_calls, cost],
    ).fetchone()
    return int(row[0]), int(row[1]), float(row[2])


class SpaceBudget:
    """Reserve, settle and release token holds for one space."""

    def __init__(self, pool: ConnectionPool, config: SpaceConfig):
        self._pool = pool
        self.config = config

    def remaining(self) -> int:
        """Tokens left this month after usage and live holds (never negative)."""
        month = current_month()
        with self._pool.connection() as conn:
            used, held = self._totals(conn, month)
        return max(0, self.config.monthly_token_budget - used - held)

    def _totals(self, conn: psycopg.Connection, month: str) -> tuple[int, int]:
        row = conn.execute(
            sql.SQL(
                "SELECT COALESCE((SELECT tokens_used FROM {r}.space_usage "
                "WHERE space_id = %s AND month = %s), 0), "
                "COALESCE((SELECT sum(tokens) FROM {r}.budget_holds "
                "WHERE space_id = %s AND month = %s AND expires_at > now()), 0)"
            ).format(r=R),
            [self.config.space_id, month, self.config.space_id, month],
        ).fetchone()
        return int(row[0]), int(row[1])

    def reserve(self, tokens: int, *, thread_id: str | None = None) -> Hold:
        """Hold ``tokens`` for a call, or raise ``BudgetExceeded``.

        A call of a run whose hold still covers it moves its estimate out of
        that hold in one statement; otherwise the tokens must be free in the
        space, checked under the usage row's lock.
        """
        space_id, month = self.config.space_id, current_month()
        if thread_id is not None:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                _no_flush_wait(conn)
                drawn = conn.execute(
                    sql.SQL(
                        "WITH drawn AS (UPDATE {r}.budget_holds SET tokens = tokens - %(t)s "
                        "WHERE thread_id = %(thread)s AND space_id = %(space)s "
                        "AND tokens >= %(t)s AND expires_at > now() RETURNING month) "
                        "INSERT INTO {r}.budget_holds (space_id, month, tokens, expires_at) "
                        "SELECT %(space)s, month, %(t)s, now() + make_interval(secs => %(ttl)s) "
                        "FROM drawn RETURNING hold_id, month"
                    ).format(r=R),
                    {"t": tokens, "thread": thread_id, "space": space_id, "ttl": HOLD_TTL_S},
                ).fetchone()
            if drawn is not None:
                return Hold(str(drawn[0]), space_id, drawn[1], tokens, thread_id)
        with self._pool.connection() as conn, conn.transaction():
            _no_flush_wait(conn)
            self._lock_month(conn, month)  # the usage row is the lock of every reservation
            used, held = self._totals(conn, month)
            left = self.config.monthly_token_budget - used - held
            if left < tokens:
                raise BudgetExceeded(
                    f"space {space_id!r} has {max(0, left)} tokens left this month; "
                    f"this call needs about {tokens}"
                )
            hold_id = conn.execute(
                sql.SQL(
                    "INSERT INTO {}.budget_holds (space_id, month, tokens, expires_at) "
                    "VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING hold_id"
                ).format(R),
                [space_id, month, tokens, HOLD_TTL_S],
            ).fetchone()[0]
        return Hold(str(hold_id), space_id, month, tokens)

    def settle(
        self,
        hold: Hold,
        tokens: int,
        cost_usd: float,
        *,
        idempotency_key: str,
        thread_id: str | None,
    ) -> tuple[int, int, float]:
        """Replace the hold by what the call really used, atomically and once.

        The part of the estimate the call did not use goes back to the run's
        hold it came from. Returns the space's month totals (tokens, calls, cost).
        """
        # Not in pipeline mode: ``add_usage`` reads the event insert's rowcount, which a
        # pipeline may not report before a sync (a repeated call was counted twice).
        with self._pool.connection() as conn, conn.transaction():
            _no_flush_wait(conn)
            self._drop(conn, hold)
            if hold.thread_id is not None and tokens < hold.tokens:
                conn.execute(
                    sql.SQL(
                        "UPDATE {}.budget_holds SET tokens = tokens + %s "
                        "WHERE thread_id = %s AND space_id = %s"
                    ).format(R),
                    [hold.tokens - tokens, hold.thread_id, hold.space_id],
                )
            totals = add_usage(
                conn,
                hold.space_id,
                hold.month,
                tokens,
                1,
                cost_usd,
                idempotency_key=idempotency_key,
                thread_id=thread_id,
            )
            return totals or self._month_totals(conn, hold.month)

    def _month_totals(self, conn: psycopg.Connection, month: str) -> tuple[int, int, float]:
        row = conn.execute(
            sql.SQL(
                "SELECT tokens_used, api_calls_used, cost_usd FROM {}.space_usage "
                "WHERE space_id = %s AND month = %s"
            ).format(R),
            [self.config.space_id, month],
        ).fetchone()
        return (int(row[0]), int(row[1]), float(row[2])) if row else (0, 0, 0.0)

    def release(self, hold: Hold) -> None:
        """Give a call hold back (the call failed before using anything we can count)."""
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            _no_flush_wait(conn)
            self._drop(conn, hold)
            if hold.thread_id is not None:
                conn.execute(
                    sql.SQL(
                        "UPDATE {}.budget_holds SET tokens = tokens + %s "
                        "WHERE thread_id = %s AND space_id = %s"
                    ).format(R),
                    [hold.tokens, hold.thread_id, hold.space_id],
                )

    # -- whole runs ---------------------------------------------------------------------------
    def hold_run(self, thread_id: str, tokens: int, graph: str) -> bool:
        """Hold a run's whole estimate, or raise ``BudgetExceeded`` before it spends anything.

        Idempotent per thread: a run that already holds (a resumed run, or
        ``research`` inside ``rpi``) keeps its hold, with a fresh expiry.
        Returns whether this call took the hold.
        """
        space_id, month = self.config.space_id, current_month()
        with self._pool.connection() as conn, conn.transaction():
            _no_flush_wait(conn)
            self._lock_month(conn, month)
            kept = conn.execute(
                sql.SQL(
                    "UPDATE {}.budget_holds SET expires_at = now() + make_interval(secs => %s) "
                    "WHERE thread_id = %s AND space_id = %s AND expires_at > now() RETURNING 1"
                ).format(R),
                [HOLD_TTL_S, thread_id, space_id],
            ).fetchone()
            if kept:
                return False
            self._drop_run(conn, thread_id)  # an expired hold of this run
            used, held = self._totals(conn, month)
            left = self.config.monthly_token_budget - used - held
            if left < tokens:
                raise BudgetExceeded(
                    f"space {space_id!r} has {max(0, left)} tokens left this month; "
                    f"this run needs up to {tokens}"
                )
            self._insert_run(conn, month, thread_id, tokens, graph)
        return True

    def resize_run(self, thread_id: str, tokens: int) -> None:
        """Set a run's hold to ``tokens`` (its estimate once the plan is known).

        Growing it needs the difference free in the space, or ``BudgetExceeded``;
        a run with no live hold (it waited past the expiry) takes a new one.
        """
        space_id, month = self.config.space_id, current_month()
        with self._pool.connection() as conn, conn.transaction():
            _no_flush_wait(conn)
            self._lock_month(conn, month)
            row = conn.execute(
                sql.SQL(
                    "SELECT tokens, graph FROM {}.budget_holds WHERE thread_id = %s "
                    "AND space_id = %s AND expires_at > now()"
                ).format(R),
                [thread_id, space_id],
            ).fetchone()
            held_now = int(row[0]) if row else 0
            used, held = self._totals(conn, month)
            left = self.config.monthly_token_budget - used - held
            if tokens - held_now > left:
                raise BudgetExceeded(
                    f"space {space_id!r} has {max(0, left)} tokens left this month; "
                    f"the approved plan needs up to {tokens - held_now} more"
                )
            self._drop_run(conn, thread_id)
            self._insert_run(conn, month, thread_id, tokens, row[1] if row else "rpi")

    def release_run(self, thread_id: str, graph: str) -> None:
        """Free the hold ``graph`` took for this run (its unused tokens go back to the space)."""
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            _no_flush_wait(conn)
            conn.execute(
                sql.SQL(
                    "DELETE FROM {}.budget_holds WHERE thread_id = %s AND space_id = %s "
                    "AND graph = %s"
                ).format(R),
                [thread_id, self.config.space_id, graph],
            )

    def _insert_run(
        self, conn: psycopg.Connection, month: str, thread_id: str, tokens: int, graph: str
    ) -> None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.budget_holds (space_id, month, tokens, expires_at, thread_id, "
                "graph) VALUES (%s, %s, %s, now() + make_interval(secs => %s), %s, %s)"
            ).format(R),
            [self.config.space_id, month, tokens, HOLD_TTL_S, thread_id, graph],
        )

    def _drop_run(self, conn: psycopg.Connection, thread_id: str) -> None:
        conn.execute(
            sql.SQL("DELETE FROM {}.budget_holds WHERE thread_id = %s AND space_id = %s").format(R),
            [thread_id, self.config.space_id],
        )

    def _lock_month(self, conn: psycopg.Connection, month: str) -> None:
        """Take the lock every reservation of this space and month takes."""
        space_id = self.config.space_id
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.space_usage (space_id, month) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING"
            ).format(R),
            [space_id, month],
        )
        conn.execute(
            sql.SQL(
                "SELECT 1 FROM {}.space_usage WHERE space_id = %s AND month = %s FOR UPDATE"
            ).format(R),
            [space_id, month],
        )

    @staticmethod
    def _drop(conn: psycopg.Connection, hold: Hold) -> None:
        conn.execute(
            sql.SQL("DELETE FROM {}.budget_holds WHERE hold_id = %s").format(R), [hold.hold_id]
        )


def thread_totals(pool: ConnectionPool, thread_id: str) -> tuple[int, float]:
    """Tokens and cost recorded for one run (thread)."""
    with pool.connection() as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT COALESCE(sum(tokens), 0), COALESCE(sum(cost_usd), 0) "
                "FROM {}.space_usage_events WHERE thread_id = %s"
            ).format(R),
            [thread_id],
        ).fetchone()
    return int(row[0]), float(row[1])
