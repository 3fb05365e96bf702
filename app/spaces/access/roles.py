"""The one rule for who may do what in a space: roles, actions, and the check.

A space has members, each with one role; the owner is an ``admin`` (a
registry trigger adds that row with the space). ``RULE`` below is the only
place that says which role allows which action, and every entry point asks
it through ``require``: the CLI with ``--user``, the ``/my/`` REST routes,
the graphs (``admission.authorize`` on every node, approvals at resume time
against the resuming user) and ``GET /my/spaces/{id}/runs`` on the server.
Membership is read on every check, so a removed
member loses access at once, including to a run waiting for an approval.

A user who is not a member is told the space does not exist, exactly as for
a space that does not exist; a member whose role is too low is told which
role they have. Both refusals are written to the space's audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from app.errors import InvalidInput, PermissionDenied, SpaceNotFound
from app.ids import validate_space_id, validate_user_id
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig, config_from_row
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit

R = sql.Identifier(REGISTRY_SCHEMA)


class Role(StrEnum):
    """A member's role, from least to most allowed."""

    MEMBER = "member"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(StrEnum):
    """Everything an entry point may ask to do in a space."""

    READ = "read"  # the space, its runs, objects, usage and members
    RUN = "run"  # start runs and chats (and continue one's own after a crash)
    APPROVE = "approve"  # answer plan and tool approvals
    MANAGE_OBJECTS = "manage_objects"
    MANAGE_AGENTS = "manage_agents"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_BUDGET = "manage_budget"
    SET_MODEL = "set_model"
    ARCHIVE = "archive"  # archive or activate
    READ_AUDIT = "read_audit"
    EXPORT = "export"


_MEMBER = {Action.READ, Action.RUN}
_OPERATOR = _MEMBER | {Action.APPROVE, Action.MANAGE_OBJECTS, Action.MANAGE_AGENTS}
RULE: dict[Role, frozenset[Action]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.ADMIN: frozenset(Action),
}


def allowed(role: Role | str | None, action: Action | str) -> bool:
    """Whether ``role`` may do ``action`` (no role: nothing)."""
    if role is None:
        return False
    return Action(action) in RULE[Role(role)]


def parse_role(value: object) -> Role:
    """A role from text, or one error line."""
    try:
        return Role(str(value))
    except ValueError:
        raise InvalidInput(
            f"unknown role {str(value)[:40]!r}: use member, operator or admin"
        ) from None


@dataclass(frozen=True)
class Access:
    """A space as seen by one user: its config and the user's role."""

    config: SpaceConfig
    user_id: str
    role: Role


def lookup(pool: ConnectionPool, space_id: str, user_id: str) -> tuple[SpaceConfig, Role | None]:
    """The space's config and ``user_id``'s role in it (``None``: not a member); one read."""
    validate_space_id(space_id)
    validate_user_id(user_id)
    with pool.connection() as conn:
        row = (
            conn.cursor(row_factory=dict_row)
            .execute(
                sql.SQL(
                    "SELECT s.config, s.status, s.created_at, m.role FROM {r}.spaces s "
                    "LEFT JOIN {r}.space_members m "
                    "ON m.space_id = s.space_id AND m.user_id = %s WHERE s.space_id = %s"
                ).format(r=R),
                [user_id, space_id],
                prepare=True,
            )
            .fetchone()
        )
    if row is None:
        raise SpaceNotFound(f"no space {space_id!r}")
    return config_from_row(row), Role(row["role"]) if row["role"] else None


def require(
    manager: SpaceManager,
    space_id: object,
    user_id: object,
    action: Action,
    *,
    request_id: str | None = None,
    key: str | None = None,
) -> Access:
    """The user's access to the space if their role allows ``action``; refuse otherwise.

    A non-member gets "no space" (as for a space that does not exist); a
    member whose role is too low gets ``PermissionDenied``. Each refusal is
    one audit entry (``key`` makes it once per run when a graph re-checks).
    """
    if not isinstance(space_id, str):
        raise InvalidInput("space_id must be text")
    user = validate_user_id(user_id)
    config, role = lookup(manager.backends.pool, space_id, user)
    if allowed(role, action):
        return Access(config, user, role)  # type: ignore[arg-type]
    audit.record(
        manager.backends.pool, config.postgres_schema, actor=user, action=f"access.{action}",
        target=space_id, outcome="refused", request_id=request_id,
        detail={"role": role.value if role else None}, key=key,
    )  # fmt: skip
    if role is None:
        raise SpaceNotFound(f"no space {space_id!r}")
    raise PermissionDenied(
        f"user {user!r} is a {role.value} of space {space_id!r}: a {role.value} may not "
        f"{action.value.replace('_', ' ')}"
    )


def role_of(pool: ConnectionPool, space_id: str, user_id: str) -> Role | None:
    """``user_id``'s role in ``space_id``, or ``None``."""
    return lookup(pool, space_id, user_id)[1]


def spaces_of(manager: SpaceManager, user_id: str) -> list[tuple[SpaceConfig, Role]]:
    """Every space ``user_id`` is a member of, with their role: active first, then by id."""
    validate_user_id(user_id)
    with manager.backends.pool.connection() as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                sql.SQL(
                    "SELECT s.config, s.status, s.created_at, m.role FROM {r}.spaces s "
                    "JOIN {r}.space_members m ON m.space_id = s.space_id "
                    "WHERE m.user_id = %s ORDER BY s.status = 'archived', s.space_id"
                ).format(r=R),
                [user_id],
            )
            .fetchall()
        )
    return [(config_from_row(r), Role(r["role"])) for r in rows]
