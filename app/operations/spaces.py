"""Spaces themselves: create, list, show, archive, activate, usage, settings, audit log.

Creating a space records its creation in the new space's audit log; the
caller becomes its owner and admin. Archive and activate are admin writes,
audited. ``update_space`` (budgets and model) is the one in
``access/space_settings.py``, which audits each kind of change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.spaces.access.members import audited, record_creation
from app.spaces.access.roles import Action, Role, require, spaces_of
from app.spaces.access.space_settings import update_space
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit

AUDIT_READ_MAX = audit.READ_MAX
__all__ = [
    "AUDIT_READ_MAX",
    "activate_space",
    "archive_space",
    "audit_log",
    "create_space",
    "member_spaces",
    "show_space",
    "space_usage",
    "update_space",
]


def create_space(manager: SpaceManager, config: SpaceConfig) -> SpaceConfig:
    """Create and provision the space owned by ``config.owner_id``, and audit its creation."""
    created = manager.create_space(config)
    record_creation(manager, created)
    return created


def member_spaces(manager: SpaceManager, user: str) -> list[tuple[SpaceConfig, Role]]:
    """The spaces ``user`` is a member of, each with their role."""
    return spaces_of(manager, user)


def show_space(manager: SpaceManager, space_id: object, actor: str) -> SpaceConfig:
    """One space, for any member."""
    return require(manager, space_id, actor, Action.READ).config


def archive_space(manager: SpaceManager, space_id: str, actor: str) -> SpaceConfig:
    """Archive the space (admins): read-only from now on."""
    with audited(manager, space_id, actor, Action.ARCHIVE, "space.archive", target=space_id):
        return manager.archive_space(space_id)


def activate_space(manager: SpaceManager, space_id: str, actor: str) -> SpaceConfig:
    """Bring an archived space back (admins)."""
    with audited(manager, space_id, actor, Action.ARCHIVE, "space.activate", target=space_id):
        return manager.activate_space(space_id)


def space_usage(manager: SpaceManager, space_id: object, actor: str) -> dict[str, Any]:
    """This month's usage against the budget, for any member."""
    config = require(manager, space_id, actor, Action.READ).config
    return manager.get_usage(config.space_id).document(config)


def audit_log(
    manager: SpaceManager,
    space_id: object,
    actor: str,
    *,
    since: str | None = None,
    by: str | None = None,
    limit: int = 1_000,
    newest: bool = False,
) -> list[audit.AuditEntry]:
    """The space's audit log in time order (admins), from ``since``, by the user ``by``.

    ``newest`` keeps the newest ``limit`` entries rather than the oldest.
    """
    when: datetime | None = audit.parse_since(since)
    access = require(manager, space_id, actor, Action.READ_AUDIT)
    return audit.read(
        manager.backends.pool, access.config.postgres_schema,
        since=when, actor=by, limit=limit, newest=newest,
    )  # fmt: skip
