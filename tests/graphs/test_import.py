"""Building the served graphs touches no store: LangGraph inspects node closures at compile time."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_importing_the_served_graphs_starts_no_service(tmp_path) -> None:
    """LangGraph reads attribute chains of a node's nonlocals when it compiles; a node
    that named ``deps.backends.pool`` started the embedded Postgres in the working
    folder of whoever imported the module (a server, a test collection)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPACES_HOME": str(tmp_path / "home")}
    modules = "app.graphs.rpi.graph, app.graphs.research.graph, app.graphs.chat.graph"
    done = subprocess.run(
        [sys.executable, "-c", f"import {modules}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "home").exists() and not (tmp_path / ".spaces").exists()
