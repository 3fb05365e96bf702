"""Fixtures of the server tests: each real server (``langgraph dev`` and Aegra) per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from tests.support.aegraserver import start_aegra, stop_aegra
from tests.support.devserver import start_dev_server
from tests.support.served import SECRET
from tests.support.settings import make_settings


@pytest.fixture(scope="module", params=["langgraph-dev", "aegra"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Each server on free loopback ports, with its own embedded services.

    ``langgraph dev`` runs in its temporary home with the project's
    ``langgraph.json`` named by absolute path (it used to resolve the auth
    path against the working folder); Aegra through ``spaces serve``.
    """
    home = tmp_path_factory.mktemp("served")
    if request.param == "aegra":
        url = start_aegra(home, SECRET)[0]
        yield url
        stop_aegra(home, SECRET)
        return
    url, proc = start_dev_server(home, SECRET)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    settings = make_settings(home)
    stop_graph_server(settings)
    stop_postgres(settings)
