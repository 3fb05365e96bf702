"""Shared fixtures: one set of real embedded services for the whole test session.

Every test gets fresh space ids, so tests never see each other's spaces even
though they share the servers. The services are stopped at the end. Helpers
that are not fixtures live in ``tests/support``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.deps import close_graph_deps
from tests.support.settings import make_settings
from tests.support.site import local_site

_counter = itertools.count()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose embedded services live in a session temp folder."""
    s = make_settings(tmp_path_factory.mktemp("spaces-home"))
    yield s
    close_graph_deps()
    stop_graph_server(s)
    stop_postgres(s)


@pytest.fixture(scope="session")
def manager(settings: Settings) -> Iterator[SpaceManager]:
    """A manager on the session's services."""
    with SpaceManager(settings) as m:
        yield m


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


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    """A local page, and the list of paths it was asked for."""
    with local_site() as page:
        yield page
