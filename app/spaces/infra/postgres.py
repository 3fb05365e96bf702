"""Space Postgres: connections whose ``search_path`` is pinned to one space's schema.

Code that works inside a space gets a ``SpacePostgres`` and writes unqualified
table names; they resolve to that space's schema and nowhere else. For an
archived space the session is read-only, so a write fails in the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool


class SpacePostgres:
    """Borrow pooled connections scoped to ``schema``; see ``connection``."""

    def __init__(self, pool: ConnectionPool, schema: str, *, writable: bool):
        self._pool = pool
        self.schema = schema
        self.writable = writable

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection with ``search_path`` set to the space schema only.

        The pool runs ``RESET ALL`` when the connection comes back, so the
        setting never leaks to the next borrower.
        """
        with self._pool.connection() as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            if not self.writable:
                conn.execute("SET default_transaction_read_only = on")
            yield conn
