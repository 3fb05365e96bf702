"""Shared fixtures: one set of real embedded services for the whole test session.

Every test gets fresh space ids, so tests never see each other's spaces even
though they share the servers. The services are stopped at the end.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager

_counter = itertools.count()
ROOT = Path(__file__).resolve().parent.parent


def make_settings(home: Path, **env: str) -> Settings:
    """Settings for ``home`` with no external URLs, plus ``env`` overrides."""
    base = {"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "vaults")}
    return Settings.from_env({**base, **env})


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose embedded services live in a session temp folder."""
    s = make_settings(tmp_path_factory.mktemp("spaces-home"))
    yield s
    for made in {id(d.backends): d.backends for d in _deps.values()}.values():  # type: ignore[attr-defined]
        made.close()
    _deps.clear()
    stop_graph_server(s)
    stop_postgres(s)


@pytest.fixture(scope="session")
def manager(settings: Settings) -> Iterator[SpaceManager]:
    """A manager on the session's services."""
    with SpaceManager(settings) as m:
        yield m


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


def node_scope_for(settings: Settings, space_id: str, thread_id: str, user: str = "alice"):
    """A node's ``Scope`` outside a graph: what a model-calling node would get."""
    from app.graphs.context import RunContext
    from app.graphs.scope import open_scope

    config = {"configurable": {"thread_id": thread_id}, "metadata": {}}
    return open_scope(graph_deps(settings), RunContext(user_id=user), config, space_id)


@pytest.fixture(scope="session")
def deps(settings: Settings, manager: SpaceManager):
    """Graph dependencies on the session's services, sharing the manager's connections."""
    from app.graphs.deps import Deps

    return Deps(settings, manager.backends)


@pytest.fixture
def new_id() -> Iterator[object]:
    """Factory of space ids unique within the session."""
    pid = os.getpid()
    yield lambda prefix="s": f"{prefix}_{pid}_{next(_counter)}"


@pytest.fixture
def space(manager: SpaceManager, new_id) -> SpaceConfig:
    """A freshly created active space."""
    return manager.create_space(SpaceConfig(new_id(), "Test space", "alice"))


def run_cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``spaces`` in a subprocess against ``settings``' home."""
    full_env = {
        **os.environ,
        "SPACES_HOME": str(settings.home),
        "SPACES_VAULTS_DIR": str(settings.vaults_dir),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,  # never a terminal: the CLI must not prompt
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=120,
    )
