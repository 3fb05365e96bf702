"""Monthly token budgets that hold under concurrency.

Before a model call, ``reserve`` holds the call's estimated tokens against the
space's budget; after it, ``settle`` replaces the hold by the real usage in
the same transaction. The check and the hold happen under a row lock on the
space's usage row, so two runs cannot both take the last tokens: a space
overspends only by what a call used beyond its estimate. Holds expire, so a
process killed mid-call does not lock the budget forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from app.errors import BudgetExceeded
from app.spaces.migrations import REGISTRY_SCHEMA
from app.spaces.space_model import SpaceConfig, current_month

R = sql.Identifier(REGISTRY_SCHEMA)
# Longer than the slowest call: a chain of 3 models x (1 try + 2 retries) x 120 s timeout.
HOLD_TTL_S = 3_600


@dataclass(frozen=True)
class Hold:
    """Tokens reserved for one call in flight."""

    hold_id: str
    space_id: str
    month: str
    tokens: int


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
) -> bool:
    """Add usage to the month's totals in the caller's transaction.

    Returns False (and adds nothing) when ``idempotency_key`` was seen before,
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
            return False
    conn.execute(
        sql.SQL(
            "INSERT INTO {r}.space_usage AS u "
            "(space_id, month, tokens_used, api_calls_used, cost_usd) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (space_id, month) DO UPDATE SET "
            "tokens_used = u.tokens_used + EXCLUDED.tokens_used, "
            "api_calls_used = u.api_calls_used + EXCLUDED.api_calls_used, "
            "cost_usd = u.cost_usd + EXCLUDED.cost_usd"
        ).format(r=R),
        [space_id, month, tokens, api_calls, cost],
    )
    return True


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

    def reserve(self, tokens: int, *, reserve_after: int = 0) -> Hold:
        """Hold ``tokens`` for a call, or raise ``BudgetExceeded``.

        ``reserve_after`` tokens must stay free after the hold (a run's
        admission reserve); 0 for calls inside a run already admitted.
        """
        space_id, month = self.config.space_id, current_month()
        with self._pool.connection() as conn, conn.transaction():
            # The usage row is the lock every reservation of this space takes.
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
            used, held = self._totals(conn, month)
            left = self.config.monthly_token_budget - used - held
            if left - tokens < reserve_after:
                raise BudgetExceeded(
                    f"space {space_id!r} has {max(0, left)} tokens left this month; "
                    f"this call needs about {tokens}"
                    + (f" and runs keep a reserve of {reserve_after}" if reserve_after else "")
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
    ) -> None:
        """Replace the hold by what the call really used, atomically and once."""
        with self._pool.connection() as conn, conn.transaction():
            self._drop(conn, hold)
            add_usage(
                conn,
                hold.space_id,
                hold.month,
                tokens,
                1,
                cost_usd,
                idempotency_key=idempotency_key,
                thread_id=thread_id,
            )

    def release(self, hold: Hold) -> None:
        """Give a hold back (the call failed before using anything we can count)."""
        with self._pool.connection() as conn:
            self._drop(conn, hold)

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
