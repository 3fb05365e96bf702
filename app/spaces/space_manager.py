"""``SpaceManager``: create, find, switch, archive spaces and record their usage.

The seed's method names are kept (``create_space``, ``switch_space``,
``get_current_space``, ``list_spaces``), but the methods are synchronous and
``switch_space`` is session-local: the "current space" belongs to this
manager object, which the CLI or a notebook holds, never to the process.
Graph runs do not use it at all; they receive the space id in their runtime
context and open the space through ``open_space``.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from app.errors import (
    InvalidInput,
    SpaceArchived,
    SpaceExists,
    SpaceNotFound,
    SpacesError,
    StoreUnavailable,
)
from app.ids import validate_space_id, validate_user_id
from app.settings import Settings
from app.spaces.infra.backends import Backends
from app.spaces.infra.embeddings import embedder_dims
from app.spaces.infra.migrations import REGISTRY_SCHEMA, SPACE_MIGRATIONS, migrate
from app.spaces.infra.postgres import SpacePostgres
from app.spaces.model.space_model import (
    SpaceConfig,
    SpaceStatus,
    SpaceUsage,
    config_from_row,
    current_month,
)
from app.spaces.startup import open_backends
from app.spaces.stores.budget import add_usage
from app.spaces.stores.graph import drop_graph_partition, ensure_graph_indexes, provision_graph
from app.spaces.stores.handle import SpaceHandle
from app.spaces.stores.memory import drop_space_memory, open_space_memory
from app.spaces.stores.memory_schema import create_memory_table
from app.spaces.stores.vault import SpaceVault, provision_vault, undo_provision
from app.spaces.stores.vault_index import VaultIndex

R = sql.Identifier(REGISTRY_SCHEMA)
USAGE_MAX = 10**9


class SpaceManager:
    """Gatekeeper for space operations; owns its ``Backends`` unless one is passed in.

    Connections it opens itself are an entry point's (``startup.open_backends``:
    the start-up steps run first); connections passed in were opened so already.
    """

    def __init__(self, settings: Settings, backends: Backends | None = None):
        self.settings = settings
        self._owns_backends = backends is None
        self.backends = backends or open_backends(settings)
        self.current_space: SpaceConfig | None = None

    def close(self) -> None:
        """Release connections (the services keep running for the next caller)."""
        if self._owns_backends:
            self.backends.close()

    def __enter__(self) -> SpaceManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def vault_root(self, config: SpaceConfig) -> Path:
        """Absolute folder of a space's vault: ``SPACES_VAULTS_DIR/<space_id>``."""
        return self.settings.vaults_dir / config.space_id

    # -- lifecycle ---------------------------------------------------------------------------
    def create_space(self, config: SpaceConfig) -> SpaceConfig:
        """Create the space and provision all four stores, atomically.

        The registry row and the space schema are written in one Postgres
        transaction that commits only after the memory collection, the graph
        partition and the vault exist. If any step fails, the steps already
        done are undone, the transaction rolls back, and the error names the
        store that failed. A concurrent creation of the same id waits on the
        registry row and then fails with "already exists".
        """
        if config.status is not SpaceStatus.ACTIVE:
            raise InvalidInput("a new space must be active")
        undo: list[tuple[str, object]] = []
        try:
            with self.backends.pool.connection() as conn, conn.transaction():
                inserted = conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.spaces (space_id, name, owner_id, config, status) "
                        "VALUES (%s, %s, %s, %s, 'active') "
                        "ON CONFLICT (space_id) DO NOTHING RETURNING created_at"
                    ).format(R),
                    [
                        config.space_id,
                        config.name,
                        config.owner_id,
                        json.dumps(config.stored_config()),
                    ],
                ).fetchone()
                if inserted is None:
                    raise SpaceExists(f"space {config.space_id!r} already exists")
                migrate(conn, config.postgres_schema, SPACE_MIGRATIONS)
                if not self.settings.qdrant_url:
                    # pgvector memory: its table commits or rolls back with the space.
                    create_memory_table(conn, config, embedder_dims(self.settings.embeddings))
                self._provision_stores(config, undo)
                created_at = inserted[0]
        except psycopg.Error as exc:
            self._undo(config, undo)
            raise StoreUnavailable("postgres", str(exc)) from exc
        except BaseException:
            self._undo(config, undo)
            raise
        config.created_at = created_at
        return config

    def _provision_stores(self, config: SpaceConfig, undo: list[tuple[str, object]]) -> None:
        try:
            undo.append(("memory", None))
            if self.settings.qdrant_url:
                with open_space_memory(self.backends, config, writable=True):
                    pass  # opening creates the collection
        except SpacesError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        driver = self.backends.graph()
        undo.append(("graph", None))
        ensure_graph_indexes(driver)
        provision_graph(driver, config.space_id, config.neo4j_graph_name)
        try:
            undo.append(("vault", provision_vault(self.vault_root(config))))
        except OSError as exc:
            raise StoreUnavailable("vault", str(exc)) from exc

    def _undo(self, config: SpaceConfig, undo: list[tuple[str, object]]) -> None:
        """Best-effort compensation of provisioning steps, newest first."""
        for store, created in reversed(undo):
            try:
                if store == "vault":
                    undo_provision(created)  # type: ignore[arg-type]
                elif store == "graph":
                    drop_graph_partition(self.backends.graph(), config.space_id)
                elif store == "memory":
                    drop_space_memory(self.backends, config)
            except (SpacesError, OSError):
                # The store that failed may still be down; a later creation of the
                # same id starts from a clean partition anyway (MERGE, recreate).
                continue

    def get_space(self, space_id: str) -> SpaceConfig:
        """The space's config and status, read from the registry."""
        validate_space_id(space_id)
        with self.backends.pool.connection() as conn:
            row = (
                conn.cursor(row_factory=dict_row)
                .execute(
                    sql.SQL(
                        "SELECT config, status, created_at FROM {}.spaces WHERE space_id = %s"
                    ).format(R),
                    [space_id],
                    prepare=True,
                )
                .fetchone()
            )
        if row is None:
            raise SpaceNotFound(f"no space {space_id!r}")
        return config_from_row(row)

    def switch_space(self, space_id: str) -> SpaceConfig:
        """Make ``space_id`` this manager's current space and return its config."""
        self.current_space = self.get_space(space_id)
        return self.current_space

    def get_current_space(self) -> SpaceConfig:
        """The space chosen with ``switch_space`` on this manager."""
        if self.current_space is None:
            raise InvalidInput("no space selected: call switch_space first")
        return self.current_space

    def list_spaces(self, owner_id: str | None = None) -> list[SpaceConfig]:
        """Spaces of ``owner_id`` (all spaces if ``None``), active first, then by id."""
        query = sql.SQL("SELECT config, status, created_at FROM {}.spaces").format(R)
        params: list[str] = []
        if owner_id is not None:
            query += sql.SQL(" WHERE owner_id = %s")
            params.append(validate_user_id(owner_id))
        query += sql.SQL(" ORDER BY status = 'archived', space_id")
        with self.backends.pool.connection() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
        return [config_from_row(r) for r in rows]

    def _set_status(self, space_id: str, status: SpaceStatus) -> SpaceConfig:
        validate_space_id(space_id)
        with self.backends.pool.connection() as conn:
            done = conn.execute(
                sql.SQL("UPDATE {}.spaces SET status = %s WHERE space_id = %s").format(R),
                [status.value, space_id],
            ).rowcount
        if not done:
            raise SpaceNotFound(f"no space {space_id!r}")
        config = self.get_space(space_id)
        if self.current_space and self.current_space.space_id == space_id:
            self.current_space = config
        return config

    def archive_space(self, space_id: str) -> SpaceConfig:
        """Archive: the space stays readable but refuses runs and writes. Idempotent."""
        return self._set_status(space_id, SpaceStatus.ARCHIVED)

    def activate_space(self, space_id: str) -> SpaceConfig:
        """Bring an archived space back into use. Idempotent."""
        return self._set_status(space_id, SpaceStatus.ACTIVE)

    def open_space(self, space_id: str, *, write: bool = False) -> SpaceHandle:
        """Open a space's stores; with ``write=True`` an archived space is refused."""
        config = self.get_space(space_id)
        if write and not config.is_active:
            raise SpaceArchived(f"space {space_id!r} is archived: it refuses runs and writes")
        return self.handle(config)

    def handle(self, config: SpaceConfig) -> SpaceHandle:
        """The stores of a space whose config the caller has just read (no second read).

        Writable only while the space is active.
        """
        writable = config.is_active
        vault = SpaceVault(self.vault_root(config), config.space_id, writable=writable)
        vault.index = VaultIndex(self.backends, config, vault.root)
        return SpaceHandle(
            config=config,
            writable=writable,
            postgres=SpacePostgres(self.backends.pool, config.postgres_schema, writable=writable),
            vault=vault,
            _backends=self.backends,
        )

    # -- usage -------------------------------------------------------------------------------
    def record_usage(
        self,
        space_id: str,
        tokens: int,
        api_calls: int = 1,
        cost_usd: float = 0.0,
        *,
        idempotency_key: str | None = None,
    ) -> SpaceUsage:
        """Add usage to this month's totals atomically; return the new totals.

        With an ``idempotency_key``, recording the same event twice (a resumed
        run re-executing a node) counts it once.
        """
        for label, value in (("tokens", tokens), ("api_calls", api_calls)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= USAGE_MAX:
                raise InvalidInput(f"{label} must be a whole number from 0 to {USAGE_MAX}")
        if not 0 <= float(cost_usd) <= 1e6:
            raise InvalidInput("cost_usd must be between 0 and 1000000")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise InvalidInput("idempotency key must be 1 to 200 characters")
        config = self.get_space(space_id)
        if not config.is_active:
            raise SpaceArchived(f"space {space_id!r} is archived: it refuses runs and writes")
        month = current_month()
        with self.backends.pool.connection() as conn, conn.transaction():
            add_usage(
                conn, space_id, month, tokens, api_calls, cost_usd, idempotency_key=idempotency_key
            )
        return self.get_usage(space_id, month)

    def get_usage(self, space_id: str, month: str | None = None) -> SpaceUsage:
        """The space's usage for ``month`` (default: this month), zeros if none yet."""
        validate_space_id(space_id)
        month = month or current_month()
        with self.backends.pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT tokens_used, api_calls_used, cost_usd FROM {}.space_usage "
                    "WHERE space_id = %s AND month = %s"
                ).format(R),
                [space_id, month],
            ).fetchone()
        if row is None:
            return SpaceUsage(space_id, month)
        return SpaceUsage(space_id, month, int(row[0]), int(row[1]), float(row[2]))
