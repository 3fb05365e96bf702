"""Connections shared by the runs of one process, keyed by their settings.

Graph nodes are plain functions that LangGraph may call from any thread; they
reach the stores through the ``Backends`` for their run's settings, opened
once per process and settings. This is a connection cache, not a "current
space": which space a node touches always comes from its run's state, and
which user from its runtime context.
"""

from __future__ import annotations

import functools
import threading

from app.graphs.context import RunContext
from app.settings import Settings
from app.spaces.backends import Backends
from app.spaces.space_manager import SpaceManager

_lock = threading.Lock()
_backends: dict[Settings, Backends] = {}


@functools.cache
def _env_settings() -> Settings:
    return Settings.from_env()


def settings_of(context: RunContext) -> Settings:
    """The run's settings: its own, else the process environment's."""
    return context.settings or _env_settings()


def backends_for(settings: Settings) -> Backends:
    """The process's ``Backends`` for ``settings`` (opened on first use)."""
    with _lock:
        if settings not in _backends:
            _backends[settings] = Backends(settings)
        return _backends[settings]


def manager_for(context: RunContext) -> SpaceManager:
    """A ``SpaceManager`` on the shared connections of the run's settings."""
    settings = settings_of(context)
    return SpaceManager(settings, backends_for(settings))
