"""The connections of an entry point, opened with the start-up steps done.

An entry point that opens stores (a CLI command through its ``SpaceManager``,
a server process or a ``Runner`` through ``Deps``) gets its ``Backends``
here, never by building one itself, so every one of them runs the same
steps before its first use of a store. Today there is one step: memories of
spaces made before pgvector memory are moved out of qdrant-client's local
folders (``legacy.memory_migrate``). It costs one directory listing when
there is nothing to move, and opens no connection then.
"""

from __future__ import annotations

from app.settings import Settings
from app.spaces.infra.backends import Backends
from app.spaces.legacy.memory_migrate import migrate_legacy_memory


def start_up(backends: Backends) -> None:
    """Run the start-up steps on ``backends`` (each does nothing when it has nothing to do)."""
    migrate_legacy_memory(backends)


def open_backends(settings: Settings) -> Backends:
    """New ``Backends`` for ``settings``, with the start-up steps run on them."""
    backends = Backends(settings)
    try:
        start_up(backends)
    except BaseException:
        backends.close()
        raise
    return backends
