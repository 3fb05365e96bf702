"""Pooled registry connections never hand a space's session settings to the next borrower."""

from __future__ import annotations


def test_a_space_connection_comes_back_clean(manager, space) -> None:
    handle = manager.open_space(space.space_id, write=True)
    with handle.postgres.connection() as conn:
        assert space.postgres_schema in conn.execute("SHOW search_path").fetchone()[0]
    archived = manager.handle(manager.get_space(space.space_id))
    read_only = type(archived.postgres)(
        manager.backends.pool, space.postgres_schema, writable=False
    )
    with read_only.connection() as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
    # Every connection the pool holds is back to the defaults.
    pool = manager.backends.pool
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
    try:
        for conn in held:
            assert conn.execute("SHOW search_path").fetchone()[0] == '"$user", public'
            assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "off"
    finally:
        for conn in held:
            pool.putconn(conn)
