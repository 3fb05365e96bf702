"""Reading a space's stores into bundle parts, and loading parts into another space.

One pair of functions per store, each working on a folder of parts:
the Postgres schema (every table, as CSV by ``COPY``, in foreign-key
order), the registry rows the space owns (members, monthly usage and the
usage events behind it), the memories (id, vector and payload, read from
the store directly because Mem0 has no way to hand vectors out: a pgvector
table ``mem0_<id>`` in the space's schema when there is one, else the
space's Qdrant collection) and
the graph partition (``SpaceGraph.partition``). The vault is copied file by
file by ``portability.py``. Loads write nothing outside the target space.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.errors import InvalidInput
from app.spaces.infra.backends import Backends
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig

R = sql.Identifier(REGISTRY_SCHEMA)
BATCH = 1_000
# The migrations ledger, and the vault index: derived from the vault's files,
# it is rebuilt by the first run (or ``spaces reindex``) on the imported space.
SKIP_TABLES = ("schema_migrations", "vault_files", "vault_chunks")
MEMORY_PREFIX = "mem0_"
MEMORY_ROWS = "SELECT id::text, vector::text, payload, created_at FROM {} ORDER BY id"
COPY_OUT = "COPY (SELECT {} FROM {}.{}) TO STDOUT (FORMAT csv, HEADER)"
REGISTRY_TABLES = {  # the registry rows a space owns, keyed by space_id
    "space_members": ("user_id", "role", "added_by", "added_at"),
    "space_usage": ("month", "tokens_used", "api_calls_used", "cost_usd"),
    "space_usage_events": (
        "idempotency_key", "month", "tokens", "api_calls", "cost_usd", "created_at", "thread_id",
    ),
}  # fmt: skip


class BadPart(InvalidInput):
    """A part of the bundle does not fit this installation's stores."""


# -- Postgres: the space's schema -------------------------------------------------------------
def table_order(conn: psycopg.Connection, schema: str) -> list[str]:
    """The schema's tables, each after the tables its foreign keys point to.

    Left out: the migrations ledger, and a memory table (``mem0_<id>``), whose
    name follows the space id and whose rows travel as ``memories.jsonl``.
    """
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            [schema],
        )
        if r[0] not in SKIP_TABLES and not r[0].startswith(MEMORY_PREFIX)
    ]
    refs: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
        "SELECT cl.relname, ref.relname FROM pg_constraint c "
        "JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class ref ON ref.oid = c.confrelid "
        "JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE c.contype = 'f' AND n.nspname = %s",
        [schema],
    ):
        if child in refs and parent != child:
            refs[child].add(parent)
    ordered: list[str] = []
    while refs:
        ready = sorted(t for t, deps in refs.items() if deps <= set(ordered))
        ordered += ready or sorted(refs)  # a cycle: keep going, COPY will say what is wrong
        for t in ready or sorted(refs):
            refs.pop(t)
    return ordered


def columns_of(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The table's columns in order, except generated ones (the server computes them)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
            [schema, table],
        )
    ]


def dump_schema(pool: Any, schema: str, parts: Path) -> list[dict[str, Any]]:
    """Write every table of ``schema`` as ``postgres/<table>.csv``; return the table list.

    One repeatable-read transaction, so the tables agree with each other.
    """
    folder = parts / "postgres"
    folder.mkdir(parents=True)
    listed = []
    with pool.connection() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            for table in table_order(conn, schema):
                cols = columns_of(conn, schema, table)
                query = sql.SQL(
                    "COPY (SELECT {} FROM {}.{}) TO STDOUT (FORMAT csv, HEADER)"
                ).format(
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                    sql.Identifier(schema),
                    sql.Identifier(table),
                )
                with (folder / f"{table}.csv").open("wb") as out, conn.cursor().copy(query) as cp:
                    for chunk in cp:
                        out.write(chunk)
                listed.append({"table": table, "columns": cols})
        finally:
            conn.execute("ROLLBACK")
    return listed


def load_schema(conn: psycopg.Connection, schema: str, parts: Path, tables: Any) -> None:
    """COPY each table's CSV into ``schema`` (in the caller's transaction), then fix sequences."""
    known = set(table_order(conn, schema))
    for entry in tables:
        table, cols = entry.get("table"), entry.get("columns")
        if table not in known or not isinstance(cols, list):
            raise BadPart(f"bundle refused: table {str(table)[:60]!r} is unknown here")
        have = set(columns_of(conn, schema, table))
        if not cols or not set(cols) <= have:
            raise BadPart(f"bundle refused: table {table!r} has columns this version lacks")
        with (parts / "postgres" / f"{table}.csv").open("rb") as f:
            header = f.readline().decode("utf-8", "replace").strip()
            if next(csv.reader([header])) != cols:
                raise BadPart(f"bundle refused: table {table!r} does not match its manifest")
            query = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, cols)),
            )
            with conn.cursor().copy(query) as cp:
                while chunk := f.read(1 << 20):
                    cp.write(chunk)
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND column_default LIKE 'nextval(%%'",
        [schema],
    ).fetchall():
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, %s), m, true) "
                "FROM (SELECT max({}) AS m FROM {}.{}) t WHERE m IS NOT NULL"
            ).format(sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table)),
            [sql.Identifier(schema, table).as_string(conn), column],
        )


# -- Registry rows the space owns -------------------------------------------------------------
def dump_registry(pool: Any, space_id: str) -> dict[str, list[dict[str, Any]]]:
    """Members, monthly usage and usage events of the space."""
    out: dict[str, list[dict[str, Any]]] = {}
    with pool.connection() as conn:
        for table, cols in REGISTRY_TABLES.items():
            cur = conn.execute(
                sql.SQL("SELECT {} FROM {}.{} WHERE space_id = %s ORDER BY 1").format(
                    sql.SQL(", ").join(map(sql.Identifier, cols)), R, sql.Identifier(table)
                ),
                [space_id],
            )
            out[table] = [dict(zip(cols, row, strict=True)) for row in cur]
    return out


def load_registry(
    conn: psycopg.Connection, config: SpaceConfig, rows: Any, *, old_id: str, owner: str
) -> None:
    """Insert the space's registry rows under its (possibly new) id and owner.

    Usage event keys are global, so under a new id they are prefixed by it.
    The owner row exists already (a trigger adds it); another owner's row
    from the bundle keeps its role unless it is the new owner.
    """
    if not isinstance(rows, dict):
        raise BadPart("bundle refused: registry.json is not an object")
    for table, cols in REGISTRY_TABLES.items():
        for row in rows.get(table) or []:
            if not isinstance(row, dict) or set(row) != set(cols):
                raise BadPart(f"bundle refused: a {table} row does not match this version")
            values = dict(row)
            if table == "space_members" and values["user_id"] == owner:
                continue
            if table == "space_usage_events" and config.space_id != old_id:
                values["idempotency_key"] = f"{config.space_id}/{values['idempotency_key']}"
            conn.execute(
                sql.SQL("INSERT INTO {}.{} (space_id, {}) VALUES (%s, {})").format(
                    R, sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                    sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                ),
                [config.space_id, *(values[c] for c in cols)],
            )  # fmt: skip


# -- Memories: vectors and payloads -----------------------------------------------------------
def _memory_table(pool: Any, config: SpaceConfig) -> sql.Identifier | None:
    """The space's pgvector memory table if it has one (else memory is in Qdrant)."""
    with pool.connection() as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [config.postgres_schema, config.mem0_collection_name],
        ).fetchone()
    return sql.Identifier(config.postgres_schema, config.mem0_collection_name) if found else None


def dump_memories(backends: Backends, config: SpaceConfig, out: Path) -> int:
    """Write ``{id, vector, payload[, created_at]}`` lines for every memory; return how many.

    Read from the store directly (Mem0 does not hand vectors out): the
    space's pgvector table (Mem0's layout: ``id``, ``vector``, ``payload``)
    when it has one, else its Qdrant collection.
    """
    table = _memory_table(backends.pool, config)
    count = 0
    with out.open("w", encoding="utf-8") as f:
        for row in _pg_rows(backends, table) if table else _qdrant_rows(backends, config):
            f.write(json.dumps(row, default=str) + "\n")
            count += 1
    return count


def _pg_rows(backends: Backends, table: sql.Identifier) -> Iterator[dict[str, Any]]:
    with backends.pool.connection() as conn, conn.transaction():
        cursor = conn.cursor(name="bundle_memories")
        cursor.execute(
            sql.SQL(
                "SELECT id::text, vector::text, payload, created_at FROM {} ORDER BY id"
            ).format(table)
        )
        for row_id, vector, payload, created_at in cursor:
            yield {"id": row_id, "vector": json.loads(vector), "payload": payload,
                   "created_at": created_at.isoformat()}  # fmt: skip


def _qdrant_rows(backends: Backends, config: SpaceConfig) -> Iterator[dict[str, Any]]:
    with backends.qdrant(config.space_id) as client:
        offset = None
        while True:
            points, offset = client.scroll(
                config.mem0_collection_name, limit=BATCH, offset=offset,
                with_payload=True, with_vectors=True,
            )  # fmt: skip
            for p in points:
                yield {"id": str(p.id), "vector": p.vector, "payload": p.payload}
            if offset is None:
                return


def read_memories(path: Path) -> Iterator[dict[str, Any]]:
    """The memory lines of a bundle, each checked for shape."""
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
            except ValueError:
                raise BadPart(f"bundle refused: memories line {n} is not JSON") from None
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("id"), str)
                or not isinstance(row.get("vector"), list)
                or not all(isinstance(x, int | float) for x in row["vector"])
                or not isinstance(row.get("payload"), dict)
                or not isinstance(row["payload"].get("data"), str)
                or not isinstance(row.get("created_at", ""), str)
            ):
                raise BadPart(f"bundle refused: memories line {n} is not a memory")
            yield row


def load_memories(
    backends: Backends, config: SpaceConfig, rows: list[dict[str, Any]], old_id: str
) -> None:
    """Write the memories into the space's store under its id (ids and vectors kept)."""
    for row in rows:
        payload = row["payload"]
        for key in ("user_id", "space_id"):
            if payload.get(key) == old_id:
                payload[key] = config.space_id
    table = _memory_table(backends.pool, config)
    if table is not None:
        with backends.pool.connection() as conn, conn.transaction():
            copy = sql.SQL("COPY {} (id, vector, payload, created_at) FROM STDIN").format(table)
            with conn.cursor().copy(copy) as cp:
                for r in rows:
                    cp.write_row(
                        (r["id"], json.dumps(r["vector"]), json.dumps(r["payload"]),
                         r.get("created_at") or datetime.now(UTC).isoformat())
                    )  # fmt: skip
        return
    from qdrant_client.models import PointStruct

    with backends.qdrant(config.space_id) as client:
        for start in range(0, len(rows), BATCH):
            client.upsert(
                config.mem0_collection_name,
                points=[
                    PointStruct(id=r["id"], vector=r["vector"], payload=r["payload"])
                    for r in rows[start : start + BATCH]
                ],
            )
