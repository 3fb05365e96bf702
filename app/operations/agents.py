"""A space's personal agents and chat sessions: any member reads; operators and admins manage.

Creating, updating and deleting an agent need ``Action.MANAGE_AGENTS`` on
an active space and are audited (``agent.create``, ``agent.update``,
``agent.delete``, target: the agent's name). An agent's own context (its
interactions in the space's memory) is opened as for a run. Sessions are
per user: a session of someone else answers like one that does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.operations.access import for_runs
from app.spaces.access.members import audited
from app.spaces.access.roles import Action, require
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.agents import Agent, AgentStore
from app.spaces.stores.chat_store import ChatStore, check_session
from app.spaces.stores.handle import SpaceHandle
from app.spaces.stores.run_records import register_thread

if TYPE_CHECKING:  # the chat package loads LangGraph and pandas: not for every CLI start
    from app.graphs.chat.agent_context import AgentContext

MANAGE = Action.MANAGE_AGENTS


def _read(manager: SpaceManager, space_id: str, actor: str) -> SpaceHandle:
    require(manager, space_id, actor, Action.READ)
    return manager.open_space(space_id)


def list_agents(
    manager: SpaceManager, space_id: str, actor: str, *, include_deleted: bool = False
) -> list[Agent]:
    """The space's agents (current versions)."""
    return AgentStore(_read(manager, space_id, actor)).list(include_deleted=include_deleted)


def show_agent(
    manager: SpaceManager, space_id: str, actor: str, name: str, version: int | None = None
) -> Agent:
    """An agent's current config, or one of its versions (deleted agents stay readable)."""
    return AgentStore(_read(manager, space_id, actor)).get(name, version, include_deleted=True)


def agent_versions(manager: SpaceManager, space_id: str, actor: str, name: str) -> list[Agent]:
    """Every version of an agent, oldest first."""
    return AgentStore(_read(manager, space_id, actor)).versions(name)


def create_agent(
    manager: SpaceManager, space_id: str, actor: str, name: str, *, system_prompt: str,
    model: str | None = None, tools: list[str] | None = None, concurrency_limit: int = 1,
) -> Agent:  # fmt: skip
    """Create an agent (version 1); with no model it takes the space's preferred one."""
    with audited(manager, space_id, actor, MANAGE, "agent.create", target=name):
        store = AgentStore(manager.open_space(space_id, write=True))
        return store.create(
            name, system_prompt=system_prompt, model=model, user_id=actor,
            tools=tools or [], concurrency_limit=concurrency_limit,
        )  # fmt: skip


def update_agent(
    manager: SpaceManager, space_id: str, actor: str, name: str, **changes: object
) -> Agent:
    """A new version of the agent with the fields given (``None`` keeps a field)."""
    with audited(manager, space_id, actor, MANAGE, "agent.update", target=name):
        store = AgentStore(manager.open_space(space_id, write=True))
        return store.update(name, user_id=actor, **changes)


def delete_agent(manager: SpaceManager, space_id: str, actor: str, name: str) -> Agent:
    """Soft-delete the agent: its versions and sessions stay readable."""
    with audited(manager, space_id, actor, MANAGE, "agent.delete", target=name):
        return AgentStore(manager.open_space(space_id, write=True)).delete(name)


def agent_context(manager: SpaceManager, space_id: str, actor: str, name: str) -> AgentContext:
    """An agent's own context in the space's memory (stats, export, clear, prune)."""
    from app.graphs.chat.agent_context import AgentContext

    space = for_runs(manager, space_id, actor)
    agent = AgentStore(space).get(name, include_deleted=True)
    return AgentContext(space, agent.name)


def list_sessions(manager: SpaceManager, space_id: str, actor: str) -> list[dict[str, Any]]:
    """The actor's own sessions in the space, newest first."""
    return ChatStore(_read(manager, space_id, actor).postgres).sessions(actor)


def open_session(
    manager: SpaceManager, space_id: str, actor: str, session_id: str
) -> dict[str, Any]:
    """Record ``session_id`` (a new ``chat`` thread) as the actor's session; the session.

    Starting a session is starting a run: ``Action.RUN`` on an active space.
    """
    space = for_runs(manager, space_id, actor)
    register_thread(manager.backends.pool, session_id, space_id, actor, "chat")
    return ChatStore(space.postgres).open_session(session_id, actor)


def own_session(manager: SpaceManager, space_id: str, actor: str, session_id: str) -> SpaceHandle:
    """The space, once ``session_id`` is known to be the actor's session in it (else 404)."""
    space = _read(manager, space_id, actor)
    check_session(manager.backends.pool, space_id, actor, session_id)
    return space


def session_detail(
    manager: SpaceManager, space_id: str, actor: str, session_id: str
) -> dict[str, Any]:
    """One of the actor's sessions: its messages, tasks and archived turns."""
    space = own_session(manager, space_id, actor, session_id)
    return ChatStore(space.postgres).session_detail(session_id, actor)
