"""Process-local handles on the shared services, opened lazily and closed together.

A ``Backends`` object belongs to whoever builds it (a ``SpaceManager``, a
test, a server worker); there is no module-level connection. Each service is
reached only when first needed, so ``spaces list`` never starts the graph
server, and a second CLI call finds the embedded services already running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from app.errors import StoreUnavailable
from app.services.falkordb import ensure_graph_server, revive_graph_server
from app.services.postgres import ensure_postgres
from app.settings import Settings
from app.spaces.embeddings import Embedder, resolve_embedder
from app.spaces.graph import GraphConnection
from app.spaces.memory_migrate import legacy_folders, migrate_legacy_memory
from app.spaces.migrations import (
    REGISTRY_MIGRATIONS,
    REGISTRY_SCHEMA,
    migrate,
    migrate_spaces,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from qdrant_client import QdrantClient

POOL_TIMEOUT_S = 10.0
# pgvector search settings for every pooled connection (README "Memory" says why):
# ef_search 100 keeps recall@5 >= 0.95 on clustered data; iterative scans keep
# filtered searches from returning too few rows.
PG_OPTIONS = "-c hnsw.ef_search=100 -c hnsw.iterative_scan=relaxed_order"
CHECKPOINT_SCHEMA = "spaces_checkpoints"
GRAPH_CONNECT_ATTEMPTS = 5


def _reset(conn: psycopg.Connection) -> None:
    conn.execute("RESET ALL")


class Backends:
    """Lazily opened Postgres pool, Bolt driver, Qdrant clients and embedder."""

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
                try:
                    # Fail fast with the server's own reason, rather than a pool timeout.
                    psycopg.connect(uri, connect_timeout=5).close()
                except psycopg.OperationalError as exc:
                    raise StoreUnavailable("postgres", f"cannot connect: {exc}") from exc
                pool = ConnectionPool(
                    uri,
                    min_size=1,
                    max_size=8,
                    timeout=POOL_TIMEOUT_S,
                    kwargs={"autocommit": True, "options": PG_OPTIONS},
                    reset=_reset,
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=POOL_TIMEOUT_S)
                    with pool.connection() as conn:
                        migrate(conn, REGISTRY_SCHEMA, REGISTRY_MIGRATIONS)
                        migrate_spaces(conn)
                except (PoolTimeout, psycopg.OperationalError) as exc:
                    pool.close()
                    raise StoreUnavailable("postgres", f"cannot connect: {exc}") from exc
                self._pool, self._uri = pool, uri
                if not self.settings.qdrant_url and legacy_folders(self.settings.home):
                    migrate_legacy_memory(self)  # spaces made before pgvector memory
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
                        "options": f"-c search_path={CHECKPOINT_SCHEMA}",
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

    # -- Graph ------------------------------------------------------------------------------
    def graph(self) -> GraphConnection:
        """A verified Bolt connection (Neo4j 5 or embedded FalkorDB)."""
        import neo4j

        with self._lock:
            if self._graph is None:
                endpoint = ensure_graph_server(self.settings)
                # FalkorDB's Bolt endpoint sometimes never answers the handshake of
                # a new connection (seen here); short timeouts plus retries get past
                # it where the driver's default would wait 60 s.
                # The driver's own retry of a failed transaction is capped short,
                # so that a crashed embedded server is revived (``_run``) instead.
                driver = neo4j.GraphDatabase.driver(
                    endpoint.uri,
                    auth=endpoint.auth,
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
                            raise StoreUnavailable(
                                "graph", f"cannot reach {endpoint.uri}: {exc}"
                            ) from exc
                        revive_graph_server(self.settings)
                        time.sleep(0.1 * (attempt + 1))
                self._graph = GraphConnection.probe(
                    driver, revive=lambda: revive_graph_server(self.settings)
                )
            return self._graph

    # -- Qdrant -----------------------------------------------------------------------------
    @contextmanager
    def qdrant(self, space_id: str) -> Iterator[QdrantClient]:
        """The client of the Qdrant server named by ``QDRANT_URL`` (memory's scale-out path).

        Without ``QDRANT_URL`` memory is pgvector; qdrant-client's local
        folders of older spaces are read only by ``memory_migrate``.
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
                self._graph.driver.close()
                self._graph = None
            if self._qdrant_remote is not None:
                self._qdrant_remote.close()
                self._qdrant_remote = None


logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
# The driver logs every retry of a dead connection; a graph failure reaches the
# user once, as StoreUnavailable, after the embedded server has been revived.
logging.getLogger("neo4j").setLevel(logging.CRITICAL)
