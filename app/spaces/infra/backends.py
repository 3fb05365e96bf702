"""Process-local handles on the shared services, opened lazily and closed together.

A ``Backends`` object belongs to whoever builds it (a ``SpaceManager``, a
test, a server worker); there is no module-level connection. Entry points
get theirs from ``app.spaces.startup.open_backends``, which runs the
start-up steps (the legacy memory migration) before the first use. Each service is
reached only when first needed, so ``spaces list`` never starts the graph
server, and a second CLI call finds the embedded services already running.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from app.errors import StoreUnavailable
from app.services.falkordb import ensure_graph_server, revive_graph_server
from app.services.postgres import ensure_postgres
from app.settings import Settings
from app.spaces.infra.embeddings import Embedder, resolve_embedder
from app.spaces.infra.graph_conn import BoltConnection, GraphConnection, NativeConnection
from app.spaces.infra.migrations import (
    REGISTRY_MIGRATIONS,
    REGISTRY_SCHEMA,
    migrate,
    migrate_spaces,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from qdrant_client import QdrantClient

POOL_TIMEOUT_S = 10.0
# pgvector search settings for every pooled connection (docs/stores.md, "Memory"):
# ef_search 200 keeps recall@5 >= 0.95 on clustered data up to 1M memories
# (0.984, p95 10 ms; see memory_schema.HNSW_WITH); iterative scans keep
# filtered searches from returning too few rows.
PG_OPTIONS = "-c hnsw.ef_search=200 -c hnsw.iterative_scan=relaxed_order"
CHECKPOINT_SCHEMA = "spaces_checkpoints"
GRAPH_CONNECT_ATTEMPTS = 5


_CLEAN_SESSION = {"search_path": '"$user", public', "default_transaction_read_only": "off"}


def _reset(conn: psycopg.Connection) -> None:
    """Undo session settings before the connection goes back to the pool.

    The only session-level settings our code makes are ``SpacePostgres``'s
    ``search_path`` and read-only mode (everything else is ``SET LOCAL``), and
    Postgres 18 reports both to the client, so a connection that still has
    the defaults skips the round trip. A server that does not report them
    (older than 18) always gets ``RESET ALL``.
    """
    if any(conn.info.parameter_status(k) != v for k, v in _CLEAN_SESSION.items()):
        conn.execute("RESET ALL")


def _check_connect(uri: str) -> None:
    """Connect once, or raise ``StoreUnavailable`` with the server's reason."""
    try:
        psycopg.connect(uri, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise StoreUnavailable("postgres", f"cannot connect: {exc}") from exc


class Backends:
    """Lazily opened Postgres pool, graph connection, Qdrant clients and embedder."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._pool: ConnectionPool | None = None
        self._uri: str | None = None
        self._checkpointer: PostgresSaver | None = None
        self._graph: GraphConnection | None = None
        self._qdrant_remote: QdrantClient | None = None
        self._embedder: Embedder | None = None
        # Per-space tables this process has already checked: memory (memory.py), vault index.
        self.memory_tables: set[str] = set()

    # -- Postgres ---------------------------------------------------------------------------
    @property
    def pool(self) -> ConnectionPool:
        """The registry database pool (migrated on first use)."""
        with self._lock:
            if self._pool is None:
                uri = ensure_postgres(self.settings)
                if self.settings.database_url:
                    # A server of your own may be down: fail fast with its own reason
                    # rather than after the pool's timeout. (The embedded one was just
                    # checked by ``ensure_postgres``; a second connection would only
                    # slow every new process down.)
                    _check_connect(uri)
                pool = ConnectionPool(
                    uri,
                    min_size=1,
                    max_size=8,
                    timeout=POOL_TIMEOUT_S,
                    kwargs={"autocommit": True, "options": PG_OPTIONS},
                    reset=_reset,
                    num_workers=1,  # fewer threads to start and join: a new process's cost
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=POOL_TIMEOUT_S)
                    with pool.connection() as conn:
                        migrate(conn, REGISTRY_SCHEMA, REGISTRY_MIGRATIONS)
                        migrate_spaces(conn)
                except (PoolTimeout, psycopg.OperationalError) as exc:
                    pool.close()
                    _check_connect(uri)  # the server's own reason, if it has one
                    raise StoreUnavailable("postgres", f"cannot connect: {exc}") from exc
                self._pool, self._uri = pool, uri
            return self._pool

    def checkpointer(self) -> PostgresSaver:
        """LangGraph's Postgres checkpointer, on the same server, in its own schema.

        It gets its own pool because it needs dict rows and no prepared
        statements; its tables are created once, under an advisory lock so
        that processes starting together do not race.
        """
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import sql
        from psycopg.rows import dict_row

        with self._lock:
            if self._checkpointer is None:
                registry = self.pool
                schema = sql.Identifier(CHECKPOINT_SCHEMA)
                pool = ConnectionPool(
                    self._uri,
                    min_size=1,
                    max_size=8,
                    timeout=POOL_TIMEOUT_S,
                    kwargs={
                        "autocommit": True,
                        "prepare_threshold": 0,
                        "row_factory": dict_row,
                        # Checkpoints commit without waiting for their WAL flush (about
                        # 8 ms each here, 40 a run): a crash of our process loses none,
                        # and a crash of Postgres itself loses at most the last ~0.6 s
                        # of them, which only makes the run re-run its last nodes (they
                        # are idempotent). ``flush_wal`` makes them durable at once.
                        "options": f"-c search_path={CHECKPOINT_SCHEMA} -c synchronous_commit=off",
                    },
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=POOL_TIMEOUT_S)
                    saver = PostgresSaver(pool)
                    with registry.connection() as conn:
                        conn.execute("SELECT pg_advisory_lock(hashtext('spaces-checkpoints'))")
                        try:
                            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                            saver.setup()
                        finally:
                            conn.execute(
                                "SELECT pg_advisory_unlock(hashtext('spaces-checkpoints'))"
                            )
                except (PoolTimeout, psycopg.OperationalError) as exc:
                    pool.close()
                    raise StoreUnavailable("postgres", f"checkpointer: {exc}") from exc
                self._checkpointer = saver
            return self._checkpointer

    def flush_wal(self) -> None:
        """Make every commit so far durable, the asynchronous ones included.

        One synchronous commit flushes the whole WAL before it; the runner
        calls this when a run stops (ends, or waits for a person), so the
        checkpoint it stopped at survives even a crash of Postgres.
        """
        with self.pool.connection() as conn:
            conn.execute("SELECT txid_current()")  # an xid, so its commit is flushed

    # -- Graph ------------------------------------------------------------------------------
    def graph(self) -> GraphConnection:
        """A verified graph connection: embedded FalkorDB's native socket, or Bolt for Neo4j."""
        with self._lock:
            if self._graph is None:
                endpoint = ensure_graph_server(self.settings)
                revive = functools.partial(revive_graph_server, self.settings)
                if endpoint.socket is not None:
                    self._graph = NativeConnection.open(endpoint.socket, revive)
                else:
                    self._graph = self._bolt(endpoint.uri, endpoint.auth, revive)
            return self._graph

    def _bolt(self, uri: str, auth: tuple[str, str], revive: Callable[[], bool]) -> GraphConnection:
        import neo4j

        # FalkorDB's Bolt endpoint sometimes never answers the handshake of a
        # new connection (seen here); short timeouts plus retries get past it
        # where the driver's default would wait 60 s. The driver's own retry
        # of a failed transaction is capped short, so that a crashed embedded
        # server is revived (``BoltConnection.run``) instead.
        driver = neo4j.GraphDatabase.driver(
            uri,
            auth=auth,
            connection_timeout=3.0,
            connection_acquisition_timeout=3.0,
            max_transaction_retry_time=3.0,
        )
        for attempt in range(GRAPH_CONNECT_ATTEMPTS):
            try:
                driver.verify_connectivity()
                break
            except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError) as exc:
                if attempt == GRAPH_CONNECT_ATTEMPTS - 1:
                    driver.close()
                    raise StoreUnavailable("graph", f"cannot reach {uri}: {exc}") from exc
                revive()
                time.sleep(0.1 * (attempt + 1))
        return BoltConnection.probe(driver, revive=revive)

    # -- Qdrant -----------------------------------------------------------------------------
    @contextmanager
    def qdrant(self, space_id: str) -> Iterator[QdrantClient]:
        """The client of the Qdrant server named by ``QDRANT_URL`` (memory's scale-out path).

        Without ``QDRANT_URL`` memory is pgvector; qdrant-client's local
        folders of older spaces are read only by ``legacy.memory_migrate``.
        """
        from qdrant_client import QdrantClient

        if not self.settings.qdrant_url:
            raise StoreUnavailable("memory", "QDRANT_URL is not set")
        with self._lock:
            if self._qdrant_remote is None:
                self._qdrant_remote = QdrantClient(
                    url=self.settings.qdrant_url, api_key=self.settings.qdrant_api_key
                )
        yield self._qdrant_remote

    # -- Embeddings -------------------------------------------------------------------------
    def embedder(self) -> Embedder:
        """The configured embedder, loaded once per ``Backends``."""
        with self._lock:
            if self._embedder is None:
                self._embedder = resolve_embedder(self.settings.embeddings, self.settings)
            return self._embedder

    def close(self) -> None:
        """Close every connection this object opened (services keep running)."""
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.conn.close()  # type: ignore[union-attr]
                self._checkpointer = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            if self._graph is not None:
                self._graph.close()
                self._graph = None
            if self._qdrant_remote is not None:
                self._qdrant_remote.close()
                self._qdrant_remote = None


logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
# The driver logs every retry of a dead connection; a graph failure reaches the
# user once, as StoreUnavailable, after the embedded server has been revived.
logging.getLogger("neo4j").setLevel(logging.CRITICAL)
