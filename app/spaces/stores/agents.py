"""Personal agents: a space's own team, stored with versions in the space's schema.

A space is one user's isolated team, so its agents live in its Postgres
schema (reached only through the space's ``SpacePostgres``, whose
``search_path`` is that schema) and can never be named from another space.
Every update appends a version; old versions stay readable. An agent's id
carries its version, as the seed's ``user{id}_{name}_{version}`` does:
``{space_id}_{name}_{version}``. Delete is soft: the current version is
marked deleted, so sessions that used the agent still show who answered.
``status`` (ready, busy, error) is the agent's live state, not a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.errors import InvalidInput, SpaceNotFound
from app.ids import validate_agent_name
from app.llm.names import model_names
from app.spaces.model.space_model import _check_text
from app.spaces.stores.handle import SpaceHandle

PROMPT_MAX = 8_000
CONCURRENCY_MAX = 3  # the seed's limit on tasks running at once
AGENTS_MAX = 50
STATUSES = ("ready", "busy", "error")
# The project's tool registry an agent may choose from (implemented in app/graphs/chat/tools.py).
AGENT_TOOLS = (
    "vault_search",
    "vault_read",
    "write_note",
    "recall",
    "graph_query",
    "data_stats",
    "http_get",
)
_COLUMNS = sql.SQL(
    "name, version, agent_id, system_prompt, model, tools, concurrency_limit, status, "
    "created_by, created_at, deleted_at"
)


@dataclass(frozen=True)
class Agent:
    """One version of an agent's config (the newest is the agent's current config)."""

    name: str
    version: int
    agent_id: str
    system_prompt: str
    model: str
    tools: list[str]
    concurrency_limit: int
    status: str
    created_by: str
    created_at: datetime
    deleted_at: datetime | None

    @property
    def deleted(self) -> bool:
        """Soft-deleted: readable, but no longer called."""
        return self.deleted_at is not None

    def to_json(self) -> dict[str, Any]:
        """The agent as JSON-ready values."""
        return {
            "name": self.name,
            "version": self.version,
            "agent_id": self.agent_id,
            "system_prompt": self.system_prompt,
            "model": self.model,
            "tools": list(self.tools),
            "concurrency_limit": self.concurrency_limit,
            "status": self.status,
            "deleted": self.deleted,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
        }


def check_config(
    system_prompt: object, model: object, tools: object, concurrency_limit: object
) -> tuple[str, str, list[str], int]:
    """The config's fields, checked; ``InvalidInput`` names the first bad one."""
    prompt = _check_text("system_prompt", system_prompt, PROMPT_MAX, required=True)
    if not isinstance(model, str):
        raise InvalidInput("model must be text")
    model_names(model)
    if not isinstance(tools, list | tuple) or not all(isinstance(t, str) for t in tools):
        raise InvalidInput("tools must be a list of tool names")
    unknown = [t for t in tools if t not in AGENT_TOOLS]
    if unknown:
        raise InvalidInput(f"unknown tool {unknown[0]!r}: choose from {', '.join(AGENT_TOOLS)}")
    if (
        isinstance(concurrency_limit, bool)
        or not isinstance(concurrency_limit, int)
        or not 1 <= concurrency_limit <= CONCURRENCY_MAX
    ):
        raise InvalidInput(f"concurrency_limit must be a whole number from 1 to {CONCURRENCY_MAX}")
    return prompt, model, list(dict.fromkeys(tools)), concurrency_limit


class AgentStore:
    """Create, read, version and soft-delete the agents of one (authorized) space."""

    def __init__(self, space: SpaceHandle):
        self.space = space
        self.pg = space.postgres

    def _agent_id(self, name: str, version: int) -> str:
        return f"{self.space.config.space_id}_{name}_{version}"

    def _rows(self, where: sql.Composable, params: list[Any]) -> list[Agent]:
        query = sql.SQL("SELECT {} FROM agents WHERE {} ORDER BY name, version").format(
            _COLUMNS, where
        )
        with self.pg.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return [Agent(**row) for row in cur.execute(query, params).fetchall()]

    def _latest(self, conn: Any, name: str) -> dict[str, Any] | None:
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                sql.SQL(
                    "SELECT {} FROM agents WHERE name = %s ORDER BY version DESC LIMIT 1 FOR UPDATE"
                ).format(_COLUMNS),
                [name],
            ).fetchone()

    def _insert(self, conn: Any, version: int, name: str, fields: tuple, user_id: str) -> None:
        prompt, model, tools, limit = fields
        conn.execute(
            "INSERT INTO agents (name, version, agent_id, system_prompt, model, tools, "
            "concurrency_limit, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [name, version, self._agent_id(name, version), prompt, model, Jsonb(tools), limit,
             user_id],
        )  # fmt: skip

    def create(
        self,
        name: str,
        *,
        system_prompt: object,
        model: object = None,
        user_id: str,
        tools: object = (),
        concurrency_limit: object = 1,
    ) -> Agent:
        """Create an agent (version 1, or the next version of a deleted agent's name).

        Without ``model`` the agent gets the space's model
        (``SpaceHandle.default_model``), as a run in the space would.
        """
        validate_agent_name(name)
        if model is None:
            model = self.space.default_model
        fields = check_config(system_prompt, model, list(tools or []), concurrency_limit)
        with self.pg.connection() as conn, conn.transaction():
            lock = f"spaces-agents:{self.pg.schema}"  # one space's creations, one at a time
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [lock])
            latest = self._latest(conn, name)
            if latest is not None and latest["deleted_at"] is None:
                raise InvalidInput(f"agent {name!r} already exists: update it instead")
            live = conn.execute(
                "SELECT count(DISTINCT name) FROM agents a WHERE deleted_at IS NULL AND "
                "version = (SELECT max(version) FROM agents b WHERE b.name = a.name)"
            ).fetchone()[0]
            if live >= AGENTS_MAX:
                raise InvalidInput(f"a space has at most {AGENTS_MAX} agents")
            version = 1 if latest is None else latest["version"] + 1
            self._insert(conn, version, name, fields, user_id)
        return self.get(name)

    def update(self, name: str, *, user_id: str, **changes: object) -> Agent:
        """A new version with ``changes`` (system_prompt, model, tools, concurrency_limit)."""
        validate_agent_name(name)
        allowed = {"system_prompt", "model", "tools", "concurrency_limit"}
        extra = sorted(set(changes) - allowed)
        if extra:
            raise InvalidInput(f"cannot update {extra[0]!r}: use {', '.join(sorted(allowed))}")
        with self.pg.connection() as conn, conn.transaction():
            latest = self._latest(conn, name)
            if latest is None or latest["deleted_at"] is not None:
                raise SpaceNotFound(f"no agent {name!r}")
            merged = {k: latest[k] for k in allowed} | {
                k: v for k, v in changes.items() if v is not None
            }
            fields = check_config(
                merged["system_prompt"], merged["model"], merged["tools"],
                merged["concurrency_limit"],
            )  # fmt: skip
            self._insert(conn, latest["version"] + 1, name, fields, user_id)
        return self.get(name)

    def delete(self, name: str) -> Agent:
        """Soft-delete the agent: its versions stay readable, it is no longer called."""
        validate_agent_name(name)
        with self.pg.connection() as conn, conn.transaction():
            latest = self._latest(conn, name)
            if latest is None or latest["deleted_at"] is not None:
                raise SpaceNotFound(f"no agent {name!r}")
            conn.execute(
                "UPDATE agents SET deleted_at = now() WHERE name = %s AND version = %s",
                [name, latest["version"]],
            )
        return self.get(name, include_deleted=True)

    def get(self, name: str, version: int | None = None, *, include_deleted: bool = False) -> Agent:
        """The agent's current config, or one version (any version stays readable)."""
        validate_agent_name(name)
        found = self._rows(sql.SQL("name = %s"), [name])
        if version is not None:
            found = [a for a in found if a.version == version]
            if not found:
                raise SpaceNotFound(f"agent {name!r} has no version {version}")
            return found[0]
        if not found or (found[-1].deleted and not include_deleted):
            raise SpaceNotFound(f"no agent {name!r}")
        return found[-1]

    def by_id(self, agent_id: str) -> Agent | None:
        """The version an agent id names, if it is one of this space's."""
        found = self._rows(sql.SQL("agent_id = %s"), [agent_id])
        return found[0] if found else None

    def versions(self, name: str) -> list[Agent]:
        """Every version of the agent, oldest first (deleted agents included)."""
        validate_agent_name(name)
        found = self._rows(sql.SQL("name = %s"), [name])
        if not found:
            raise SpaceNotFound(f"no agent {name!r}")
        return found

    def list(self, *, include_deleted: bool = False) -> list[Agent]:
        """The current version of every agent, by name."""
        latest: dict[str, Agent] = {}
        for agent in self._rows(sql.SQL("TRUE"), []):
            latest[agent.name] = agent
        return [a for a in latest.values() if include_deleted or not a.deleted]

    def set_status(self, name: str, status: str) -> bool:
        """Set the agent's live status; return whether it changed."""
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        with self.pg.connection() as conn:
            changed = conn.execute(
                "UPDATE agents SET status = %s WHERE name = %s AND status <> %s AND version = "
                "(SELECT max(version) FROM agents WHERE name = %s)",
                [status, name, status, name],
            ).rowcount
        return bool(changed)
