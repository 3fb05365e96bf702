"""Space Postgres: connections whose ``search_path`` is pinned to one space's schema.

Code that works inside a space gets a ``SpacePostgres`` and writes unqualified
table names; they resolve to that space's schema and nowhere else. For an
archived space the session is read-only, so a write fails in the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool


class SpacePostgres:
    """Borrow pooled connections scoped to ``schema``; see ``connection``."""

    def __init__(self, pool: ConnectionPool, schema: str, *, writable: bool):
        self._pool = pool
        self.schema = schema
        self.writable = writable

    def table(self, name: str) -> sql.Identifier:
        """``schema.name``, quoted: for a one-statement read on the plain pool.

        Setting and resetting ``search_path`` costs two round trips around a
        query that needs one; a read on every model call's path names its
        tables this way instead.
        """
        return sql.Identifier(self.schema, name)

    def plain(self) -> AbstractContextManager[psycopg.Connection]:
        """A pooled connection as it is (a context manager): for statements naming ``table()``s."""
        return self._pool.connection()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[psycopg.Connection]:
        """One pipelined transaction in the space's schema: the writes go out in one round trip.

        The settings are ``SET LOCAL``, so they end with the transaction and the
        connection goes back to the pool clean. ``durable=False`` commits
        without waiting for the WAL flush: for a run's records, which
        ``Backends.flush_wal`` makes durable when the run stops (a crash of
        Postgres before that also loses the checkpoints after them, so the
        node that wrote them runs again).
        """
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            if not self.writable:
                conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            yield conn

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
