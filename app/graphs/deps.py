"""What a graph needs from outside a run, handed to its factory: settings and connections.

``build_rpi(deps)`` and ``build_research(deps)`` close their nodes over one
``Deps``; nothing is looked up in a module-level cache. The graphs that
``langgraph.json`` serves are built once, at import, from the process
environment (``Deps.from_env``); the CLI, notebooks and tests build their own
from their own ``Settings``. Connections open lazily, so building is cheap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from app.settings import Settings
from app.spaces.infra.backends import Backends
from app.spaces.space_manager import SpaceManager
from app.spaces.startup import open_backends


@dataclass(frozen=True)
class Deps:
    """Settings plus the connections every run of these graphs shares."""

    settings: Settings
    backends: Backends

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        """Dependencies on ``settings``' stores (connections open on first use).

        An entry point's connections: the start-up steps run first (``open_backends``).
        """
        return cls(settings, open_backends(settings))

    @classmethod
    def from_env(cls) -> Deps:
        """Dependencies read from the environment (a new set of connections each call)."""
        return cls.from_settings(Settings.from_env())

    @staticmethod
    @functools.cache
    def served() -> Deps:
        """The one ``Deps`` of a server process: its graphs and its REST routes share it.

        Built on first use, so importing a graph module opens nothing; shared,
        so a server holds one Postgres pool, not one per graph.
        """
        return Deps.from_settings(Settings.served())

    def manager(self) -> SpaceManager:
        """A ``SpaceManager`` on these connections (it does not own them)."""
        return SpaceManager(self.settings, self.backends)
