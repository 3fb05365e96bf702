"""Budgets and the preferred model of a space: changed by admins only, each change audited.

``update_space`` checks the acting user's role with the one rule
(``roles.RULE``: ``manage_budget`` for budgets, ``set_model`` for the
model), validates the new values as a whole ``SpaceConfig`` (the same
checks as at creation) and writes the registry's config in one statement.
One audit entry per kind of change: ``space.budget`` and ``space.model``.
"""

from __future__ import annotations

import dataclasses
import json

from psycopg import sql

from app.errors import InvalidInput
from app.llm.names import model_names
from app.spaces.access.members import audited
from app.spaces.access.roles import Action, R
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager


def _write(manager: SpaceManager, config: SpaceConfig) -> None:
    with manager.backends.pool.connection() as conn:
        conn.execute(
            sql.SQL("UPDATE {}.spaces SET config = %s WHERE space_id = %s").format(R),
            [json.dumps(config.stored_config()), config.space_id],
        )


def update_space(
    manager: SpaceManager,
    space_id: str,
    actor: str,
    *,
    token_budget: int | None = None,
    api_call_budget: int | None = None,
    model: str | None = None,
) -> SpaceConfig:
    """Change the space's monthly budgets and/or preferred model; return the new config."""
    budgets = {
        k: v
        for k, v in (("monthly_token_budget", token_budget), ("monthly_api_calls", api_call_budget))
        if v is not None
    }
    if not budgets and model is None:
        raise InvalidInput("nothing to change: give --token-budget, --api-call-budget or --model")
    config = manager.get_space(space_id)
    if budgets:
        with audited(
            manager, space_id, actor, Action.MANAGE_BUDGET, "space.budget", target=space_id
        ):
            config = dataclasses.replace(config, **budgets)
            _write(manager, config)
    if model is not None:
        with audited(manager, space_id, actor, Action.SET_MODEL, "space.model", target=model):
            model_names(model)  # an unknown name is refused now, not at the next run
            config = dataclasses.replace(config, preferred_model=model)
            _write(manager, config)
    return manager.get_space(space_id)
