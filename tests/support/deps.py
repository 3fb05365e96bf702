"""Graph dependencies for the tests: one ``Deps`` per distinct settings, one ``Backends`` per home.

A module-level cache rather than a fixture because tests build settings
variants (a fake OpenAI endpoint, private URLs allowed) inside the test
body; the session's ``settings`` fixture closes them all at the end.
"""

from __future__ import annotations

from app.settings import Settings

_deps: dict[Settings, object] = {}


def graph_deps(settings: Settings):
    """Graph dependencies for ``settings``, one per distinct settings in the test session.

    Tests that change a setting (a fake OpenAI endpoint, private URLs allowed)
    get their own ``Deps``; all of them share one ``Backends`` per home, so the
    session does not open two pools per variant (the embedded server allows
    100 connections). Their connections close with the session.
    """
    from app.graphs.deps import Deps
    from app.spaces.infra.backends import Backends

    if settings not in _deps:
        home = (settings.home, settings.database_url, settings.embeddings, settings.qdrant_url)
        shared = next(
            (d.backends for s, d in _deps.items()  # type: ignore[attr-defined]
             if (s.home, s.database_url, s.embeddings, s.qdrant_url) == home),
            None,
        )  # fmt: skip
        _deps[settings] = Deps(settings, shared or Backends(settings))
    return _deps[settings]


def close_graph_deps() -> None:
    """Close every ``Backends`` :func:`graph_deps` opened (once each), and forget them."""
    for made in {id(d.backends): d.backends for d in _deps.values()}.values():  # type: ignore[attr-defined]
        made.close()
    _deps.clear()


def node_scope_for(settings: Settings, space_id: str, thread_id: str, user: str = "alice"):
    """A node's ``Scope`` outside a graph: what a model-calling node would get."""
    from app.graphs.context import RunContext
    from app.graphs.scope import open_scope

    config = {"configurable": {"thread_id": thread_id}, "metadata": {}}
    return open_scope(graph_deps(settings), RunContext(user_id=user), config, space_id)
