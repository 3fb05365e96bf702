"""The role check for entry points whose action is carried out elsewhere.

Runs and chat turns are carried out by the graphs (which check again on
every node); the entry points that start, answer or list them ask here
first, so a refusal is the same one line and audit entry as for every
other operation.
"""

from __future__ import annotations

from app.spaces.access.roles import Access, Action, allowed, require, role_of, spaces_of
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.handle import SpaceHandle

__all__ = ["Access", "Action", "allowed", "check", "for_runs", "role_of", "spaces_of"]


def check(manager: SpaceManager, space_id: object, user: object, action: Action) -> Access:
    """``user``'s access to the space if their role allows ``action``; one line otherwise.

    A non-member is told the space does not exist; a refusal is audited.
    """
    return require(manager, space_id, user, action)


def for_runs(manager: SpaceManager, space_id: object, user: str) -> SpaceHandle:
    """The space opened for runs as ``user`` (``Action.RUN``, active spaces only).

    The graphs' own admission check; imported here, not at the top, because
    the graphs load LangGraph, which a CLI command that runs nothing skips.
    """
    from app.graphs.admission import authorize
    from app.graphs.context import RunContext

    return authorize(manager, RunContext(user_id=user), space_id)
