"""A new process reads one row for every space's schema level, yet migrates a space behind."""

from __future__ import annotations

from psycopg import sql

from app.spaces.infra.migrations import REGISTRY_SCHEMA, SPACE_MIGRATIONS, migrate, migrate_spaces

R = sql.Identifier(REGISTRY_SCHEMA)


def test_space_schemas_behind_the_level_are_migrated(manager, space) -> None:
    schema = sql.Identifier(space.postgres_schema)
    with manager.backends.pool.connection() as conn:
        assert migrate_spaces(conn) == 0  # the level row says every space is current
        # An older version left this space's schema behind (here: with nothing in it).
        last = len(SPACE_MIGRATIONS)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))
        migrate(conn, space.postgres_schema, [])  # the schema and its empty version table
        assert migrate_spaces(conn) == 0  # the level alone still says current: nothing read
        conn.execute(sql.SQL("UPDATE {}.space_schema_level SET level = %s").format(R), [last - 1])
        assert migrate_spaces(conn) == 1  # now every schema is checked, and this one caught up
        current = conn.execute(
            sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(schema)
        ).fetchone()[0]
        assert current == last
        level = conn.execute(sql.SQL("SELECT level FROM {}.space_schema_level").format(R))
        assert level.fetchone()[0] == last
