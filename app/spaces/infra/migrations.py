"""Versioned, re-runnable schema migrations for the registry and for each space.

Each migration is a function from the target schema's identifier to a list of
statements, composed with ``psycopg.sql`` so that no name is ever pasted into
SQL as text. ``migrate`` applies the missing versions inside one transaction
under an advisory lock, so concurrent processes and repeated runs are safe.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

REGISTRY_SCHEMA = "spaces_registry"

Migration = Callable[[sql.Identifier], list[sql.Composable]]


def _registry_v1(s: sql.Identifier) -> list[sql.Composable]:
    # Seed 000's tables; cost kept to 6 decimals (per-call costs are fractions of a cent)
    # and times with zone. space_usage_events makes usage recording idempotent.
    return [
        sql.SQL(
            """CREATE TABLE {s}.spaces (
                id SERIAL PRIMARY KEY,
                space_id VARCHAR UNIQUE NOT NULL,
                name VARCHAR NOT NULL,
                owner_id VARCHAR NOT NULL,
                config JSONB NOT NULL,
                status VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.space_usage (
                id SERIAL PRIMARY KEY,
                space_id VARCHAR NOT NULL REFERENCES {s}.spaces (space_id),
                month VARCHAR NOT NULL,
                tokens_used BIGINT NOT NULL DEFAULT 0,
                api_calls_used BIGINT NOT NULL DEFAULT 0,
                cost_usd NUMERIC(16, 6) NOT NULL DEFAULT 0,
                UNIQUE (space_id, month)
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_spaces_owner ON {s}.spaces (owner_id)").format(s=s),
        sql.SQL("CREATE INDEX idx_usage_space_month ON {s}.space_usage (space_id, month)").format(
            s=s
        ),
        sql.SQL(
            """CREATE TABLE {s}.space_usage_events (
                idempotency_key VARCHAR PRIMARY KEY,
                space_id VARCHAR NOT NULL REFERENCES {s}.spaces (space_id),
                month VARCHAR NOT NULL,
                tokens BIGINT NOT NULL,
                api_calls BIGINT NOT NULL,
                cost_usd NUMERIC(16, 6) NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
    ]


def _registry_v2(s: sql.Identifier) -> list[sql.Composable]:
    # Runs: which space and user a thread belongs to (resume checks it), budget
    # holds (tokens reserved by calls in flight, so concurrent runs cannot
    # overspend), and the thread behind each usage event (a run's totals).
    return [
        sql.SQL(
            """CREATE TABLE {s}.threads (
                thread_id TEXT PRIMARY KEY,
                space_id VARCHAR NOT NULL REFERENCES {s}.spaces (space_id),
                user_id VARCHAR NOT NULL,
                graph TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_threads_space ON {s}.threads (space_id, user_id)").format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.budget_holds (
                hold_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                space_id VARCHAR NOT NULL REFERENCES {s}.spaces (space_id),
                month VARCHAR NOT NULL,
                tokens BIGINT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_holds_space ON {s}.budget_holds (space_id, month)").format(s=s),
        sql.SQL("ALTER TABLE {s}.space_usage_events ADD COLUMN thread_id TEXT").format(s=s),
        sql.SQL(
            "CREATE INDEX idx_usage_events_thread ON {s}.space_usage_events (thread_id)"
        ).format(s=s),
        # A call can cost a fraction of a micro-dollar; keep 10 decimals so sums stay exact.
        sql.SQL("ALTER TABLE {s}.space_usage ALTER COLUMN cost_usd TYPE NUMERIC(20, 10)").format(
            s=s
        ),
        sql.SQL(
            "ALTER TABLE {s}.space_usage_events ALTER COLUMN cost_usd TYPE NUMERIC(20, 10)"
        ).format(s=s),
    ]


def _space_v1(s: sql.Identifier) -> list[sql.Composable]:
    return [
        sql.SQL(
            """CREATE TABLE {s}.runs (
                thread_id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                query TEXT NOT NULL,
                status TEXT NOT NULL,
                model TEXT,
                tokens_used BIGINT NOT NULL DEFAULT 0,
                cost_usd NUMERIC(16, 6) NOT NULL DEFAULT 0,
                result JSONB NOT NULL DEFAULT '{{}}',
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.artifacts (
                id BIGSERIAL PRIMARY KEY,
                thread_id TEXT NOT NULL REFERENCES {s}.runs (thread_id),
                kind TEXT NOT NULL,
                vault_path TEXT,
                content_sha256 TEXT,
                metadata JSONB NOT NULL DEFAULT '{{}}',
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                UNIQUE (thread_id, kind)
            )"""
        ).format(s=s),
    ]


def _space_v2(s: sql.Identifier) -> list[sql.Composable]:
    return [sql.SQL("ALTER TABLE {s}.runs ALTER COLUMN cost_usd TYPE NUMERIC(20, 10)").format(s=s)]


def _space_v3(s: sql.Identifier) -> list[sql.Composable]:
    # Documents (seed "spaces and objects"): objects named after their first file,
    # append-only versions with their text, status, reason and memory ids.
    return [
        sql.SQL(
            """CREATE TABLE {s}.objects (
                id BIGSERIAL PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                object_type TEXT NOT NULL,
                active BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.versions (
                id BIGSERIAL PRIMARY KEY,
                object_id BIGINT NOT NULL REFERENCES {s}.objects (id),
                filename TEXT NOT NULL,
                original_path TEXT NOT NULL,
                ingested_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                memory_id TEXT,
                memory_ids JSONB NOT NULL DEFAULT '[]',
                status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'error')),
                error TEXT,
                content TEXT,
                content_sha256 TEXT,
                note TEXT
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_versions_object ON {s}.versions (object_id)").format(s=s),
        sql.SQL("CREATE INDEX idx_versions_status ON {s}.versions (status)").format(s=s),
    ]


def _registry_v3(s: sql.Identifier) -> list[sql.Composable]:
    # Run holds: a run holds its whole estimate at admission (one row per thread,
    # tagged with the graph that took it), drawn down by its calls and released
    # when it ends, so a run that was admitted can be afforded to the end.
    return [
        sql.SQL("ALTER TABLE {s}.budget_holds ADD COLUMN thread_id TEXT").format(s=s),
        sql.SQL("ALTER TABLE {s}.budget_holds ADD COLUMN graph TEXT").format(s=s),
        sql.SQL(
            "CREATE UNIQUE INDEX idx_holds_thread ON {s}.budget_holds (thread_id, space_id) "
            "WHERE thread_id IS NOT NULL"
        ).format(s=s),
    ]


def _registry_pgvector(s: sql.Identifier) -> list[sql.Composable]:
    # pgvector, once per database, in public: every space's memory table uses its
    # type. ``migrate`` holds an advisory lock, so processes starting together do
    # not race on CREATE EXTENSION.
    return [sql.SQL("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")]


def _space_agents(s: sql.Identifier) -> list[sql.Composable]:
    # Personal agents and chat (seed "personal multi-agent platform"): agents with
    # append-only versions and a soft delete, chat sessions (one LangGraph thread
    # each), their messages, the tasks of orchestrated turns, and the raw turns
    # that compaction took out of a session's history.
    return [
        sql.SQL(
            """CREATE TABLE {s}.agents (
                name TEXT NOT NULL,
                version INT NOT NULL CHECK (version >= 1),
                agent_id TEXT NOT NULL UNIQUE,
                system_prompt TEXT NOT NULL,
                model TEXT NOT NULL,
                tools JSONB NOT NULL DEFAULT '[]',
                concurrency_limit INT NOT NULL DEFAULT 1,
                status TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'busy', 'error')),
                created_by TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                deleted_at TIMESTAMPTZ,
                PRIMARY KEY (name, version)
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.sessions (
                session_id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.messages (
                id BIGSERIAL PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES {s}.sessions (session_id),
                turn INT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'summary')),
                agent_id TEXT,
                content TEXT NOT NULL,
                meta JSONB NOT NULL DEFAULT '{{}}',
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                UNIQUE (session_id, turn, role)
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.tasks (
                session_id TEXT NOT NULL REFERENCES {s}.sessions (session_id),
                turn INT NOT NULL,
                task_id TEXT NOT NULL,
                agent TEXT NOT NULL,
                agent_id TEXT,
                description TEXT NOT NULL,
                depends_on JSONB NOT NULL DEFAULT '[]',
                status TEXT NOT NULL
                    CHECK (status IN ('pending', 'running', 'completed', 'failed')),
                result TEXT,
                error TEXT,
                estimated_tokens INT NOT NULL DEFAULT 0,
                estimated_cost_usd NUMERIC(20, 10) NOT NULL DEFAULT 0,
                estimated_seconds NUMERIC(10, 2) NOT NULL DEFAULT 0,
                started_at TIMESTAMPTZ,
                finished_at TIMESTAMPTZ,
                PRIMARY KEY (session_id, turn, task_id)
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.conversation_archives (
                id BIGSERIAL PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES {s}.sessions (session_id),
                kind TEXT NOT NULL CHECK (kind IN ('summarised', 'truncated')),
                first_turn INT NOT NULL,
                last_turn INT NOT NULL,
                turns JSONB NOT NULL,
                summary TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
            )"""
        ).format(s=s),
    ]


def _registry_schema_level(s: sql.Identifier) -> list[sql.Composable]:
    # The level every space schema was brought to, so a process that opens the
    # registry checks one row instead of every space's schema (a cold start).
    return [
        sql.SQL(
            "CREATE TABLE {s}.space_schema_level (only_row BOOLEAN PRIMARY KEY DEFAULT TRUE "
            "CHECK (only_row), level INT NOT NULL)"
        ).format(s=s),
    ]


def _registry_members(s: sql.Identifier) -> list[sql.Composable]:
    # Members (issue 16): one role per user and space, checked before a space is
    # opened. The owner is an admin from the start: a trigger adds the row in the
    # same transaction as the space, and existing spaces get theirs here.
    return [
        sql.SQL(
            """CREATE TABLE {s}.space_members (
                space_id VARCHAR NOT NULL REFERENCES {s}.spaces (space_id),
                user_id VARCHAR NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('member', 'operator', 'admin')),
                added_by VARCHAR NOT NULL,
                added_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                PRIMARY KEY (space_id, user_id)
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_members_user ON {s}.space_members (user_id)").format(s=s),
        sql.SQL(
            """CREATE FUNCTION {s}.owner_is_admin() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {s}.space_members (space_id, user_id, role, added_by)
                VALUES (NEW.space_id, NEW.owner_id, 'admin', NEW.owner_id)
                ON CONFLICT (space_id, user_id) DO UPDATE SET role = 'admin';
                RETURN NEW;
            END $$"""
        ).format(s=s),
        sql.SQL(
            "CREATE TRIGGER spaces_owner_is_admin AFTER INSERT ON {s}.spaces "
            "FOR EACH ROW EXECUTE FUNCTION {s}.owner_is_admin()"
        ).format(s=s),
        sql.SQL(
            "INSERT INTO {s}.space_members (space_id, user_id, role, added_by) "
            "SELECT space_id, owner_id, 'admin', owner_id FROM {s}.spaces "
            "ON CONFLICT DO NOTHING"
        ).format(s=s),
    ]


def _space_audit(s: sql.Identifier) -> list[sql.Composable]:
    # Audit log (issue 16): append-only, one row per write or refusal; the
    # idempotency key keeps a resumed run from recording an event twice.
    return [
        sql.SQL(
            """CREATE TABLE {s}.audit_log (
                id BIGSERIAL PRIMARY KEY,
                at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL DEFAULT '',
                request_id TEXT,
                outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
                detail JSONB NOT NULL DEFAULT '{{}}',
                idempotency_key TEXT UNIQUE
            )"""
        ).format(s=s),
        sql.SQL("CREATE INDEX idx_audit_at ON {s}.audit_log (at)").format(s=s),
        sql.SQL(
            """CREATE FUNCTION {s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
            END $$"""
        ).format(s=s),
        sql.SQL(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON {s}.audit_log "
            "FOR EACH ROW EXECUTE FUNCTION {s}.audit_log_append_only()"
        ).format(s=s),
        sql.SQL(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {s}.audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_log_append_only()"
        ).format(s=s),
    ]


def _registry_console(s: sql.Identifier) -> list[sql.Composable]:
    # The web console (issue 23): one-time login links and signed-in sessions,
    # kept as SHA-256 hashes so a database read gives no usable secret.
    return [
        sql.SQL(
            """CREATE TABLE {s}.console_logins (
                token_hash TEXT PRIMARY KEY,
                user_id VARCHAR NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.console_sessions (
                session_hash TEXT PRIMARY KEY,
                user_id VARCHAR NOT NULL,
                csrf TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )"""
        ).format(s=s),
    ]


REGISTRY_MIGRATIONS: list[Migration] = [
    _registry_v1,
    _registry_v2,
    _registry_v3,
    _registry_pgvector,
    _registry_schema_level,
    _registry_members,
    _registry_console,
]
SPACE_MIGRATIONS: list[Migration] = [_space_v1, _space_v2, _space_v3, _space_agents, _space_audit]


def migrate(conn: psycopg.Connection, schema: str, migrations: list[Migration]) -> int:
    """Bring ``schema`` up to date; return how many migrations were applied.

    Runs in the caller's transaction if one is open (space creation relies on
    that to stay atomic), else in its own.
    """
    ident = sql.Identifier(schema)
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        # Fast path, outside any caller's transaction (a failed read would abort it):
        # an up-to-date schema costs one read, not a locked transaction.
        try:
            current = conn.execute(
                sql.SQL("SELECT COALESCE(max(version), 0) FROM {}.schema_migrations").format(ident)
            ).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            current = -1
        if current == len(migrations):
            return 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"spaces-migrate:{schema}"])
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                "version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
            ).format(ident)
        )
        done = {
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT version FROM {}.schema_migrations").format(ident)
            )
        }
        applied = 0
        for version, migration in enumerate(migrations, start=1):
            if version in done:
                continue
            for statement in migration(ident):
                conn.execute(statement)
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version) VALUES (%s)").format(ident),
                [version],
            )
            applied += 1
        return applied


def migrate_spaces(conn: psycopg.Connection) -> int:
    """Bring every existing space's schema up to date; return how many were behind.

    Run when a process first opens the registry, so a space created by an
    older version gets new tables and columns before anything uses them.
    """
    target = len(SPACE_MIGRATIONS)
    registry = sql.Identifier(REGISTRY_SCHEMA)
    level = conn.execute(
        sql.SQL("SELECT level FROM {}.space_schema_level").format(registry)
    ).fetchone()
    if level is not None and level[0] == target:
        return 0  # every space was migrated to this level, and new ones start there
    schemas = [
        row[0]
        for row in conn.execute(
            sql.SQL("SELECT config->>'postgres_schema' FROM {}.spaces").format(
                sql.Identifier(REGISTRY_SCHEMA)
            )
        ).fetchall()
    ]
    if not schemas:
        _set_level(conn, target)
        return 0
    # One round trip for every space's version, not one per space.
    versions = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT %s::text, COALESCE(max(version), 0) FROM {}.schema_migrations").format(
            sql.Identifier(schema)
        )
        for schema in schemas
    )
    rows = conn.execute(versions, schemas).fetchall()
    behind = [schema for schema, current in rows if current < target]
    for schema in behind:
        migrate(conn, schema, SPACE_MIGRATIONS)
    _set_level(conn, target)
    return len(behind)


def _set_level(conn: psycopg.Connection, level: int) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.space_schema_level (level) VALUES (%s) "
            "ON CONFLICT (only_row) DO UPDATE SET level = EXCLUDED.level"
        ).format(sql.Identifier(REGISTRY_SCHEMA)),
        [level],
    )
