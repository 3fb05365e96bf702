"""Building the served graphs touches no store: LangGraph inspects node closures at compile time."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.settings import ROOT


def test_importing_the_served_graphs_starts_no_service(tmp_path) -> None:
    """LangGraph reads attribute chains of a node's nonlocals when it compiles; a node
    that named ``deps.backends.pool`` started the embedded Postgres in the working
    folder of whoever imported the module (a server, a test collection)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPACES_HOME": str(tmp_path / "home")}
    code = (
        "import app.graphs.served as s, app.server.served as r\n"
        "from app.graphs.deps import Deps\n"
        "import app.graphs.rpi.graph as a, app.graphs.research.graph as b\n"
        "import app.graphs.chat.graph as c\n"
        "assert r.app.state.deps is Deps.served()\n"
        "assert not any(hasattr(m, 'graph') for m in (a, b, c))  # built in served.py only\n"
        "print(s.rpi.name, s.research.name, s.chat.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["rpi", "research", "chat"]
    assert not (tmp_path / "home").exists() and not (tmp_path / ".spaces").exists()


def test_a_server_process_opens_one_set_of_connections(tmp_path) -> None:
    """The served graphs and the REST routes share one ``Deps`` (one pool), built once."""
    code = (
        "import app.spaces.infra.backends as b\n"
        "made = []\n"
        "init = b.Backends.__init__\n"
        "b.Backends.__init__ = lambda self, s: (made.append(1), init(self, s))[1]\n"
        "import app.graphs.served, app.server.served\n"
        "print(len(made))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPACES_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
