"""Connections to the graph server: FalkorDB's native protocol, or Bolt for Neo4j.

``SpaceGraph`` (``graph.py``) speaks Cypher through ``GraphConnection.run``
and does not care which wire carries it:

- ``NativeConnection``: the embedded FalkorDB through its own protocol (RESP,
  the ``falkordb`` client) on the server's Unix socket. A round trip costs
  about 0.2 ms here, where the same query over FalkorDB's Bolt port costs
  about 44 ms (docs/stores.md "The graph server"). It can also make writes durable at once
  (``SAVE``), which Bolt cannot ask FalkorDB for.
- ``BoltConnection``: the ``neo4j`` driver, for a Neo4j server named by
  ``NEO4J_URI`` (and tested against FalkorDB's Bolt port). It tells FalkorDB
  from Neo4j, because FalkorDB pastes Bolt parameters into the query text
  unescaped (``_falkordb_escape``).

Both revive an embedded server that died under a query and run it again:
every query ``graph.py`` sends is a MERGE, a read or an idempotent delete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import StoreUnavailable

if TYPE_CHECKING:
    import neo4j
    from falkordb import FalkorDB

REVIVE_ATTEMPTS = 2
GRAPH_KEY = "falkordb"  # the graph FalkorDB's Bolt layer uses, so data written either way is one


def _falkordb_escape(value: Any) -> Any:
    """Escape string parameters the way FalkorDB's Bolt layer needs.

    FalkorDB inlines Bolt parameters into the query text as single-quoted
    literals without escaping them, so a ``'`` in a value fails the query
    (seen here; docs/stores.md "The graph server"). Escaping ``\\`` and ``'`` makes every string
    round-trip exactly; Neo4j binds parameters properly and gets them as is.
    The native client quotes parameters itself.
    """
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("'", "\\'")
    if isinstance(value, list):
        return [_falkordb_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _falkordb_escape(v) for k, v in value.items()}
    return value


class GraphConnection:
    """What ``graph.py`` needs from a server connection."""

    #: FalkorDB's Cypher dialect (no ``IF NOT EXISTS``, ``db.indexes()``), whatever the wire.
    falkordb: bool = True

    def run(self, query: str, params: dict[str, Any], *, raw_errors: bool = False) -> list[dict]:
        """Run one query and return its rows as dicts."""
        raise NotImplementedError

    def make_durable(self) -> None:
        """Return only once the writes made so far survive a crash of the server."""

    def close(self) -> None:
        """Close the connection (the server keeps running)."""


class NativeConnection(GraphConnection):
    """Embedded FalkorDB over its native protocol; see the module docstring."""

    falkordb = True

    def __init__(self, db: FalkorDB, revive: Callable[[], bool] | None = None):
        self._db = db
        self._graph = db.select_graph(GRAPH_KEY)
        self._revive = revive

    @classmethod
    def open(cls, socket_path: str, revive: Callable[[], bool] | None = None) -> NativeConnection:
        """Connect to the server's Unix socket and check that it answers."""
        import redis
        from falkordb import FalkorDB

        try:
            db = FalkorDB(unix_socket_path=socket_path, socket_timeout=60, socket_connect_timeout=3)
            db.connection.ping()
        except redis.RedisError as exc:
            raise StoreUnavailable("graph", f"cannot reach {socket_path}: {exc}") from exc
        return cls(db, revive)

    def _call(self, fn: Callable[[], Any]) -> Any:
        import redis

        for attempt in range(REVIVE_ATTEMPTS + 1):
            try:
                return fn()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if attempt == REVIVE_ATTEMPTS or self._revive is None:
                    raise StoreUnavailable("graph", str(exc)) from exc
                self._revive()
            except redis.RedisError as exc:
                raise StoreUnavailable("graph", str(exc)) from exc
        raise AssertionError("unreachable")

    def run(self, query: str, params: dict[str, Any], *, raw_errors: bool = False) -> list[dict]:
        """Run one query through ``GRAPH.QUERY`` (parameters quoted by the client)."""
        result = self._call(lambda: self._graph.query(query, params or None))
        names = [column[1] for column in result.header]
        return [
            {name: _plain(value) for name, value in zip(names, row, strict=True)}
            for row in result.result_set
        ]

    def make_durable(self) -> None:
        """Write the snapshot now (``SAVE``), after any background save in progress.

        The server otherwise snapshots once a second, so a kill in between
        would lose what was just written (issue 11, item 5).
        """
        import time

        import redis

        def save() -> None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    self._db.connection.execute_command("SAVE")
                    return
                except redis.ResponseError as exc:
                    # "Background save already in progress": it may predate our
                    # writes, so wait for it and save again.
                    if "in progress" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

        self._call(save)

    def close(self) -> None:
        """Close the client's connection pool."""
        self._db.connection.close()


def _plain(value: Any) -> Any:
    """Turn the client's ordered dicts into plain ones, as the Bolt driver returns them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class BoltConnection(GraphConnection):
    """A Bolt driver plus what we know about the server behind it."""

    def __init__(
        self, driver: neo4j.Driver, *, falkordb: bool, revive: Callable[[], bool] | None = None
    ):
        self.driver = driver
        self.falkordb = falkordb
        self._revive = revive

    @classmethod
    def probe(
        cls, driver: neo4j.Driver, revive: Callable[[], bool] | None = None
    ) -> BoltConnection:
        """Tell FalkorDB from Neo4j (both report a "Neo4j/5.x" agent).

        ``db.indexes()`` exists only in FalkorDB. The probe must not make
        FalkorDB fail a query: its Bolt layer has crashed here after errors,
        so nothing in ``graph.py`` sends it a query it will refuse.
        """
        import neo4j

        conn = cls(driver, falkordb=True, revive=revive)
        try:
            conn.run("CALL db.indexes()", {}, raw_errors=True)
            return conn
        except neo4j.exceptions.Neo4jError:
            return cls(driver, falkordb=False, revive=revive)

    def run(self, query: str, params: dict[str, Any], *, raw_errors: bool = False) -> list[dict]:
        """Run one query; ``raw_errors`` lets the probe see the server's refusal."""
        import neo4j

        if self.falkordb:
            params = _falkordb_escape(params)
        for attempt in range(REVIVE_ATTEMPTS + 1):
            try:
                records, _, _ = self.driver.execute_query(query, params)
                return [record.data() for record in records]
            except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired) as exc:
                if attempt == REVIVE_ATTEMPTS or self._revive is None:
                    raise StoreUnavailable("graph", str(exc)) from exc
                self._revive()
            except neo4j.exceptions.Neo4jError as exc:
                if raw_errors:
                    raise
                raise StoreUnavailable("graph", str(exc)) from exc
            except neo4j.exceptions.DriverError as exc:
                raise StoreUnavailable("graph", str(exc)) from exc
        raise AssertionError("unreachable")

    def make_durable(self) -> None:
        """Nothing to do: Neo4j has committed durably when a query returns.

        A FalkorDB reached over Bolt (``NEO4J_URI`` pointing at it) cannot be
        asked to save through Bolt; its own persistence settings apply.
        """

    def close(self) -> None:
        """Close the driver."""
        self.driver.close()
