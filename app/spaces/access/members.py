"""Members of a space: add, change, remove and list them, each change audited.

Only an admin (``roles.RULE``) manages members. The owner stays an admin:
their row cannot be removed or demoted, so a space always has an admin.
``audited`` is the one wrapper every entry point puts around a write: it
checks the caller's role, runs the write, and appends one audit entry with
the outcome (a refusal is recorded by ``roles.require``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from app.errors import InvalidInput, SpaceNotFound, SpacesError
from app.ids import validate_user_id
from app.spaces.access.roles import Access, Action, R, Role, parse_role, require
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit


@dataclass(frozen=True)
class Member:
    """One member of a space."""

    user_id: str
    role: str
    added_by: str
    added_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The member as JSON."""
        return {
            "user_id": self.user_id,
            "role": self.role,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat(),
        }


@contextmanager
def audited(
    manager: SpaceManager,
    space_id: object,
    user_id: object,
    action: Action,
    event: str,
    *,
    target: str = "",
    request_id: str | None = None,
) -> Iterator[Access]:
    """Check ``user_id`` may do ``action``, run the block, and record ``event`` once.

    The block's one-line error is recorded as a failed entry and raised on.
    """
    access = require(manager, space_id, user_id, action, request_id=request_id)
    entry = {
        "actor": access.user_id, "action": event, "target": target or access.config.space_id,
        "request_id": request_id,
    }  # fmt: skip
    schema, pool = access.config.postgres_schema, manager.backends.pool
    try:
        yield access
    except SpacesError as exc:
        audit.record(pool, schema, **entry, outcome="failed", detail={"error": str(exc)})
        raise
    audit.record(pool, schema, **entry)


def list_members(manager: SpaceManager, space_id: str, actor: str) -> list[Member]:
    """The space's members (any member may read them), admins first."""
    access = require(manager, space_id, actor, Action.READ)
    with manager.backends.pool.connection() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT user_id, role, added_by, added_at FROM {}.space_members "
                "WHERE space_id = %s ORDER BY role = 'admin' DESC, role = 'operator' DESC, user_id"
            ).format(R),
            [access.config.space_id],
        ).fetchall()
    return [Member(*row) for row in rows]


def add_member(
    manager: SpaceManager, space_id: str, actor: str, user_id: str, role: object = "member"
) -> Member:
    """Add ``user_id`` with ``role``, or change the role of a member (admins only)."""
    chosen = parse_role(role)
    user = validate_user_id(user_id)
    with audited(
        manager, space_id, actor, Action.MANAGE_MEMBERS, "member.add", target=user
    ) as access:
        if user == access.config.owner_id and chosen is not Role.ADMIN:
            raise InvalidInput(f"{user!r} owns space {space_id!r} and stays an admin")
        with manager.backends.pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {}.space_members (space_id, user_id, role, added_by) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (space_id, user_id) DO UPDATE "
                    "SET role = EXCLUDED.role RETURNING user_id, role, added_by, added_at"
                ).format(R),
                [space_id, user, chosen.value, access.user_id],
            ).fetchone()
    return Member(*row)


def remove_member(manager: SpaceManager, space_id: str, actor: str, user_id: str) -> None:
    """Remove ``user_id`` from the space (admins only); their access ends at once."""
    user = validate_user_id(user_id)
    with audited(
        manager, space_id, actor, Action.MANAGE_MEMBERS, "member.remove", target=user
    ) as access:
        if user == access.config.owner_id:
            raise InvalidInput(f"{user!r} owns space {space_id!r} and cannot be removed")
        with manager.backends.pool.connection() as conn:
            gone = conn.execute(
                sql.SQL("DELETE FROM {}.space_members WHERE space_id = %s AND user_id = %s").format(
                    R
                ),
                [space_id, user],
            ).rowcount
        if not gone:
            raise SpaceNotFound(f"{user!r} is not a member of space {space_id!r}")


def record_creation(manager: SpaceManager, config: SpaceConfig) -> None:
    """The first entry of a new space's audit log: its owner created it."""
    audit.record(
        manager.backends.pool, config.postgres_schema, actor=config.owner_id,
        action="space.create", target=config.space_id,
    )  # fmt: skip
